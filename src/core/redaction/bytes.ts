/** Bytes as the scanner reads them: folded to ASCII, read as text, joined, and their lines counted. */
import { concatBytes } from "../../codec/streams.ts";

export const EMPTY = new Uint8Array(0);

const utf8 = new TextDecoder();

/**
 * The block as text with one character per byte. Most logs are ASCII, which the UTF-8 decoder
 * reads fastest; when the text it gives is shorter than the bytes (multi-byte characters), the
 * block is read again with its non-ASCII bytes folded (see scanner.ts).
 */
export function readAsText(block: Uint8Array, decoder: TextDecoder): string {
  const text = utf8.decode(block);
  return text.length === block.length ? text : decoder.decode(foldToAscii(block));
}

/** `bytes` with every byte above 0x7F replaced by 0x7F (a copy when there is one; `bytes` itself otherwise). */
export function foldToAscii(bytes: Uint8Array): Uint8Array {
  const words = Math.floor(bytes.length / 4);
  const aligned = bytes.byteOffset % 4 === 0;
  let first = -1;
  if (aligned) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
    for (let index = 0; index < words; index++) {
      if ((view[index] as number) & 0x80808080) {
        first = index * 4;
        break;
      }
    }
    if (first === -1) {
      for (let index = words * 4; index < bytes.length; index++) {
        if ((bytes[index] as number) & 0x80) {
          first = index;
          break;
        }
      }
    }
  } else {
    for (let index = 0; index < bytes.length; index++) {
      if ((bytes[index] as number) & 0x80) {
        first = index;
        break;
      }
    }
  }
  if (first === -1) return bytes;
  const folded = copyOf(bytes);
  for (let index = first; index < folded.length; index++) {
    if ((folded[index] as number) & 0x80) folded[index] = 0x7f;
  }
  return folded;
}

export function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  let index = text.indexOf("\n", from);
  while (index !== -1 && index < to) {
    count++;
    index = text.indexOf("\n", index + 1);
  }
  return count;
}

export function countNewlineBytes(bytes: Uint8Array, from: number, to: number): number {
  let count = 0;
  for (let index = bytes.indexOf(0x0a, from); index !== -1 && index < to; index = bytes.indexOf(0x0a, index + 1))
    count++;
  return count;
}

/** A copy (`slice` of a Node `Buffer`, which callers may pass, is a view). */
export function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** The parts as one array: the only non-empty part itself when there is one (no copy). */
export function concat(parts: Uint8Array[], length: number): Uint8Array {
  const filled = parts.filter((part) => part.length > 0);
  return filled.length === 0 ? EMPTY : concatBytes(filled, length);
}

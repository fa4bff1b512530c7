/**
 * Anchors found on the bytes, without decoding them: most content holds no anchor at all, and
 * a block without one is passed on neither copied nor decoded (see scanner.ts).
 */

/**
 * Every anchor spelling the search pattern looks for, found on the bytes without decoding them:
 * a bit per trigram (7 bits per byte) that starts a spelling, and the spellings by trigram to
 * confirm a hit. Most blocks hold no anchor at all; they are passed on without being decoded
 * or searched, which is most of what scanning clean content costs.
 */
export interface Prefilter {
  /** A byte per pair of bytes (read as a Uint16) that starts or ends a spelling's first trigram. */
  pairs: Uint8Array;
  trigrams: Uint32Array;
  spellings: Map<number, SpelledBytes[]>;
}

/**
 * A literal to find: its first `exact` characters as written, the rest in any letter case
 * (written lowercase). `api` then `key` in any case finds `apiKey`, `api_KEY`… but not `api/v1`.
 */
export interface Spelling {
  text: string;
  exact: number;
}

interface SpelledBytes {
  bytes: Uint8Array;
  exact: number;
}

/** A trigram's index in {@link Prefilter}: 7 bits per byte (every byte is folded to 0x7F or below). */
const TRIGRAM_MASK = 0x1fffff;

/** The prefilter of these spellings, or null when one is shorter than a trigram (or its exact part is). */
export function buildPrefilter(spellingList: readonly Spelling[]): Prefilter | null {
  const pairs = new Uint8Array(0x10000);
  // A pair as a Uint16Array reads it on this platform (either byte order).
  const pairBytes = new Uint8Array(2);
  const pairWord = new Uint16Array(pairBytes.buffer);
  const addPair = (one: number, two: number) => {
    pairBytes[0] = one;
    pairBytes[1] = two;
    pairs[pairWord[0] as number] = 1;
  };
  const trigrams = new Uint32Array((TRIGRAM_MASK + 1) / 32);
  const spellings = new Map<number, SpelledBytes[]>();
  for (const { text, exact } of spellingList) {
    // Spellings are one character per byte, folded like the content (see scanner.ts).
    const bytes = Uint8Array.from(text, (char) => Math.min(char.charCodeAt(0), 0x7f));
    // Bytes above 0x7F are not folded while searching (see `firstAnchor`); the trigram is exact.
    if (bytes.length < 3 || exact < 3 || bytes.subarray(0, 3).includes(0x7f)) return null;
    const trigram = ((bytes[0] as number) << 14) | ((bytes[1] as number) << 7) | (bytes[2] as number);
    addPair(bytes[0] as number, bytes[1] as number);
    addPair(bytes[1] as number, bytes[2] as number);
    trigrams[trigram >>> 5] = (trigrams[trigram >>> 5] as number) | (1 << (trigram & 31));
    spellings.set(trigram, [...(spellings.get(trigram) ?? []), { bytes, exact }]);
  }
  return { pairs, trigrams, spellings };
}

/**
 * Where the first anchor spelling starts in `block` at or after `from` and before `limit`, or
 * -1: the search pattern's first hit, found on the bytes. A spelling starting at `s` holds the
 * pairs (s, s+1) and (s+1, s+2), one of them at an even address: only the pairs at even
 * addresses are looked up, two bytes at a time, in a table small enough to stay in cache.
 */
export function firstAnchor(prefilter: Prefilter, block: Uint8Array, from: number, limit: number): number {
  const { pairs } = prefilter;
  const last = Math.min(limit, block.length - 2);
  if (last < from) return -1;
  // The pair at `at` is `words[(block.byteOffset + at) / 2]`.
  const first = from + ((block.byteOffset + from) & 1);
  const words = new Uint16Array(block.buffer, block.byteOffset + first, (last + 2 - first) >>> 1);
  for (let word = 0; word < words.length; word++) {
    if (pairs[words[word] as number] === 1) {
      const at = first + word * 2;
      if (at > from && trigramAt(prefilter, block, at - 1)) return at - 1;
      if (at < last && trigramAt(prefilter, block, at)) return at;
    }
  }
  // A start at `from` whose pair is not at an even address has its next pair there: checked above.
  return -1;
}

/** Whether a spelling starts at `start` (which has two bytes after it). */
function trigramAt(prefilter: Prefilter, block: Uint8Array, start: number): boolean {
  const trigram =
    (((block[start] as number) << 14) | ((block[start + 1] as number) << 7) | (block[start + 2] as number)) &
    TRIGRAM_MASK;
  return (
    (((prefilter.trigrams[trigram >>> 5] as number) >>> (trigram & 31)) & 1) === 1 &&
    spelledAt(prefilter, trigram, block, start)
  );
}

function spelledAt(prefilter: Prefilter, trigram: number, block: Uint8Array, start: number): boolean {
  next: for (const { bytes, exact } of prefilter.spellings.get(trigram) ?? []) {
    if (start + bytes.length > block.length) continue;
    for (let offset = 0; offset < bytes.length; offset++) {
      const byte = Math.min(block[start + offset] as number, 0x7f);
      // Past the exact part, an uppercase ASCII letter is compared as its lowercase.
      const folded = offset >= exact && byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
      if (folded !== bytes[offset]) continue next;
    }
    return true;
  }
  return false;
}

/**
 * Benchmark content: CI-log-like text (compresses about as well as real build logs) and random
 * bytes (incompressible), in memory for the 64 MiB figures and generated on the fly for 1 GiB.
 */
import { randomFillSync } from "node:crypto";
import { createRandom } from "./stats.ts";

export type ContentKind = "log" | "random";

const LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "INFO", "ERROR"] as const;
const WORDS = ["compiled", "linked", "tested", "cached", "fetched", "resolved", "bundled", "checked"] as const;

/** `size` bytes of build-log lines: timestamps, levels, steps, module names, durations. */
export function logBytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const random = createRandom(seed);
  const encoder = new TextEncoder();
  const output = new Uint8Array(size);
  let offset = 0;
  let line = 0;
  while (offset < size) {
    const parts: string[] = [];
    for (let index = 0; index < 2000; index++, line++) {
      const second = String(line % 60).padStart(2, "0");
      const level = LEVELS[Math.floor(random() * LEVELS.length)] as string;
      const word = WORDS[Math.floor(random() * WORDS.length)] as string;
      const module = `packages/app-${Math.floor(random() * 40)}/src/module_${Math.floor(random() * 977)}.ts`;
      parts.push(
        `2026-11-29T12:${String(Math.floor(line / 60) % 60).padStart(2, "0")}:${second}.${String(line % 1000).padStart(3, "0")}Z ${level} step ${line} ${word} ${module} in ${Math.floor(random() * 5000)} ms\n`,
      );
    }
    const { written } = encoder.encodeInto(parts.join(""), output.subarray(offset));
    offset += written;
  }
  return output;
}

/** `size` random bytes (incompressible). */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const output = new Uint8Array(size);
  randomFillSync(output);
  return output;
}

export function contentBytes(kind: ContentKind, size: number): Uint8Array<ArrayBuffer> {
  return kind === "log" ? logBytes(size) : randomBytes(size);
}

/** The bytes of `data` as a stream of `chunkSize` pieces (copies, so consumers may keep them). */
export function chunkedStream(data: Uint8Array, chunkSize = 256 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (offset >= data.length) {
          controller.close();
          return;
        }
        const end = Math.min(data.length, offset + chunkSize);
        controller.enqueue(data.slice(offset, end));
        offset = end;
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * `totalBytes` of log text generated while it is read, cycling over an 8 MiB block (beyond
 * gzip's 32 KiB window, so the ratio is the block's): nothing close to the total is ever held.
 */
export function generatedLogStream(totalBytes: number, chunkSize = 256 * 1024): ReadableStream<Uint8Array> {
  const block = logBytes(8 * 1024 * 1024, 7);
  let produced = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (produced >= totalBytes) {
          controller.close();
          return;
        }
        const start = produced % block.length;
        const length = Math.min(chunkSize, totalBytes - produced, block.length - start);
        controller.enqueue(block.slice(start, start + length));
        produced += length;
      },
    },
    { highWaterMark: 0 },
  );
}

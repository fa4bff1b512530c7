/**
 * Parallel deflate (pigz-style): whatever the block boundaries, the output is one standard gzip
 * member that every decoder reads whole, memory stays bounded by backpressure, and a failing
 * deflate thread fails the stream instead of producing a short file.
 */
import { expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import { gunzipSync as fflateGunzip } from "fflate";
import { collectBytes, streamFromBytes } from "../../src/codec/streams.ts";
import { createParallelGzip } from "../../src/runtime/parallel-gzip.ts";
import { makeLog } from "../helpers/store.ts";

const MIB = 1024 * 1024;
const log = new TextEncoder().encode(makeLog(120_000)); // ≈ 6.7 MB of log text

function sample(size: number): Uint8Array<ArrayBuffer> {
  if (size <= log.length) return log.subarray(0, size);
  const out = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += log.length) out.set(log.subarray(0, size - offset), offset);
  return out;
}

test("block edges, sizes and levels: one member that zlib, fflate and DecompressionStream decode whole", async () => {
  for (const size of [0, 1, 64 * 1024, 64 * 1024 + 1, MIB - 1, MIB, MIB + 1, 3.5 * MIB]) {
    for (const level of [1, 6, 9]) {
      const content = sample(size);
      const gz = await collectBytes(streamFromBytes(content, 77_777).pipeThrough(createParallelGzip(level, 2)));
      expect([gz[0], gz[1], gz[2]]).toEqual([0x1f, 0x8b, 0x08]);
      expect(new Uint8Array(gunzipSync(gz))).toEqual(content);
      // fflate's gunzipSync reads only the first member: equal content proves there is just one.
      expect(fflateGunzip(gz)).toEqual(content);
      const viaWeb = await collectBytes(
        streamFromBytes(gz).pipeThrough(
          new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
        ),
      );
      expect(viaWeb).toEqual(content);
    }
  }
});

test("compresses like single-thread gzip: a 6.7 MB log loses under 1 % of ratio", async () => {
  const parallel = await collectBytes(streamFromBytes(log, 256 * 1024).pipeThrough(createParallelGzip(6, 2)));
  const single = (await import("node:zlib")).gzipSync(log, { level: 6 });
  expect(parallel.length).toBeLessThan(single.length * 1.01);
  expect(parallel.length).toBeLessThan(log.length / 4);
});

test("backpressure: a reader that stops reading stops the input after a few blocks", async () => {
  let pulled = 0;
  const total = 64 * MIB;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      const chunk = sample(256 * 1024).slice();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const reader = source.pipeThrough(createParallelGzip(6, 2)).getReader();
  await reader.read(); // the header
  await Bun.sleep(300);
  // Two blocks per thread in flight, one filling, plus the streams' own queues.
  expect(pulled).toBeLessThanOrEqual(8 * MIB);
  let stored = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    stored += value.length;
  }
  expect(pulled).toBe(total);
  expect(stored).toBeGreaterThan(0);
});

test("a deflate thread that fails errors the stream instead of publishing a short file", async () => {
  // Level 42 is refused by zlib inside the worker (the inline path is not reached: 3 MiB).
  const stream = streamFromBytes(sample(3 * MIB)).pipeThrough(createParallelGzip(42, 2));
  await expect(collectBytes(stream)).rejects.toThrow(/parallel gzip/);
  // The pool keeps working for the next stream.
  const gz = await collectBytes(streamFromBytes(sample(3 * MIB)).pipeThrough(createParallelGzip(6, 2)));
  expect(new Uint8Array(gunzipSync(gz))).toEqual(sample(3 * MIB));
});

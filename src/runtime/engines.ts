/**
 * The fastest standard gzip and SHA-256 engines Bun and Node have, injected by the runtime
 * entries (`openArtifactStore`, the servers). They produce the same single-member gzip and the
 * same SHA-256 as the portable fflate + @noble/hashes engines; the throughput section of `npm run bench` shows the
 * figures that chose them.
 */
import * as nodeCrypto from "node:crypto";
import type { Transform } from "node:stream";
import { createGunzip, createGzip, gunzipSync, gzipSync } from "node:zlib";
import type { CodecEngines, Hasher } from "../codec/engines.ts";
import { createParallelGzip, defaultGzipThreads, parallelGzipAvailable } from "./parallel-gzip.ts";

/** Bytes handed to zlib per write in `zlibTransform`. */
const ZLIB_SLICE = 64 * 1024;

/** `CompressionStream`'s fixed level; other levels go through node:zlib with the level set. */
const COMPRESSION_STREAM_LEVEL = 6;
/** Bun's CompressionStream keeps backpressure and is its fastest gzip; Node's does not (see zlibTransform). */
const useCompressionStream = typeof Bun !== "undefined" && process.env.ARTIFACT_STORE_ENGINE_ZLIB !== "1";

/**
 * The part of Bun's API used here, declared for this module so it type-checks without Bun's
 * types too (Deno and JSR check it as part of `openArtifactStore`'s graph).
 */
declare const Bun: {
  CryptoHasher: (new (
    algorithm: "sha256",
  ) => { update(data: Uint8Array): unknown; digest(): unknown }) & {
    hash(algorithm: "sha256", data: Uint8Array, encoding: "hex"): string;
  };
  gzipSync(data: Uint8Array, options: { level: number; library: "libdeflate" }): Uint8Array;
};

function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** SHA-256 through `node:crypto` (Node, and Deno's Node compatibility). */
export function nodeSha256(): Hasher {
  const hash = nodeCrypto.createHash("sha256");
  return {
    update(chunk) {
      hash.update(chunk);
    },
    digest() {
      return new Uint8Array(hash.digest());
    },
  };
}

/** One-shot SHA-256 hex: `crypto.hash` where Node has it (20.12 and later), else a hasher. */
const nodeHash = (nodeCrypto as { hash?: (algorithm: string, data: Uint8Array, encoding: "hex") => string }).hash;
function nodeSha256Hex(data: Uint8Array): string {
  return nodeHash ? nodeHash("sha256", data, "hex") : nodeCrypto.createHash("sha256").update(data).digest("hex");
}

function bunSha256(): Hasher {
  const hash = new Bun.CryptoHasher("sha256");
  return {
    update(chunk) {
      hash.update(chunk);
    },
    digest() {
      return new Uint8Array(hash.digest() as unknown as ArrayBufferLike);
    },
  };
}

/**
 * A node:zlib stream as a web TransformStream that keeps backpressure: each chunk is handed on
 * only after zlib has taken it. (Node 20's CompressionStream and `Duplex.toWeb` read ahead without
 * bound: a 512 MiB upload grew the process by ~500 MiB.) zlib works on the thread pool, so
 * compression overlaps with hashing and I/O on the main thread.
 */
export function zlibTransform(create: () => Transform): TransformStream<Uint8Array, Uint8Array> {
  let engine: Transform;
  let failure: unknown;
  // The write or end waiting for zlib: a zlib error may come without its callback ever running.
  let waiting: ((error: unknown) => void) | undefined;
  const step = (action: (done: (error?: unknown) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      waiting = reject;
      action((error) => {
        waiting = undefined;
        if (error || failure) reject(error ?? failure);
        else resolve();
      });
    });
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      engine = create();
      engine.on("data", (chunk: Buffer) => {
        try {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        } catch {
          // The reader stopped early (a range is complete, the client went away): stop zlib too.
          engine.destroy();
        }
      });
      engine.on("error", (error) => {
        failure = error;
        waiting?.(error);
        waiting = undefined;
      });
    },
    async transform(chunk) {
      // In slices: what one write can expand to (gunzip of a highly compressed chunk) stays bounded.
      for (let offset = 0; offset < chunk.length; offset += ZLIB_SLICE) {
        const slice = chunk.subarray(offset, offset + ZLIB_SLICE);
        await step((done) => engine.write(slice, (error) => done(error ?? undefined)));
      }
    },
    flush() {
      return step((done) => {
        engine.once("end", () => done());
        engine.end();
      });
    },
  });
}

function nativeGzip(level: number): TransformStream<Uint8Array, Uint8Array> {
  if (useCompressionStream && level === COMPRESSION_STREAM_LEVEL) {
    return new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  }
  return zlibTransform(() => createGzip({ level }));
}

export interface NativeEngineOptions {
  /**
   * Threads that deflate large uploads in parallel (one gzip member, see parallel-gzip.ts).
   * Default: one per CPU, at most 4. `0` compresses on the uploading thread itself.
   */
  gzipThreads?: number;
}

/**
 * Native engines of the running Bun or Node process.
 *
 * @example
 * const store = createArtifactStore({ backend, metadata, codecs: createNativeEngines() });
 */
export function createNativeEngines(options: NativeEngineOptions = {}): CodecEngines {
  const bun = typeof Bun !== "undefined";
  const threads = parallelGzipAvailable ? (options.gzipThreads ?? defaultGzipThreads()) : 0;
  const single = useCompressionStream ? "CompressionStream" : "zlib";
  return {
    name: `${bun ? "bun" : "node"}-native (${threads > 0 ? `parallel deflate ×${threads}` : single}, ${bun ? "Bun.CryptoHasher" : "node:crypto"})`,
    createGzip: threads > 0 ? (level) => createParallelGzip(level, threads) : nativeGzip,
    // Decodes concatenated members and fails on truncated or trailing data, like fflate.
    createGunzip: () =>
      useCompressionStream
        ? (new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>)
        : zlibTransform(() => createGunzip()),
    createSha256: bun ? bunSha256 : nodeSha256,
    sha256Hex: bun ? (data) => Bun.CryptoHasher.hash("sha256", data, "hex") : nodeSha256Hex,
    // Bun's own one-shot call skips node:zlib's stream object, and libdeflate (made for whole
    // buffers) deflates faster than zlib at the same level: 4 KiB of log ~41 µs, not ~62.
    gzipSync: bun
      ? (data, level) => Bun.gzipSync(data, { level, library: "libdeflate" })
      : (data, level) => toBytes(gzipSync(data, { level })),
    gunzipSync: (data) => toBytes(gunzipSync(data)),
  };
}

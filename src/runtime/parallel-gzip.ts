/**
 * pigz-style parallel gzip for Bun and Node: the input is cut into 1 MiB blocks, each block is
 * deflated on another thread with the previous block's last 32 KiB as its dictionary and ended
 * with a sync flush, and the blocks are joined in order behind one gzip header, an empty final
 * block and one trailer (CRC-32 and length of the whole input). The result is one standard gzip
 * member — browsers, `curl --compressed` and fflate read it like any other — produced by every
 * core instead of one, while the request's own thread only copies, hashes and writes.
 *
 * The threads: on Node, zlib's asynchronous calls on libuv's thread pool (no extra JavaScript
 * heaps: a 1 GiB upload grew Node by 90 MiB with worker threads, 35 MiB this way); on Bun,
 * worker threads running zlib (Bun's asynchronous zlib reached 109 MB/s, workers 140–170).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import * as zlib from "node:zlib";

// A namespace import: a named import of `crc32` fails to link on Node before 20.15, which lacks it.
const crc32 = zlib.crc32 as typeof zlib.crc32 | undefined;

/** Input bytes per block; larger blocks lose less ratio, smaller ones start the workers sooner. */
const BLOCK_SIZE = 1024 * 1024;
/** deflate's window: the dictionary each block is primed with. */
const WINDOW_SIZE = 32 * 1024;
/** A stream that ends below this without a full block is deflated on its own thread (no worker round trip). */
const INLINE_LIMIT = 64 * 1024;
/** zlib's output buffer per call on Node (its default, 16 KiB, costs ~64 thread hops per random block). */
const OUTPUT_CHUNK = 256 * 1024;
/** The final, empty deflate block with fixed codes (BFINAL=1, BTYPE=01, end of block). */
const finalEmptyBlock = () => new Uint8Array([0x03, 0x00]);

/** The worker's whole program, evaluated as CommonJS by both Bun and Node (no file to resolve). */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const zlib = require("node:zlib");
parentPort.on("message", ({ id, block, dictionary, level }) => {
  try {
    const options = { level, finishFlush: zlib.constants.Z_SYNC_FLUSH };
    if (dictionary) options.dictionary = dictionary;
    let out = zlib.deflateRawSync(block, options);
    // Output that owns its whole buffer moves as it is; a slice of a bigger buffer is copied.
    if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = new Uint8Array(out);
    // The input block goes back too, to be filled again: no garbage per block on either side.
    parentPort.postMessage({ id, out, block: block.buffer }, [out.buffer, block.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error), block: block.buffer }, [block.buffer]);
  }
});
`;

interface Job {
  resolve(out: Uint8Array): void;
  reject(error: Error): void;
}

/** Deflates blocks on other threads, reusing block buffers. */
interface Deflater {
  /** Where streams take empty blocks and give back those they did not send (a small stream's). */
  readonly shelf: BlockShelf;
  deflate(block: Uint8Array, dictionary: Uint8Array | undefined, level: number): Promise<Uint8Array>;
}

/** Spare block buffers: garbage ArrayBuffers are collected lazily, so each block is reused. */
class BlockShelf {
  private readonly spare: ArrayBuffer[] = [];
  constructor(private readonly capacity: number) {}

  take(): Uint8Array {
    return new Uint8Array(this.spare.pop() ?? new ArrayBuffer(BLOCK_SIZE));
  }

  giveBack(buffer: ArrayBufferLike | undefined): void {
    if (buffer instanceof ArrayBuffer && buffer.byteLength === BLOCK_SIZE && this.spare.length < this.capacity)
      this.spare.push(buffer);
  }
}

/**
 * Node: zlib's asynchronous deflate on libuv's thread pool, at most `size` blocks at a time and
 * never the whole pool — file writes, fsyncs and DNS lookups wait in the same pool.
 */
class ThreadPoolDeflater implements Deflater {
  readonly shelf: BlockShelf;
  private readonly waiting: (() => void)[] = [];
  private readonly size: number;
  private active = 0;

  constructor(threads: number) {
    const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    this.size = Math.max(1, Math.min(threads, pool - 1));
    this.shelf = new BlockShelf(threads * 2 + 2);
  }

  async deflate(block: Uint8Array, dictionary: Uint8Array | undefined, level: number): Promise<Uint8Array> {
    // A finishing job hands its slot straight to the next waiter, so `active` never exceeds `size`.
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        // Output in pieces of OUTPUT_CHUNK: each piece is a round trip through this thread.
        const options = {
          level,
          chunkSize: OUTPUT_CHUNK,
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
          ...(dictionary ? { dictionary } : {}),
        };
        try {
          zlib.deflateRaw(block, options, (error, out) => {
            if (error) reject(new Error(`parallel gzip: ${error.message}`));
            // Highly compressible blocks give a few KiB in a 256 KiB buffer: copy, so the
            // chunks queued downstream (an S3 part, say) do not pin the whole buffer.
            else if (out.byteLength < out.buffer.byteLength / 2) resolve(new Uint8Array(out));
            else resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
          });
        } catch (error) {
          reject(new Error(`parallel gzip: ${(error as Error).message}`));
        }
      });
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
      this.shelf.giveBack(block.buffer);
    }
  }
}

interface PoolWorker {
  worker: Worker;
  jobs: Map<number, Job>;
}

/**
 * Bun: worker threads that deflate blocks; they keep the process alive only while they have
 * work. Block buffers travel to a worker and back.
 */
class WorkerDeflater implements Deflater {
  private readonly workers: PoolWorker[] = [];
  readonly shelf: BlockShelf;
  private nextId = 0;

  constructor(private readonly size: number) {
    this.shelf = new BlockShelf(size * 2 + 2);
  }

  deflate(block: Uint8Array, dictionary: Uint8Array | undefined, level: number): Promise<Uint8Array> {
    const target = this.leastBusy();
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      if (target.jobs.size === 0) target.worker.ref();
      target.jobs.set(id, { resolve, reject });
      // The block's memory moves to the worker (no copy); the dictionary is a copy of 32 KiB.
      target.worker.postMessage({ id, block, dictionary, level }, [block.buffer as ArrayBuffer]);
    });
  }

  private leastBusy(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const candidate of this.workers) if (!best || candidate.jobs.size < best.jobs.size) best = candidate;
    // Threads start on first use, one more whenever all running ones are busy.
    if (!best || (best.jobs.size > 0 && this.workers.length < this.size)) return this.spawn();
    return best;
  }

  private spawn(): PoolWorker {
    // No inherited flags: `--input-type=module` would make the CommonJS source an ES module.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    const entry: PoolWorker = { worker, jobs: new Map() };
    entry.worker.unref();
    entry.worker.on("message", (message: { id: number; out?: Uint8Array; error?: string; block?: ArrayBuffer }) => {
      this.shelf.giveBack(message.block);
      const job = entry.jobs.get(message.id);
      if (!job) return;
      entry.jobs.delete(message.id);
      if (entry.jobs.size === 0) entry.worker.unref();
      if (message.out) job.resolve(message.out);
      else job.reject(new Error(`parallel gzip: ${message.error ?? "no output"}`));
    });
    // A worker that dies fails its jobs (their uploads publish nothing) and is replaced on next use.
    const retire = (cause: Error) => {
      const error = new Error(`parallel gzip: ${cause.message}`);
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      for (const job of entry.jobs.values()) job.reject(error);
      entry.jobs.clear();
    };
    entry.worker.on("error", (error: Error) => retire(error));
    entry.worker.on("exit", (code: number) => retire(new Error(`worker exited with code ${code}`)));
    this.workers.push(entry);
    return entry;
  }
}

const deflaters = new Map<number, Deflater>();

/** Declared here so the module type-checks without Bun's types (Deno checks it too). */
declare const Bun: unknown;

/** Whether this runtime has what parallel gzip needs (`zlib.crc32` came in Node 20.15 / 22.2). */
export const parallelGzipAvailable = typeof crc32 === "function";

/** The default number of deflate threads: one per CPU, at most 4; none on one CPU (nothing to gain). */
export function defaultGzipThreads(): number {
  const cpus = availableParallelism();
  return cpus > 1 ? Math.min(4, cpus) : 0;
}

function gzipHeader(level: number): Uint8Array {
  // ID1 ID2, CM=deflate, no flags, MTIME 0, XFL as zlib sets it, OS=Unix — what zlib itself writes.
  const extraFlags = level === 9 ? 2 : level === 1 ? 4 : 0;
  return new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, extraFlags, 0x03]);
}

function gzipTrailer(crc: number, size: number): Uint8Array {
  const trailer = new Uint8Array(8);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, crc >>> 0, true);
  view.setUint32(4, size % 2 ** 32, true);
  return trailer;
}

/**
 * A TransformStream that gzips its input into one member on `threads` other threads. At most
 * two blocks per thread are in flight, so memory stays bounded whatever the input's length.
 *
 * @example
 * const gz = file.stream().pipeThrough(createParallelGzip(6, 2));
 */
export function createParallelGzip(level: number, threads: number): TransformStream<Uint8Array, Uint8Array> {
  const deflater =
    deflaters.get(threads) ??
    (typeof Bun !== "undefined" ? new WorkerDeflater(threads) : new ThreadPoolDeflater(threads));
  deflaters.set(threads, deflater);
  const maxInFlight = threads * 2;
  const pending: Promise<Uint8Array>[] = [];
  // Taken on the first byte, so a stream that never gets any holds no block.
  let block: Uint8Array | undefined;
  let filled = 0;
  let window: Uint8Array | undefined;
  let crc = 0;
  let size = 0;

  const dispatch = (full: Uint8Array) => {
    const data = full.subarray(0, filled);
    const next = data.slice(Math.max(0, filled - WINDOW_SIZE));
    const job = deflater.deflate(data, window, level);
    // Jobs of a stream that errors or is cancelled are never awaited; their failures are not news.
    job.catch(() => {});
    pending.push(job);
    window = next;
    block = undefined;
    filled = 0;
  };

  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      controller.enqueue(gzipHeader(level));
    },
    async transform(chunk, controller) {
      crc = (crc32 as typeof zlib.crc32)(chunk, crc);
      size += chunk.length;
      for (let offset = 0; offset < chunk.length; ) {
        const taken = Math.min(BLOCK_SIZE - filled, chunk.length - offset);
        block ??= deflater.shelf.take();
        block.set(chunk.subarray(offset, offset + taken), filled);
        filled += taken;
        offset += taken;
        if (filled === BLOCK_SIZE) {
          dispatch(block);
          while (pending.length >= maxInFlight) controller.enqueue(await (pending.shift() as Promise<Uint8Array>));
        }
      }
    },
    async flush(controller) {
      if (pending.length === 0 && window === undefined && filled <= INLINE_LIMIT) {
        // Small stream: one final block deflated here.
        const out = zlib.deflateRawSync(block?.subarray(0, filled) ?? new Uint8Array(0), { level });
        controller.enqueue(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
        if (block) deflater.shelf.giveBack(block.buffer);
      } else {
        if (block && filled > 0) dispatch(block);
        while (pending.length > 0) controller.enqueue(await (pending.shift() as Promise<Uint8Array>));
        controller.enqueue(finalEmptyBlock());
      }
      controller.enqueue(gzipTrailer(crc, size));
    },
  });
}

/**
 * Limits: what this runtime does at best with the same bytes, with no store around it.
 * Runs on Bun from source and on Node from a bundle; prints one JSON line of seconds per op.
 *
 * Usage: probe.ts --request '<json ProbeRequest>'
 */
import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { gunzipSync, gzipSync } from "node:zlib";
import { portableEngines } from "../../src/codec/portable.ts";
import { createNativeEngines } from "../../src/runtime/engines.ts";

export type ProbeOp =
  | "file-write"
  | "file-read"
  | "gzip-oneshot"
  | "gzip-engine"
  | "gzip-two-workers"
  | "gzip-parallel"
  | "gunzip-oneshot"
  | "gunzip-engine"
  | "sha256-engine"
  | "gzip-fflate"
  | "sha256-noble"
  | "files-4k-c1"
  | "files-4k-c16"
  | "libsql-commit-full"
  | "libsql-commit-normal"
  | "libsql-prepared-read"
  | "libsql-prepared-upload"
  | "metadata-read"
  | "metadata-upload";

export interface ProbeRequest {
  /** File with the content bytes (the byte ops read it into memory first, untimed). */
  contentFile?: string;
  /** Scratch directory for written files. */
  workDir: string;
  level: number;
  repetitions: number;
  ops: ProbeOp[];
  /** Files or commits for the counted ops (files-4k-*, libsql-*). */
  count?: number;
}

export interface ProbeResult {
  runtime: string;
  engine: string;
  /** Content bytes the byte ops processed. */
  bytes: number;
  /** Stored (gzip L`level`) size of the content. */
  gzipBytes: number;
  /** Median seconds per op. */
  seconds: Partial<Record<ProbeOp, number>>;
  count: number;
}

const CHUNK = 256 * 1024;
const PIECE = 4 * 1024 * 1024;
/** The store's engines as the servers use them (gzip on every core, one member)… */
const engines = createNativeEngines();
/** …and with gzip on one thread: the single-thread limit the upload target is judged against. */
const singleThread = createNativeEngines({ gzipThreads: 0 });

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.length;
  }
}

function chunks(data: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.slice(offset, offset + CHUNK));
      offset += CHUNK;
    },
  });
}

async function writeFileSynced(path: string, data: Uint8Array): Promise<void> {
  const handle = await open(path, "wx");
  try {
    for (let offset = 0; offset < data.length; offset += CHUNK) {
      await handle.write(data.subarray(offset, Math.min(data.length, offset + CHUNK)));
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readInChunks(path: string): Promise<number> {
  const handle = await open(path, "r");
  let bytes = 0;
  try {
    for (;;) {
      const buffer = new Uint8Array(CHUNK);
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, bytes);
      if (bytesRead === 0) return bytes;
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** Two worker threads gzip 4 MiB pieces (concatenated members): the two-core ceiling. */
async function createGzipPool(level: number) {
  const script = fileURLToPath(import.meta.url);
  const workers = [0, 1].map(() => new Worker(script, { workerData: { role: "gzip-worker", level } }));
  // A view is cloned with its whole buffer, so each piece is copied out and transferred.
  const call = (worker: Worker, piece: Uint8Array) =>
    new Promise<Uint8Array>((resolve) => {
      worker.once("message", (compressed: Uint8Array) => resolve(compressed));
      worker.postMessage(piece, [piece.buffer as ArrayBuffer]);
    });
  return {
    async gzip(data: Uint8Array): Promise<number> {
      let next = 0;
      let total = 0;
      await Promise.all(
        workers.map(async (worker) => {
          for (let offset = next; offset < data.length; offset = next) {
            next += PIECE;
            total += (await call(worker, data.slice(offset, Math.min(data.length, offset + PIECE)))).length;
          }
        }),
      );
      return total;
    },
    close: () => Promise.all(workers.map((worker) => worker.terminate())),
  };
}

async function manySmallFiles(directory: string, count: number, concurrency: number): Promise<void> {
  await mkdir(directory, { recursive: true });
  const content = new Uint8Array(4096).fill(120);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await writeFileSynced(join(directory, randomUUID()), content);
      }
    }),
  );
}

async function libsqlCommits(path: string, count: number, synchronous: "FULL" | "NORMAL"): Promise<void> {
  const { createClient } = await import("@libsql/client");
  const client = createClient({ url: `file:${path}` });
  await client.execute("PRAGMA journal_mode = WAL");
  await client.execute(`PRAGMA synchronous = ${synchronous}`);
  await client.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, spec TEXT, value TEXT)");
  for (let index = 0; index < count; index++) {
    await client.execute({ sql: "INSERT INTO rows (spec, value) VALUES (?, ?)", args: ["bench", `row ${index}`] });
  }
  client.close();
}

/**
 * The limit of the metadata layer: `libsql` statements prepared once and reused in a loop, on a
 * WAL file with synchronous=NORMAL (the store's setting), over `count` rows shaped like the
 * store's. `read`: one row by its key, as a download looks its version up. `upload`: two
 * transactions per upload (reserve a row, then commit it), as an upload writes.
 */
async function preparedLoop(path: string, count: number, work: "read" | "upload"): Promise<Timed> {
  const { default: Database } = await import("libsql");
  const db = new Database(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  db.exec(
    "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, spec TEXT, task TEXT, version INTEGER, state TEXT, size INTEGER, checksum TEXT, UNIQUE (spec, task, version))",
  );
  const insert = db.prepare(
    "INSERT INTO rows (spec, task, version, state, size) VALUES (?, ?, 1, 'pending', ?) RETURNING *",
  );
  const commit = db.prepare(
    "UPDATE rows SET state = 'committed', checksum = ? WHERE id = ? AND state = 'pending' RETURNING id",
  );
  const begin = db.prepare("BEGIN");
  const end = db.prepare("COMMIT");
  const upload = (index: number) => {
    begin.run();
    const row = insert.get("bench", `t${index}`, 4096) as { id: number };
    end.run();
    begin.run();
    commit.get("0".repeat(64), row.id);
    end.run();
  };
  const started = performance.now();
  for (let index = 0; index < count; index++) upload(index);
  const uploaded = performance.now();
  if (work === "read") {
    const read = db.prepare(
      "SELECT * FROM rows WHERE spec = ? AND task = ? AND state = 'committed' ORDER BY version DESC LIMIT 1",
    );
    for (let index = 0; index < count; index++) read.get("bench", `t${(index * 7919) % count}`);
  }
  const done = performance.now();
  db.close();
  return { timedSeconds: (work === "read" ? done - uploaded : uploaded - started) / 1000 };
}

/** The store's metadata repository doing what `preparedLoop` does (durability relaxed: no fsync). */
async function repositoryLoop(path: string, count: number, work: "read" | "upload"): Promise<Timed> {
  // Not bundled: the Node bundle of this script never runs the store's own loops (Bun only).
  const local = new URL("../../src/metadata/local.ts", import.meta.url).href;
  const { openLocalMetadata } = (await import(local)) as typeof import("../../src/metadata/local.ts");
  const metadata = await openLocalMetadata({ url: path, durability: "relaxed" });
  const upload = async (index: number) => {
    const pending = await metadata.reserveVersion({
      specName: "bench",
      taskId: `t${index}`,
      type: "log",
      compressed: true,
      mimeType: "text/plain",
      metadata: {},
      createdAt: Date.now(),
      retentionDays: 30,
      location: { keyPrefix: `bench/t${index}/log/v`, keySuffix: ".log.gz", uriPrefix: "artifact://" },
      reserveBytes: 4096,
      maxBytes: null,
    });
    // What an upload's publish writes: the row publishing with its figures, then committed.
    const values = {
      size: 1200,
      checksum: "0".repeat(64),
      originalSize: 4096,
      originalChecksum: "1".repeat(64),
      tags: [],
    };
    await metadata.beginPublish(pending, values);
    await metadata.finishPublish(pending, {
      storageKey: pending.storageKey,
      previous: null,
      inheritPin: false,
      supersedeOlder: true,
    });
  };
  const started = performance.now();
  for (let index = 0; index < count; index++) await upload(index);
  const uploaded = performance.now();
  if (work === "read") {
    for (let index = 0; index < count; index++) {
      await metadata.findVersion({ specName: "bench", taskId: `t${(index * 7919) % count}`, type: "log" });
    }
  }
  const done = performance.now();
  await metadata.close();
  return { timedSeconds: (work === "read" ? done - uploaded : uploaded - started) / 1000 };
}

/** An op that times only part of what it does (its setup is not the figure). */
interface Timed {
  timedSeconds: number;
}

async function main(request: ProbeRequest): Promise<ProbeResult> {
  const data = request.contentFile ? new Uint8Array(await readFile(request.contentFile)) : new Uint8Array(0);
  const gzipped = gzipSync(data, { level: request.level });
  const count = request.count ?? 2000;
  const scratch = join(request.workDir, `probe-${randomUUID()}`);
  await mkdir(scratch, { recursive: true });
  const pool = request.ops.includes("gzip-two-workers") ? await createGzipPool(request.level) : undefined;
  const actions: Record<ProbeOp, () => Promise<unknown> | unknown> = {
    "file-write": () => writeFileSynced(join(scratch, randomUUID()), data),
    "file-read": () => readInChunks(request.contentFile as string),
    "gzip-oneshot": () => gzipSync(data, { level: request.level }),
    "gzip-engine": () => drain(chunks(data).pipeThrough(singleThread.createGzip(request.level))),
    "gzip-two-workers": () => pool?.gzip(data),
    "gzip-parallel": () => drain(chunks(data).pipeThrough(engines.createGzip(request.level))),
    "gunzip-oneshot": () => gunzipSync(gzipped),
    "gunzip-engine": () => drain(chunks(gzipped).pipeThrough(engines.createGunzip())),
    "sha256-engine": () => hashAll(engines.createSha256(), data),
    "gzip-fflate": () => drain(chunks(data).pipeThrough(portableEngines.createGzip(request.level))),
    "sha256-noble": () => hashAll(portableEngines.createSha256(), data),
    "files-4k-c1": () => manySmallFiles(join(scratch, randomUUID()), count, 1),
    "files-4k-c16": () => manySmallFiles(join(scratch, randomUUID()), count, 16),
    "libsql-commit-full": () => libsqlCommits(join(scratch, `${randomUUID()}.db`), count, "FULL"),
    "libsql-commit-normal": () => libsqlCommits(join(scratch, `${randomUUID()}.db`), count, "NORMAL"),
    "libsql-prepared-read": () => preparedLoop(join(scratch, `${randomUUID()}.db`), count, "read"),
    "libsql-prepared-upload": () => preparedLoop(join(scratch, `${randomUUID()}.db`), count, "upload"),
    "metadata-read": () => repositoryLoop(join(scratch, `${randomUUID()}.db`), count, "read"),
    "metadata-upload": () => repositoryLoop(join(scratch, `${randomUUID()}.db`), count, "upload"),
  };
  if (pool) await pool.gzip(data.subarray(0, PIECE * 2)); // start both workers before timing
  if (request.ops.includes("gzip-parallel"))
    await drain(chunks(data.subarray(0, PIECE * 2)).pipeThrough(engines.createGzip(request.level)));
  const seconds: Partial<Record<ProbeOp, number>> = {};
  for (const op of request.ops) {
    const runs: number[] = [];
    for (let repetition = 0; repetition < request.repetitions; repetition++) {
      const started = performance.now();
      const result = await actions[op]();
      const timed = (result as Partial<Timed> | undefined)?.timedSeconds;
      runs.push(typeof timed === "number" ? timed : (performance.now() - started) / 1000);
    }
    seconds[op] = runs.sort((left, right) => left - right)[Math.floor((runs.length - 1) / 2)] as number;
  }
  await pool?.close();
  await rm(scratch, { recursive: true, force: true });
  const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`;
  return { runtime, engine: engines.name, bytes: data.length, gzipBytes: gzipped.length, seconds, count };
}

function hashAll(hasher: { update(chunk: Uint8Array): void; digest(): Uint8Array }, data: Uint8Array): Uint8Array {
  for (let offset = 0; offset < data.length; offset += CHUNK) hasher.update(data.subarray(offset, offset + CHUNK));
  return hasher.digest();
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === "gzip-worker") {
  const { level } = workerData as { level: number };
  parentPort?.on("message", (piece: Uint8Array) => parentPort?.postMessage(gzipSync(piece, { level })));
} else if (isMainThread && process.argv[2] === "--request") {
  console.log(JSON.stringify(await main(JSON.parse(process.argv[3] ?? "{}") as ProbeRequest)));
}

/**
 * Upload and download throughput and peak RSS of the store on the filesystem backend, next to
 * a plain file write and read of the same bytes measured in the same run.
 *
 * Usage: bun bench/fs-store.ts [--sizes 64,1024] [--kinds log,random] [--json out.json]
 * Each measurement runs in its own child process, so its peak RSS is its own.
 */
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { openArtifactStore } from "../src/runtime/local.ts";

const MIB = 1024 * 1024;
type Kind = "log" | "random";
type Operation = "store-upload" | "store-download" | "file-write" | "file-read";

interface ChildResult {
  operation: Operation;
  seconds: number;
  bytes: number;
  peakRssMiB: number;
  idleRssMiB: number;
}

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

/** Writes `size` bytes of CI-log-like text or random bytes to `path`, streaming. */
async function generate(path: string, size: number, kind: Kind): Promise<void> {
  const out = createWriteStream(path);
  let written = 0;
  let line = 0;
  while (written < size) {
    let chunk: Buffer;
    if (kind === "random") {
      chunk = Buffer.from(crypto.getRandomValues(new Uint8Array(Math.min(65536, size - written))));
    } else {
      const lines: string[] = [];
      for (let index = 0; index < 500; index++, line++) {
        lines.push(
          `2026-11-29T12:00:${String(line % 60).padStart(2, "0")}Z INFO step ${line} compiled module_${line % 977}.ts in ${(line * 7919) % 1000} ms\n`,
        );
      }
      chunk = Buffer.from(lines.join("")).subarray(0, size - written);
    }
    written += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

async function runChild(operation: Operation, source: string, workDir: string): Promise<ChildResult> {
  const idleRssMiB = process.memoryUsage().rss / MIB;
  const started = performance.now();
  let bytes = 0;
  if (operation === "file-write") {
    const handle = await open(join(workDir, "copy.bin"), "w");
    for await (const chunk of createReadStream(source, { highWaterMark: 256 * 1024 })) {
      await handle.write(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    await handle.sync();
    await handle.close();
  } else if (operation === "file-read") {
    for await (const chunk of createReadStream(source, { highWaterMark: 256 * 1024 }))
      bytes += (chunk as Buffer).length;
  } else {
    const store = await openArtifactStore({
      env: {},
      overrides: { base_path: join(workDir, "store"), versioning_enabled: true },
    });
    if (operation === "store-upload") {
      const content = Readable.toWeb(
        createReadStream(source, { highWaterMark: 256 * 1024 }),
      ) as unknown as ReadableStream<Uint8Array>;
      const result = await store.upload({ specName: "bench", taskId: "fs", type: "log", content });
      bytes = result.originalSize;
    } else {
      const opened = await store.open({ specName: "bench", taskId: "fs", type: "log" });
      for await (const chunk of opened.body) bytes += chunk.length;
    }
    await store.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { operation, seconds, bytes, peakRssMiB: process.resourceUsage().maxRSS / 1024, idleRssMiB };
}

function measure(operation: Operation, source: string, workDir: string): ChildResult {
  const child = spawnSync(process.execPath, [import.meta.path, "--child", operation, source, workDir], {
    encoding: "utf8",
  });
  if (child.status !== 0) throw new Error(`${operation} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as ChildResult;
}

async function main(): Promise<void> {
  if (process.argv[2] === "--child") {
    const [, , , operation, source, workDir] = process.argv;
    console.log(JSON.stringify(await runChild(operation as Operation, source as string, workDir as string)));
    return;
  }
  const sizes = option("sizes", "64,1024").split(",").map(Number);
  const kinds = option("kinds", "log,random").split(",") as Kind[];
  const rows: Record<string, string | number>[] = [];
  for (const sizeMiB of sizes) {
    for (const kind of kinds) {
      const workDir = await mkdtemp(join(tmpdir(), "bench-fs-"));
      const source = join(workDir, "source.bin");
      await generate(source, sizeMiB * MIB, kind);
      const results = (["file-write", "file-read", "store-upload", "store-download"] as const).map((operation) =>
        measure(operation, source, workDir),
      );
      for (const result of results) {
        rows.push({
          size: `${sizeMiB} MiB`,
          content: kind,
          operation: result.operation,
          "MB/s": Number((result.bytes / 1e6 / result.seconds).toFixed(1)),
          seconds: Number(result.seconds.toFixed(2)),
          "peak RSS MiB": Math.round(result.peakRssMiB),
          "RSS growth MiB": Math.round(result.peakRssMiB - result.idleRssMiB),
        });
      }
      await rm(workDir, { recursive: true, force: true });
    }
  }
  console.log(
    `fs backend, native engines (openArtifactStore's default), gzip level 6, ${process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`}`,
  );
  console.table(rows);
  const jsonPath = option("json", "");
  if (jsonPath) await Bun.write(jsonPath, JSON.stringify(rows, null, 2));
}

await main();

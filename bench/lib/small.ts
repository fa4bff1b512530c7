/**
 * Section 2: 4 KiB artifacts over HTTP on the Bun server with durable defaults (blob fsync'd,
 * row committed), `concurrency` requests in flight: uploads/s and downloads/s with p50/p99.
 * Limits from the same run: 4 KiB files created and fsync'd (1 and 16 in flight), durable
 * libSQL single-row commits, loops of libSQL statements prepared once, and a trivial Bun server
 * taking the same PUTs and serving the very files the store wrote, in the same order.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runJsonChild } from "./children.ts";
import { logBytes } from "./data.ts";
import { describeLatency, expectStatus, type LoadResult, runLoad } from "./load.ts";
import type { BenchContext } from "./options.ts";
import type { ProbeRequest, ProbeResult } from "./probe.ts";
import { figure, type Limit, limitRow, type Row } from "./report.ts";
import { startStaticServer, startStoreServer } from "./servers.ts";

const SECTION = "small";
const SMALL_SIZE = 4096;
const template = logBytes(SMALL_SIZE, 3);

/** A 4 KiB log whose first bytes carry the index, so no two uploads are identical. */
function smallContent(index: number): Uint8Array<ArrayBuffer> {
  const content = template.slice();
  new TextEncoder().encodeInto(`artifact ${index} `.padEnd(24, "-"), content);
  return content;
}

/** PUTs `count` 4 KiB logs as `<spec>/t<index>/log` with `concurrency` in flight. */
export function uploadSmall(
  baseUrl: string,
  spec: string,
  count: number,
  concurrency: number,
  maxSeconds?: number,
): Promise<LoadResult> {
  return runLoad(
    count,
    concurrency,
    async (index) => {
      const response = await fetch(`${baseUrl}/v1/artifacts/${spec}/t${index}/log`, {
        method: "PUT",
        body: smallContent(index),
        headers: { "Content-Type": "text/plain", "X-Artifact-Tags": "ci" },
      });
      await expectStatus(response, 201);
    },
    maxSeconds,
  );
}

/** GETs `count` random ones of the `stored` uploads, decoded or as stored gzip. */
function downloadSmall(
  baseUrl: string,
  spec: string,
  stored: number,
  sizes: { smallCount: number; concurrency: number; smallMaxSeconds: number },
  gzip: boolean,
) {
  return runLoad(
    sizes.smallCount,
    sizes.concurrency,
    async (index) => {
      const task = downloadTask(index, stored);
      const response = await fetch(`${baseUrl}/v1/artifacts/${spec}/t${task}/log`, {
        headers: { "Accept-Encoding": gzip ? "gzip" : "identity" },
        decompress: false,
      });
      await expectStatus(response, 200);
    },
    sizes.smallMaxSeconds,
  );
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux; NaN elsewhere). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Runs `phase` and returns its result with the server's CPU milliseconds per operation. */
async function withServerCpu(
  pid: number,
  phase: () => Promise<LoadResult>,
): Promise<{ result: LoadResult; cpuMsPerOp: number }> {
  const before = await cpuSeconds(pid);
  const result = await phase();
  const used = (await cpuSeconds(pid)) - before;
  return { result, cpuMsPerOp: (used * 1000) / Math.max(1, result.operations) };
}

function loadData(result: LoadResult): Record<string, number | string> {
  return {
    operations: result.operations,
    failures: result.failures,
    seconds: result.seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    ...(result.firstFailure ? { firstFailure: result.firstFailure } : {}),
  };
}

/** Which of the `stored` uploads the `index`-th download reads (the same spread for the store and its limit). */
const downloadTask = (index: number, stored: number) => (index * 7919) % stored;

/** The trivial Bun server's PUTs (read and dropped) and its CPU per PUT. */
async function trivialPutLimit(context: BenchContext): Promise<{ put: LoadResult; putCpuMs: number }> {
  const server = await startStaticServer("bun", join(import.meta.dir, "static-server.ts"));
  try {
    const { smallCount, concurrency } = context.sizes;
    const { result: put, cpuMsPerOp: putCpuMs } = await withServerCpu(server.pid, () =>
      runLoad(
        smallCount,
        concurrency,
        async (index) => {
          await expectStatus(await fetch(`${server.url}/sink`, { method: "PUT", body: smallContent(index) }), 201);
        },
        context.sizes.smallMaxSeconds,
      ),
    );
    return { put, putCpuMs };
  } finally {
    await server.stop();
  }
}

/**
 * The trivial Bun server's GETs of the very files the store wrote and served (`<spec>/<task>/log.txt.gz`
 * under its base path, sent as stored with `Content-Encoding: gzip`), in the same order, and its CPU per GET.
 */
async function trivialGetLimit(
  context: BenchContext,
  storeRoot: string,
  stored: number,
): Promise<{ get: LoadResult; getCpuMs: number }> {
  const server = await startStaticServer("bun", join(import.meta.dir, "static-server.ts"));
  try {
    const { smallCount, concurrency } = context.sizes;
    const { result: get, cpuMsPerOp: getCpuMs } = await withServerCpu(server.pid, () =>
      runLoad(
        smallCount,
        concurrency,
        async (index) => {
          const path = join(storeRoot, `t${downloadTask(index, stored)}`, "log.txt.gz");
          const response = await fetch(`${server.url}/file?path=${encodeURIComponent(path)}`, { decompress: false });
          await expectStatus(response, 200);
        },
        context.sizes.smallMaxSeconds,
      ),
    );
    return { get, getCpuMs };
  } finally {
    await server.stop();
  }
}

async function fileAndCommitLimits(context: BenchContext): Promise<ProbeResult> {
  const request: ProbeRequest = {
    workDir: context.workDir,
    level: 6,
    repetitions: 1,
    count: Math.min(2000, context.sizes.smallCount),
    ops: [
      "files-4k-c1",
      "files-4k-c16",
      "libsql-commit-full",
      "libsql-commit-normal",
      "libsql-prepared-read",
      "metadata-read",
      "libsql-prepared-upload",
      "metadata-upload",
    ],
  };
  return runJsonChild<ProbeResult>("bun", join(import.meta.dir, "probe.ts"), ["--request", JSON.stringify(request)]);
}

interface StoreRun {
  uploads: LoadResult;
  uploadCpuMs: number;
  decoded: LoadResult;
  gzip: LoadResult;
  downloadCpuMs: number;
  /** Uploads that completed (the downloads pick among them), and the folder of their tasks. */
  stored: number;
  storeRoot: string;
}

/** Uploads, then decoded and passthrough downloads of them, on a fresh Bun store server. */
async function measureStore(context: BenchContext): Promise<StoreRun> {
  const { smallCount, smallWarmup, concurrency } = context.sizes;
  context.progress(`small: up to ${smallCount} uploads and 2 × ${smallCount} downloads on the bun server`);
  const basePath = join(context.workDir, "small");
  const server = await startStoreServer("bun", basePath, context.nodeScripts.serverCli);
  try {
    await uploadSmall(server.url, "warmup", smallWarmup, concurrency);
    const { result: uploads, cpuMsPerOp: uploadCpuMs } = await withServerCpu(server.pid, () =>
      uploadSmall(server.url, "small", smallCount, concurrency, context.sizes.smallMaxSeconds),
    );
    // Downloads pick among the uploads that completed (the time cap may have cut the phase short).
    const stored = Math.max(1, uploads.operations);
    const decoded = await downloadSmall(server.url, "small", stored, context.sizes, false);
    const { result: gzip, cpuMsPerOp: downloadCpuMs } = await withServerCpu(server.pid, () =>
      downloadSmall(server.url, "small", stored, context.sizes, true),
    );
    const failed = [uploads, decoded, gzip].find((result) => result.failures > 0);
    if (failed) context.facts["small failures"] = `${failed.failures} failed requests, first: ${failed.firstFailure}`;
    return { uploads, uploadCpuMs, decoded, gzip, downloadCpuMs, stored, storeRoot: join(basePath, "small") };
  } finally {
    await server.stop();
  }
}

/** The store's figures, each next to its limit from this run. */
function storeRows(
  context: BenchContext,
  run: StoreRun,
  limits: { fsync: Limit; get: Limit; putCpu: Limit; getCpu: Limit },
): Row[] {
  const { concurrency } = context.sizes;
  const loadFigure = (name: string, result: LoadResult, limit: Limit, atLeast: number) =>
    figure(SECTION, name, result.perSecond, "/s", {
      detail: describeLatency(result),
      data: loadData(result),
      limit,
      atLeast,
    });
  return [
    loadFigure(`4 KiB uploads, HTTP bun, c${concurrency}, durable`, run.uploads, limits.fsync, 5000),
    loadFigure(`4 KiB downloads decoded, HTTP bun, c${concurrency}`, run.decoded, limits.get, 10_000),
    loadFigure(`4 KiB downloads gzip passthrough, HTTP bun, c${concurrency}`, run.gzip, limits.get, 10_000),
    figure(SECTION, "server CPU per 4 KiB upload (durable)", run.uploadCpuMs, "ms", {
      limit: limits.putCpu,
      atMost: 0.5,
    }),
    figure(SECTION, "server CPU per 4 KiB download (gzip passthrough, verified)", run.downloadCpuMs, "ms", {
      limit: limits.getCpu,
      atMost: 0.25,
    }),
  ];
}

export async function runSmall(context: BenchContext): Promise<Row[]> {
  const { concurrency } = context.sizes;
  context.progress("small: limits (4 KiB files + fsync, libSQL commits, trivial server PUT)");
  const probe = await fileAndCommitLimits(context);
  const perSecond = (op: keyof ProbeResult["seconds"]) => probe.count / (probe.seconds[op] ?? Number.NaN);
  const trivialPut = await trivialPutLimit(context);
  const run = await measureStore(context);
  context.progress("small: the trivial server reading the files the store served");
  const trivialGet = await trivialGetLimit(context, run.storeRoot, run.stored);
  for (const [name, result] of [
    ["PUT", trivialPut.put],
    ["GET", trivialGet.get],
  ] as const) {
    if (result.failures > 0)
      context.facts[`small trivial ${name} failures`] = `${result.failures}, first: ${result.firstFailure}`;
  }
  const preparedRead: Limit = {
    name: "prepared libSQL read loop",
    value: perSecond("libsql-prepared-read"),
    unit: "/s",
  };
  const preparedUpload: Limit = {
    name: "prepared libSQL reserve+commit loop",
    value: perSecond("libsql-prepared-upload"),
    unit: "/s",
  };
  return [
    limitRow(SECTION, "4 KiB file create+write+fsync, 1 in flight", perSecond("files-4k-c1"), "/s"),
    limitRow(SECTION, `4 KiB file create+write+fsync, ${concurrency} in flight`, perSecond("files-4k-c16"), "/s"),
    limitRow(SECTION, "libSQL single-row commit, WAL synchronous=FULL", perSecond("libsql-commit-full"), "/s"),
    limitRow(SECTION, "libSQL single-row commit, WAL synchronous=NORMAL", perSecond("libsql-commit-normal"), "/s"),
    limitRow(
      SECTION,
      `trivial bun server PUT 4 KiB, c${concurrency}`,
      trivialPut.put.perSecond,
      "/s",
      describeLatency(trivialPut.put),
    ),
    limitRow(
      SECTION,
      `trivial bun server GET of the store's files, c${concurrency}`,
      trivialGet.get.perSecond,
      "/s",
      describeLatency(trivialGet.get),
    ),
    limitRow(SECTION, "libSQL one-row read, statement prepared once (loop)", preparedRead.value, "/s"),
    figure(SECTION, "metadata: version lookup (findVersion), in process", perSecond("metadata-read"), "/s", {
      limit: preparedRead,
    }),
    limitRow(
      SECTION,
      "libSQL reserve+commit (2 transactions), statements prepared once (loop)",
      preparedUpload.value,
      "/s",
    ),
    figure(SECTION, "metadata: reserveVersion + commit, in process, relaxed", perSecond("metadata-upload"), "/s", {
      limit: preparedUpload,
    }),
    limitRow(SECTION, "trivial bun server CPU per PUT", trivialPut.putCpuMs, "ms"),
    limitRow(SECTION, "trivial bun server CPU per GET of the store's files", trivialGet.getCpuMs, "ms"),
    ...storeRows(context, run, {
      fsync: { name: "4 KiB file+fsync c16", value: perSecond("files-4k-c16"), unit: "/s" },
      get: { name: "trivial bun server GET, same files", value: trivialGet.get.perSecond, unit: "/s" },
      putCpu: { name: "trivial bun server CPU per PUT", value: trivialPut.putCpuMs, unit: "ms" },
      getCpu: { name: "trivial bun server CPU per GET, same files", value: trivialGet.getCpuMs, unit: "ms" },
    }),
  ];
}

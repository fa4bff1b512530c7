/**
 * Section 2: 4 KiB artifacts over HTTP on the Bun server with durable defaults (blob fsync'd,
 * row committed), `concurrency` requests in flight: uploads/s and downloads/s with p50/p99.
 * Limits from the same run: 4 KiB files created and fsync'd (1 and 16 in flight), durable
 * libSQL single-row commits, and a trivial Bun server taking the same PUTs and GETs.
 */
import { readFile, writeFile } from "node:fs/promises";
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
      const task = (index * 7919) % stored;
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

async function trivialServerLimits(
  context: BenchContext,
): Promise<{ put: LoadResult; get: LoadResult; putCpuMs: number; getCpuMs: number }> {
  const file = join(context.workDir, "small.txt");
  await writeFile(file, template);
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
    const target = `${server.url}/file?path=${encodeURIComponent(file)}`;
    const { result: get, cpuMsPerOp: getCpuMs } = await withServerCpu(server.pid, () =>
      runLoad(
        smallCount,
        concurrency,
        async () => {
          await expectStatus(await fetch(target, { headers: { "Accept-Encoding": "identity" } }), 200);
        },
        context.sizes.smallMaxSeconds,
      ),
    );
    return { put, get, putCpuMs, getCpuMs };
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

/** Uploads, then decoded and passthrough downloads of them, on a fresh Bun store server. */
async function measureStore(
  context: BenchContext,
  fsyncLimit: Limit,
  getLimit: Limit,
  cpuLimits: { put: Limit; get: Limit },
): Promise<Row[]> {
  const { smallCount, smallWarmup, concurrency } = context.sizes;
  context.progress(`small: up to ${smallCount} uploads and 2 × ${smallCount} downloads on the bun server`);
  const server = await startStoreServer("bun", join(context.workDir, "small"), context.nodeScripts.serverCli);
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
    const loadFigure = (name: string, result: LoadResult, limit: Limit, atLeast: number) =>
      figure(SECTION, name, result.perSecond, "/s", {
        detail: describeLatency(result),
        data: loadData(result),
        limit,
        atLeast,
      });
    return [
      loadFigure(`4 KiB uploads, HTTP bun, c${concurrency}, durable`, uploads, fsyncLimit, 5000),
      loadFigure(`4 KiB downloads decoded, HTTP bun, c${concurrency}`, decoded, getLimit, 10_000),
      loadFigure(`4 KiB downloads gzip passthrough, HTTP bun, c${concurrency}`, gzip, getLimit, 10_000),
      figure(SECTION, "server CPU per 4 KiB upload (durable)", uploadCpuMs, "ms", {
        limit: cpuLimits.put,
        atMost: 0.5,
      }),
      figure(SECTION, "server CPU per 4 KiB download (gzip passthrough, verified)", downloadCpuMs, "ms", {
        limit: cpuLimits.get,
        atMost: 0.25,
      }),
    ];
  } finally {
    await server.stop();
  }
}

export async function runSmall(context: BenchContext): Promise<Row[]> {
  const { concurrency } = context.sizes;
  context.progress("small: limits (4 KiB files + fsync, libSQL commits, trivial server)");
  const probe = await fileAndCommitLimits(context);
  const perSecond = (op: keyof ProbeResult["seconds"]) => probe.count / (probe.seconds[op] ?? Number.NaN);
  const trivial = await trivialServerLimits(context);
  const fsyncLimit: Limit = { name: "4 KiB file+fsync c16", value: perSecond("files-4k-c16"), unit: "/s" };
  const getLimit: Limit = { name: "trivial bun server GET", value: trivial.get.perSecond, unit: "/s" };
  const cpuLimits = {
    put: { name: "trivial bun server CPU per PUT", value: trivial.putCpuMs, unit: "ms" },
    get: { name: "trivial bun server CPU per GET", value: trivial.getCpuMs, unit: "ms" },
  };
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
  const rows: Row[] = [
    limitRow(SECTION, "4 KiB file create+write+fsync, 1 in flight", perSecond("files-4k-c1"), "/s"),
    limitRow(SECTION, `4 KiB file create+write+fsync, ${concurrency} in flight`, perSecond("files-4k-c16"), "/s"),
    limitRow(SECTION, "libSQL single-row commit, WAL synchronous=FULL", perSecond("libsql-commit-full"), "/s"),
    limitRow(SECTION, "libSQL single-row commit, WAL synchronous=NORMAL", perSecond("libsql-commit-normal"), "/s"),
    limitRow(
      SECTION,
      `trivial bun server PUT 4 KiB, c${concurrency}`,
      trivial.put.perSecond,
      "/s",
      describeLatency(trivial.put),
    ),
    limitRow(
      SECTION,
      `trivial bun server GET 4 KiB file, c${concurrency}`,
      trivial.get.perSecond,
      "/s",
      describeLatency(trivial.get),
    ),
  ];
  rows.push(
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
    limitRow(SECTION, "trivial bun server CPU per PUT", trivial.putCpuMs, "ms"),
    limitRow(SECTION, "trivial bun server CPU per GET", trivial.getCpuMs, "ms"),
  );
  rows.push(...(await measureStore(context, fsyncLimit, getLimit, cpuLimits)));
  return rows;
}

/**
 * Section 2: 4 KiB artifacts over HTTP on the Bun server with durable defaults (blob fsync'd,
 * row committed), `concurrency` requests in flight: uploads/s and downloads/s with p50/p99.
 * Limits from the same run: 4 KiB files created and fsync'd (1 and 16 in flight), durable
 * libSQL single-row commits, and a trivial Bun server taking the same PUTs and GETs.
 */
import { writeFile } from "node:fs/promises";
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

async function trivialServerLimits(context: BenchContext): Promise<{ put: LoadResult; get: LoadResult }> {
  const file = join(context.workDir, "small.txt");
  await writeFile(file, template);
  const server = await startStaticServer("bun", join(import.meta.dir, "static-server.ts"));
  try {
    const { smallCount, concurrency } = context.sizes;
    const put = await runLoad(
      smallCount,
      concurrency,
      async (index) => {
        await expectStatus(await fetch(`${server.url}/sink`, { method: "PUT", body: smallContent(index) }), 201);
      },
      context.sizes.smallMaxSeconds,
    );
    const target = `${server.url}/file?path=${encodeURIComponent(file)}`;
    const get = await runLoad(
      smallCount,
      concurrency,
      async () => {
        await expectStatus(await fetch(target, { headers: { "Accept-Encoding": "identity" } }), 200);
      },
      context.sizes.smallMaxSeconds,
    );
    return { put, get };
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
    ops: ["files-4k-c1", "files-4k-c16", "libsql-commit-full", "libsql-commit-normal"],
  };
  return runJsonChild<ProbeResult>("bun", join(import.meta.dir, "probe.ts"), ["--request", JSON.stringify(request)]);
}

/** Uploads, then decoded and passthrough downloads of them, on a fresh Bun store server. */
async function measureStore(context: BenchContext, fsyncLimit: Limit, getLimit: Limit): Promise<Row[]> {
  const { smallCount, smallWarmup, concurrency } = context.sizes;
  context.progress(`small: up to ${smallCount} uploads and 2 × ${smallCount} downloads on the bun server`);
  const server = await startStoreServer("bun", join(context.workDir, "small"), context.nodeScripts.serverCli);
  try {
    await uploadSmall(server.url, "warmup", smallWarmup, concurrency);
    const uploads = await uploadSmall(server.url, "small", smallCount, concurrency, context.sizes.smallMaxSeconds);
    // Downloads pick among the uploads that completed (the time cap may have cut the phase short).
    const stored = Math.max(1, uploads.operations);
    const decoded = await downloadSmall(server.url, "small", stored, context.sizes, false);
    const gzip = await downloadSmall(server.url, "small", stored, context.sizes, true);
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
  rows.push(...(await measureStore(context, fsyncLimit, getLimit)));
  return rows;
}

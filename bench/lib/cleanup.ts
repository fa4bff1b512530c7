/**
 * Section 3b: the retention sweep of 100k expired artifacts on the Bun server (artifacts/s),
 * then the 4 KiB ingest rate right after it. The store is seeded directly (seed.ts): rows in
 * libSQL plus real blobs and sidecars on disk, synced before the server starts. Limits from
 * the same run: plain unlink of blob + sidecar + empty directories for a sample of artifacts,
 * and 4 KiB file creates with fsync right after that mass delete.
 */
import { spawnSync } from "node:child_process";
import { rmdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BUILT_IN_TYPES } from "../../src/config/schema.ts";
import { runJsonChild } from "./children.ts";
import { describeLatency } from "./load.ts";
import type { BenchContext } from "./options.ts";
import type { ProbeRequest, ProbeResult } from "./probe.ts";
import { figure, limitRow, type Row } from "./report.ts";
import { generateArtifacts, type SeededArtifact, seedMetadata, writeArtifactFiles } from "./seed.ts";
import { startStoreServer } from "./servers.ts";
import { uploadSmall } from "./small.ts";

const SECTION = "cleanup";

/** The retention periods the bench server runs with (the default config). */
const DEFAULT_POLICY = Object.fromEntries(BUILT_IN_TYPES.map((type) => [type.name, type.retentionDays]));

function syncFilesystems(): void {
  spawnSync("sync");
}

/** Deletes what the store deletes per artifact, 16 at a time: blob, sidecar, empty parents. */
async function unlinkSample(basePath: string, artifacts: readonly SeededArtifact[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < artifacts.length) {
        const artifact = artifacts[next++] as SeededArtifact;
        const blob = join(basePath, artifact.storageKey);
        await unlink(blob);
        for (let directory = dirname(blob); directory.startsWith(`${basePath}/`); directory = dirname(directory)) {
          if (
            !(await rmdir(directory).then(
              () => true,
              () => false,
            ))
          )
            break;
        }
      }
    }),
  );
  return artifacts.length / ((performance.now() - started) / 1000);
}

async function seedStore(
  basePath: string,
  expired: number,
  live: number,
): Promise<{ artifacts: SeededArtifact[]; seconds: number }> {
  const started = performance.now();
  const artifacts: SeededArtifact[] = [];
  await seedMetadata(
    join(basePath, ".store", "metadata.db"),
    // Aged against the default policy the bench server sweeps with, so exactly `expired` go.
    generateArtifacts({
      rows: expired + live,
      expired,
      basePath,
      now: Date.now(),
      seed: 99,
      policyDays: DEFAULT_POLICY,
    }),
    (artifact) => artifacts.push(artifact),
  );
  await writeArtifactFiles(basePath, artifacts);
  syncFilesystems();
  return { artifacts, seconds: (performance.now() - started) / 1000 };
}

async function limits(context: BenchContext): Promise<{ unlinkRate: number; createRate: number }> {
  const basePath = join(context.workDir, "unlink-sample");
  const { artifacts } = await seedStore(basePath, context.sizes.unlinkSample, 0);
  const unlinkRate = await unlinkSample(basePath, artifacts);
  const request: ProbeRequest = {
    workDir: context.workDir,
    level: 6,
    repetitions: 1,
    count: Math.min(2000, context.sizes.smallCount),
    ops: ["files-4k-c16"],
  };
  const probe = await runJsonChild<ProbeResult>("bun", join(import.meta.dir, "probe.ts"), [
    "--request",
    JSON.stringify(request),
  ]);
  return { unlinkRate, createRate: probe.count / (probe.seconds["files-4k-c16"] ?? Number.NaN) };
}

/** POSTs the sweep in batches of 10k (one long request could outlive the server's idle timeout). */
async function sweep(baseUrl: string): Promise<{ deleted: number; seconds: number }> {
  let deleted = 0;
  const started = performance.now();
  for (;;) {
    const response = await fetch(`${baseUrl}/v1/maintenance/cleanup?limit=10000`, { method: "POST" });
    const report = (await response.json()) as { deleted?: number };
    if (response.status !== 200) throw new Error(`cleanup: HTTP ${response.status} ${JSON.stringify(report)}`);
    deleted += report.deleted ?? 0;
    if (!report.deleted) break;
  }
  return { deleted, seconds: (performance.now() - started) / 1000 };
}

export async function runCleanup(context: BenchContext): Promise<Row[]> {
  const { cleanupExpired, cleanupLive, unlinkSample: sample, smallCount, concurrency } = context.sizes;
  context.progress(`cleanup: limits (unlink of ${sample} seeded artifacts, then 4 KiB creates)`);
  const limit = await limits(context);
  context.progress(`cleanup: seeding ${cleanupExpired} expired + ${cleanupLive} live artifacts with files`);
  const basePath = join(context.workDir, "cleanup");
  const seeded = await seedStore(basePath, cleanupExpired, cleanupLive);
  context.progress(`cleanup: seeded in ${seeded.seconds.toFixed(0)} s; sweeping on the bun server`);
  const server = await startStoreServer("bun", basePath, context.nodeScripts.serverCli);
  try {
    const swept = await sweep(server.url);
    context.progress(`cleanup: ${swept.deleted} deleted in ${swept.seconds.toFixed(1)} s; ${smallCount} uploads next`);
    const ingest = await uploadSmall(
      server.url,
      "after-cleanup",
      smallCount,
      concurrency,
      context.sizes.smallMaxSeconds,
    );
    if (swept.deleted !== cleanupExpired) {
      context.facts["cleanup note"] = `the sweep deleted ${swept.deleted} of ${cleanupExpired} expired artifacts`;
    }
    return [
      limitRow(
        SECTION,
        `plain unlink of blob + sidecar + empty dirs, c16 (${sample} artifacts)`,
        limit.unlinkRate,
        "/s",
      ),
      limitRow(SECTION, "4 KiB file create+write+fsync c16, right after that mass unlink", limit.createRate, "/s"),
      figure(
        SECTION,
        `cleanup of ${cleanupExpired} expired artifacts (of ${cleanupExpired + cleanupLive}), HTTP bun`,
        swept.deleted / swept.seconds,
        "/s",
        {
          detail: `${swept.seconds.toFixed(1)} s, seeded in ${seeded.seconds.toFixed(0)} s`,
          data: { deleted: swept.deleted, seconds: swept.seconds, seedSeconds: seeded.seconds },
          limit: { name: "plain unlink c16", value: limit.unlinkRate, unit: "/s" },
          atLeast: 5000,
        },
      ),
      figure(
        SECTION,
        `4 KiB uploads right after the cleanup, HTTP bun, c${concurrency}, durable`,
        ingest.perSecond,
        "/s",
        {
          detail: describeLatency(ingest),
          data: { operations: ingest.operations, failures: ingest.failures, p50Ms: ingest.p50Ms, p99Ms: ingest.p99Ms },
          limit: { name: "4 KiB file+fsync c16 after unlink", value: limit.createRate, unit: "/s" },
        },
      ),
    ];
  } finally {
    await server.stop();
  }
}

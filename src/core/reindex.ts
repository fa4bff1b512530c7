/**
 * `reindex`: rebuilds metadata rows from each task's `metadata.json` when the database was lost,
 * for versions whose blob exists with the recorded size.
 */
import type { StoreContext } from "./context.ts";
import { parseKey } from "./layout.ts";
import { parseTaskMetadata } from "./layout-files.ts";
import { listAll } from "./repair.ts";
import { reextractStructure } from "./structure/reextract.ts";

export interface ReindexOptions {
  dryRun?: boolean;
  onProgress?: (scannedObjects: number) => void;
}

export interface ReindexReport {
  dryRun: boolean;
  /** `metadata.json` files found (one per task). */
  metadataFiles: number;
  /** Versions given a row again (or that would be, in a dry run). */
  restored: string[];
  /** Versions listed that already have a row. */
  present: number;
  /** Files and entries that could not be used, and why. */
  skipped: { key: string; reason: string }[];
  durationMs: number;
}

/** Rebuilds missing metadata rows from each task's `metadata.json`, for versions whose blob exists with the recorded size. */
export async function reindexStore(ctx: StoreContext, options: ReindexOptions = {}): Promise<ReindexReport> {
  const started = Date.now();
  const report: ReindexReport = {
    dryRun: options.dryRun ?? false,
    metadataFiles: 0,
    restored: [],
    present: 0,
    skipped: [],
    durationMs: 0,
  };
  let scanned = 0;
  for await (const page of listAll(ctx)) {
    scanned += page.length;
    options.onProgress?.(scanned);
    for (const object of page) {
      const layout = parseKey(object.key);
      if (layout?.kind !== "task-metadata") continue;
      report.metadataFiles++;
      await restoreTask(ctx, object.key, layout, report);
    }
  }
  report.durationMs = Date.now() - started;
  ctx.logger.info(report.dryRun ? "reindex dry run" : "reindex finished", {
    metadataFiles: report.metadataFiles,
    restored: report.restored.length,
    present: report.present,
    skipped: report.skipped.length,
  });
  if (!report.dryRun && report.restored.length > 0) ctx.files.indexChanged();
  return report;
}

async function restoreTask(
  ctx: StoreContext,
  key: string,
  task: { specName: string; taskId: string },
  report: ReindexReport,
): Promise<void> {
  const object = await ctx.backend.get(key);
  if (!object) return;
  const parsed = parseTaskMetadata(await new Response(object.body).text(), task, ctx.types);
  if (typeof parsed === "string") {
    report.skipped.push({ key, reason: parsed });
    return;
  }
  for (const problem of parsed.problems) report.skipped.push({ key, reason: problem });
  for (const restore of parsed.restores) {
    const label = `${restore.specName}/${restore.taskId}/${restore.type} v${restore.version}`;
    const exists = await ctx.metadata.findVersion(restore);
    if (exists) {
      report.present++;
      continue;
    }
    const blob = await ctx.backend.head(restore.storageKey);
    if (!blob) {
      report.skipped.push({ key, reason: `${label}: blob ${restore.storageKey} is missing` });
      continue;
    }
    if (blob.size !== restore.size) {
      report.skipped.push({
        key,
        reason: `${label}: blob ${restore.storageKey} has ${blob.size} bytes, metadata.json says ${restore.size}`,
      });
      continue;
    }
    if (report.dryRun) {
      report.restored.push(label);
      continue;
    }
    const restored = await ctx.metadata.restore(restore);
    if (!restored) {
      report.present++;
      continue;
    }
    await reextractStructure(ctx, restored);
    report.restored.push(restored.uri);
  }
}

/**
 * Converts a store written by the first layout (`<spec>/<task>/v<N>/<file>[.gz]` blobs with
 * `<spec>/<task>/v<N>/<type>.metadata.json` sidecars) to the seed's tree: each artifact's latest
 * version to the seed path, older ones to `versions/v<N>/`, one `metadata.json` per task, and
 * the sidecars removed.
 *
 * Resumable and safe to interrupt: each version is moved (a rename on the filesystem), then its
 * row re-keyed, each step idempotent; a run after an interruption sees a moved blob at its new
 * key and only re-keys the row. Sidecars go only once their version's row names the new key.
 */
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ObjectInfo } from "../contracts/storage-backend.ts";
import type { StoreContext } from "./context.ts";
import { currentKey, versionKey } from "./layout.ts";
import { moveObject } from "./records.ts";

export interface ConvertOptions {
  /** Say what would move, move nothing. */
  dryRun?: boolean;
  onProgress?: (versions: number) => void;
}

export interface ConvertReport {
  dryRun: boolean;
  /** Versions moved to the seed's tree (or that would be). */
  converted: number;
  /** Old sidecars removed (or that would be). */
  sidecarsRemoved: number;
  /** Tasks whose `metadata.json` was written. */
  tasks: number;
  /** What could not be converted, and why (the rest is converted; run again after fixing it). */
  skipped: { key: string; reason: string }[];
  durationMs: number;
}

const LEGACY_BLOB = /^([^/]+)\/([^/]+)\/v(\d{1,15})\/([^/]+)$/;

/** `<spec>/<task>/v<N>/<file>`: a key of the first layout, read back. */
function legacyKey(key: string): { specName: string; taskId: string; version: number; fileName: string } | null {
  const match = LEGACY_BLOB.exec(key);
  if (!match) return null;
  const [, specName, taskId, version, fileName] = match as unknown as [string, string, string, string, string];
  return { specName, taskId, version: Number(version), fileName };
}

export async function convertLegacyLayout(ctx: StoreContext, options: ConvertOptions = {}): Promise<ConvertReport> {
  const started = Date.now();
  const dryRun = options.dryRun ?? false;
  const report: ConvertReport = { dryRun, converted: 0, sidecarsRemoved: 0, tasks: 0, skipped: [], durationMs: 0 };
  const tasks = new Map<string, { specName: string; taskId: string }>();

  // 1. Every committed row still at a first-layout key moves to the seed's tree.
  for (let after = 0; ; ) {
    const batch = await ctx.metadata.listCommittedAfter(after, 500);
    if (batch.length === 0) break;
    after = (batch.at(-1) as ArtifactRecord).id;
    for (const record of batch) {
      if (!legacyKey(record.storageKey)) continue;
      const problem = await convertVersion(ctx, record, dryRun);
      if (problem) {
        report.skipped.push({ key: record.storageKey, reason: problem });
        continue;
      }
      report.converted++;
      tasks.set(`${record.specName}/${record.taskId}`, { specName: record.specName, taskId: record.taskId });
      options.onProgress?.(report.converted);
    }
  }

  // 2. Sidecars whose version now lives in the new tree (or is gone) are no longer needed;
  // one whose version has no row (a lost database) is kept: reindex with the old release first.
  const sidecars: ObjectInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.backend.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const object of page.objects)
      if (object.key.endsWith(".metadata.json") && legacyKey(object.key)) sidecars.push(object);
    cursor = page.cursor;
  } while (cursor);
  for (const sidecar of sidecars) {
    const parsed = legacyKey(sidecar.key) as NonNullable<ReturnType<typeof legacyKey>>;
    const typeName = parsed.fileName.slice(0, -".metadata.json".length);
    const row = await ctx.metadata.findVersion({ ...parsed, type: typeName });
    const versionLeft = await ctx.backend.list({
      prefix: `${parsed.specName}/${parsed.taskId}/v${parsed.version}/`,
      limit: 10,
    });
    const blobLeft = versionLeft.objects.some((object) => !object.key.endsWith(".metadata.json"));
    // (In a dry run nothing was re-keyed: a row still at its old key would have been.)
    if ((row && legacyKey(row.storageKey) && !dryRun) || (!row && blobLeft)) {
      report.skipped.push({
        key: sidecar.key,
        reason: row
          ? "its version is not converted yet"
          : "no metadata row knows this version: run reindex with the previous release first",
      });
      continue;
    }
    report.sidecarsRemoved++;
    tasks.set(`${parsed.specName}/${parsed.taskId}`, { specName: parsed.specName, taskId: parsed.taskId });
    if (!dryRun) await ctx.backend.delete(sidecar.key);
  }

  // 3. Each task touched gets its metadata.json.
  report.tasks = tasks.size;
  if (!dryRun) {
    for (const { specName, taskId } of tasks.values()) await ctx.files.refreshTask(specName, taskId);
    ctx.files.indexChanged();
    await ctx.files.flush();
  }
  report.durationMs = Date.now() - started;
  ctx.logger.info(dryRun ? "layout conversion dry run" : "layout conversion finished", {
    converted: report.converted,
    sidecarsRemoved: report.sidecarsRemoved,
    skipped: report.skipped.length,
  });
  return report;
}

/** Moves one version to its place in the seed's tree and re-keys its row; a reason when it cannot. */
async function convertVersion(ctx: StoreContext, record: ArtifactRecord, dryRun: boolean): Promise<string | null> {
  const type = ctx.types.get(record.type);
  if (!type) return `type ${record.type} is not configured`;
  return ctx.files.withTask(record.specName, record.taskId, async () => {
    const latest = await ctx.metadata.findVersion({
      specName: record.specName,
      taskId: record.taskId,
      type: type.name,
    });
    const target =
      latest?.id === record.id
        ? currentKey(record.specName, record.taskId, type, record.compressed)
        : versionKey(record.specName, record.taskId, record.version, type, record.compressed);
    if (dryRun) return null;
    const there = await ctx.backend.head(target);
    if (!(there && there.size === record.size)) {
      if (there) return `${target} already holds another object (${there.size} bytes); move it away first`;
      const contentType = record.compressed ? "application/gzip" : record.mimeType;
      if (!(await moveObject(ctx, record.storageKey, target, contentType)))
        return `blob ${record.storageKey} is missing`;
    } else if (await ctx.backend.head(record.storageKey)) {
      // Moved by a copy that an interruption cut before the old key went (object stores).
      await ctx.backend.delete(record.storageKey);
    }
    await ctx.metadata.rekey(record.id, record.storageKey, target);
    return null;
  });
}

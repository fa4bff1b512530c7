/**
 * Deletion, retention sweeps, pins and tags, and usage statistics.
 * Delete is: row → `deleting`, blob and sidecar deleted, row deleted. Every step is
 * idempotent, so a crash in between is finished by the next delete, sweep or gc.
 */

import { ArtifactStoreError, isDiskFull } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ArtifactMetadata, ArtifactTarget } from "../contracts/types.ts";
import { forEachConcurrently } from "../lib/concurrency.ts";
import type { StoreContext } from "./context.ts";
import { type DiskReport, diskReport } from "./disk-space.ts";
import type { StoreMetricsSnapshot } from "./metrics.ts";
import { MAX_TAGS, normalizeTags } from "./names.ts";
import { quotaWarnings } from "./quota.ts";
import { checkRef, notFound, publicMetadata, removeObjects, requireRecord, writeSidecar } from "./records.ts";

/** Blob deletions in flight at once during sweeps. */
const DELETE_CONCURRENCY = 16;

/**
 * Deletes one version (a URI, or a ref with `version`) or every version of an artifact
 * (a ref without `version`). Returns how many versions were deleted; 0 when there was nothing.
 */
export async function deleteArtifacts(ctx: StoreContext, target: ArtifactTarget): Promise<number> {
  const records =
    typeof target === "string"
      ? await ctx.metadata.findForDelete({ uri: target })
      : await ctx.metadata.findForDelete(checkRef(target));
  const deleted = (await deleteRecords(ctx, records)).length;
  ctx.metrics.count("deletes", deleted);
  return deleted;
}

/**
 * Marks, deletes objects, removes rows; returns the versions actually deleted. Rows whose
 * objects could not be deleted stay `deleting`; a sweep skips versions no longer expired
 * (pinned meanwhile).
 */
export async function deleteRecords(
  ctx: StoreContext,
  candidates: ArtifactRecord[],
  options: { expiredBy?: number } = {},
): Promise<ArtifactRecord[]> {
  if (candidates.length === 0) return [];
  const ids = candidates.map((record) => record.id);
  let marked: number[];
  try {
    marked = await ctx.metadata.markDeleting(ids, options);
  } catch (error) {
    // The disk is full and no headroom is left. An explicit delete then frees the objects' bytes
    // first, so that its row writes find room (a sweep never does: a version pinned since it was
    // listed must keep its bytes). A crash in between leaves rows without objects, which the
    // next delete of them, or verify, finishes.
    if (!isDiskFull(error) || options.expiredBy !== undefined) throw error;
    ctx.logger.warn("the disk is full: deleting the objects before their rows", { versions: ids.length });
    await forEachConcurrently(candidates, DELETE_CONCURRENCY, (record) => removeObjects(ctx, record));
    marked = await ctx.metadata.markDeleting(ids, options);
  }
  // Rows another caller already marked are still ours to finish (deletion is idempotent); but a
  // sweep deletes only what is still expired when it marks it.
  const markedIds = new Set(marked);
  const records =
    options.expiredBy === undefined ? candidates : candidates.filter((record) => markedIds.has(record.id));
  const done: ArtifactRecord[] = [];
  const failures: unknown[] = [];
  await forEachConcurrently(records, DELETE_CONCURRENCY, async (record) => {
    try {
      await removeObjects(ctx, record);
      done.push(record);
    } catch (error) {
      failures.push(error);
      ctx.logger.warn("could not delete stored objects; the version stays marked deleting and is retried", {
        uri: record.uri,
        error: String(error),
      });
    }
  });
  await ctx.metadata.remove(done.map((record) => record.id));
  if (failures.length > 0 && done.length === 0) throw failures[0];
  return done;
}

export interface CleanupOptions {
  /** List what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Versions per batch (default 500). */
  batchSize?: number;
  /** Stop after this many versions (default: all expired). In a dry run, how many to list (default 1000). */
  limit?: number;
  /** Reference time, ms since the epoch (default now). */
  now?: number;
  /** Called after each batch with the running total. */
  onProgress?: (deleted: number) => void;
}

export interface CleanupCandidate {
  uri: string;
  specName: string;
  taskId: string;
  type: string;
  version: number;
  size: number;
  createdAt: string;
  expiresAt: string;
  /** Why it goes, in words. */
  reason: string;
}

export interface CleanupReport {
  dryRun: boolean;
  /** Versions deleted (0 in a dry run). */
  deleted: number;
  /** Stored bytes freed (or that would be freed, for the listed candidates of a dry run). */
  freedBytes: number;
  /** Every expired version at the reference time (dry run), or those that could not be deleted. */
  expiredTotal: number;
  /** Dry run: the versions that would go, oldest expiry first, up to `limit`. */
  candidates: CleanupCandidate[];
  batches: number;
  durationMs: number;
}

export async function cleanupExpired(ctx: StoreContext, options: CleanupOptions = {}): Promise<CleanupReport> {
  const started = Date.now();
  const now = options.now ?? ctx.now();
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, 10_000));
  if (options.dryRun) {
    const listed = await ctx.metadata.listExpired(now, Math.max(0, options.limit ?? 1000));
    const candidates = listed.map((record) => describeExpiry(ctx, record));
    return {
      dryRun: true,
      deleted: 0,
      freedBytes: candidates.reduce((sum, candidate) => sum + candidate.size, 0),
      expiredTotal: await ctx.metadata.countExpired(now),
      candidates,
      batches: 0,
      durationMs: Date.now() - started,
    };
  }
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  let deleted = 0;
  let freedBytes = 0;
  let batches = 0;
  while (deleted < limit) {
    const batch = await ctx.metadata.listExpired(now, Math.min(batchSize, limit - deleted));
    if (batch.length === 0) break;
    batches++;
    const removed = await deleteRecords(ctx, batch, { expiredBy: now });
    const count = removed.length;
    deleted += count;
    // Only what went: versions pinned meanwhile and failed deletes freed nothing.
    freedBytes += removed.reduce((sum, record) => sum + record.size, 0);
    options.onProgress?.(deleted);
    if (count === 0 || batch.length < batchSize) break;
  }
  ctx.metrics.count("expiredDeleted", deleted);
  if (deleted > 0) ctx.logger.info("retention sweep deleted expired artifacts", { deleted, freedBytes, batches });
  return {
    dryRun: false,
    deleted,
    freedBytes,
    expiredTotal: await ctx.metadata.countExpired(now),
    candidates: [],
    batches,
    durationMs: Date.now() - started,
  };
}

function describeExpiry(ctx: StoreContext, record: ArtifactRecord): CleanupCandidate {
  const days = ctx.types.get(record.type)?.retentionDays;
  const expiresAt = record.expiresAt ?? "";
  return {
    uri: record.uri,
    specName: record.specName,
    taskId: record.taskId,
    type: record.type,
    version: record.version,
    size: record.size,
    createdAt: record.createdAt,
    expiresAt,
    reason: `uploaded ${record.createdAt}, expired ${expiresAt}: ${record.type} artifacts are kept ${days ?? "?"} days and this version is not pinned`,
  };
}

export interface ArtifactChange {
  pinned?: boolean;
  /** Replace every tag. */
  tags?: string[];
  addTags?: string[];
  removeTags?: string[];
}

/** Pins/unpins a version and changes its tags. Pinned versions never expire. */
export async function updateArtifact(
  ctx: StoreContext,
  target: ArtifactTarget,
  change: ArtifactChange,
): Promise<ArtifactMetadata> {
  if (typeof change !== "object" || change === null)
    throw new ArtifactStoreError("E_INVALID_INPUT", "expected a change object");
  if (change.pinned !== undefined && typeof change.pinned !== "boolean") {
    throw new ArtifactStoreError("E_INVALID_INPUT", "pinned must be true or false", { details: { field: "pinned" } });
  }
  const record = await requireRecord(ctx, target);
  const setTags = change.tags === undefined ? undefined : normalizeTags(change.tags);
  const addTags = change.addTags === undefined ? undefined : normalizeTags(change.addTags);
  const removeTags = change.removeTags === undefined ? undefined : normalizeTags(change.removeTags);
  // Checked before writing, so a refused change leaves the version as it was.
  const kept = setTags ? [] : record.tags.filter((tag) => !removeTags?.includes(tag));
  if (new Set([...kept, ...(setTags ?? []), ...(addTags ?? [])]).size > MAX_TAGS) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `at most ${MAX_TAGS} tags per artifact`, {
      details: { field: "tags" },
    });
  }
  const updated = await ctx.metadata.update(record.id, {
    ...(change.pinned === undefined ? {} : { pinned: change.pinned }),
    ...(setTags === undefined ? {} : { setTags }),
    ...(addTags === undefined ? {} : { addTags }),
    ...(removeTags === undefined ? {} : { removeTags }),
  });
  if (!updated) throw notFound(target);
  // reindex rebuilds rows from the sidecar: pins and tags must outlive the database too.
  await writeSidecar(ctx, updated, publicMetadata(updated));
  return publicMetadata(updated);
}

export interface UsageGroup {
  count: number;
  storedBytes: number;
  originalBytes: number;
}

export interface StoreStats {
  /** Committed versions. */
  artifacts: number;
  /** Stored (compressed) bytes of committed versions. */
  storedBytes: number;
  /** Content bytes of committed versions. */
  originalBytes: number;
  /** originalBytes / storedBytes (1 when empty). */
  compressionRatio: number;
  pendingUploads: number;
  corruptArtifacts: number;
  pinnedArtifacts: number;
  byType: Record<string, UsageGroup>;
  bySpec: Record<string, UsageGroup>;
  quota: {
    /** null: no quota. */
    maxBytes: number | null;
    /** What the quota counts: committed, pending and not yet deleted bytes. */
    usedBytes: number;
    /** usedBytes / maxBytes, or null without a quota. */
    usedRatio: number | null;
    warnThreshold: number;
    warning: string | null;
  };
  /** The volume holding base_path (fs backend): free space, the write floor, the reserve; null for object stores. */
  disk: DiskReport | null;
  backend: string;
  codecs: string;
  counters: StoreMetricsSnapshot;
}

export async function collectStats(ctx: StoreContext): Promise<StoreStats> {
  const usage = await ctx.metadata.usage();
  const { maxBytes, warnThreshold } = ctx.settings.storageQuota;
  const warnings = await quotaWarnings(ctx);
  const group = (rows: typeof usage.byType) =>
    Object.fromEntries(
      rows.map((row) => [
        row.key,
        { count: row.count, storedBytes: row.storedBytes, originalBytes: row.originalBytes },
      ]),
    );
  return {
    artifacts: usage.committedCount,
    storedBytes: usage.committedBytes,
    originalBytes: usage.originalBytes,
    compressionRatio: usage.committedBytes === 0 ? 1 : Number((usage.originalBytes / usage.committedBytes).toFixed(3)),
    pendingUploads: usage.pendingCount,
    corruptArtifacts: usage.corruptCount,
    pinnedArtifacts: usage.pinnedCount,
    byType: group(usage.byType),
    bySpec: group(usage.bySpec),
    quota: {
      maxBytes,
      usedBytes: usage.reservedBytes,
      usedRatio: maxBytes === null ? null : Number((usage.reservedBytes / maxBytes).toFixed(4)),
      warnThreshold,
      warning: warnings[0] ?? null,
    },
    disk: await diskReport(ctx),
    backend: ctx.backend.name,
    codecs: ctx.codecs.name,
    counters: ctx.metrics.snapshot(),
  };
}

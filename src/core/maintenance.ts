/** Retention sweeps, pins and tags, and usage statistics (deletion itself is `delete.ts`). */

import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord, RetentionRule } from "../contracts/metadata-repository.ts";
import type { ArtifactMetadata, ArtifactTarget } from "../contracts/types.ts";
import type { StoreContext } from "./context.ts";
import { deleteRecords } from "./delete.ts";
import { type DiskReport, diskReport } from "./disk-space.ts";
import type { StoreMetricsSnapshot } from "./metrics.ts";
import { MAX_TAGS, normalizeTags } from "./names.ts";
import { quotaWarnings } from "./quota.ts";
import { notFound, publicMetadata, requireRecord } from "./records.ts";

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
  /** The rule that made it expire: `retention_policy.<type>` (the current config's). */
  rule: string;
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
    const listed = await ctx.metadata.listExpired(now, Math.max(0, options.limit ?? 1000), retentionRules(ctx));
    const candidates = listed.map((record) => describeExpiry(ctx, record));
    return {
      dryRun: true,
      deleted: 0,
      freedBytes: candidates.reduce((sum, candidate) => sum + candidate.size, 0),
      expiredTotal: await ctx.metadata.countExpired(now, retentionRules(ctx)),
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
    const batch = await ctx.metadata.listExpired(now, Math.min(batchSize, limit - deleted), retentionRules(ctx));
    if (batch.length === 0) break;
    batches++;
    const removed = await deleteRecords(ctx, batch, { expiredBy: now, policy: retentionRules(ctx) });
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
    expiredTotal: await ctx.metadata.countExpired(now, retentionRules(ctx)),
    candidates: [],
    batches,
    durationMs: Date.now() - started,
  };
}

/** The current policy: one rule per configured type that does not keep forever. */
export function retentionRules(ctx: StoreContext): RetentionRule[] {
  return [...ctx.types.values()].flatMap((type) =>
    type.retentionDays === null ? [] : [{ type: type.name, retentionDays: type.retentionDays }],
  );
}

function describeExpiry(ctx: StoreContext, record: ArtifactRecord): CleanupCandidate {
  const days = ctx.types.get(record.type)?.retentionDays ?? null;
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
    rule: `retention_policy.${record.type}`,
    reason: `retention_policy.${record.type} (current config) keeps ${record.type} artifacts ${keptFor(days)}; uploaded ${record.createdAt}, so it expired ${expiresAt}; it is not pinned`,
  };
}

/** A retention period in words: "forever", "1 day", "7 days", "0.5 days (12 hours)". */
export function keptFor(days: number | null): string {
  if (days === null) return "forever";
  if (days === 1) return "1 day";
  if (days >= 1) return `${days} days`;
  const hours = days * 24;
  const finer = hours >= 1 ? `${+hours.toFixed(2)} hours` : `${+(hours * 3600).toFixed(2)} seconds`;
  return `${days} days (${finer})`;
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
  // reindex rebuilds rows from metadata.json: pins and tags must outlive the database too.
  await ctx.files.refreshTask(updated.specName, updated.taskId);
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

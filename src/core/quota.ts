/**
 * The storage quota, in one place: every write asks this module. `max_size_gb` counts the
 * stored bytes of every row (pending, committed, deleting); an upload that would pass it
 * fails with E_QUOTA_EXCEEDED and publishes nothing.
 *
 * An upload goes through three steps:
 * 1. **reserve** — {@link reserveQuota} refuses at once when the store is already full and
 *    gives the bound to reserve with the pending row (`reserveVersion`), which takes it only
 *    when it fits: the row's `size` is then the bound, else 0;
 * 2. **check** — {@link QuotaGuard.check} on every stored chunk stops the stream as soon as
 *    usage at the start plus the bytes so far would pass the limit;
 * 3. **settle** — {@link QuotaGuard.settle} at the end makes the row hold the exact stored
 *    size, atomically in the database (another upload may have taken room meanwhile); a row
 *    that already holds at least that much (the bound fitted) needs nothing.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { StoreContext } from "./context.ts";
import { formatBytes } from "./format.ts";

export interface QuotaGuard {
  /** The limit in stored bytes, or null for no quota. */
  readonly maxBytes: number | null;
  /** Throws E_QUOTA_EXCEEDED once `storedBytes` more than the usage at the start would pass the limit. */
  check(storedBytes: number): void;
  /** Makes `record`'s row reserve `size` stored bytes, or throws E_QUOTA_EXCEEDED (publish nothing then). */
  settle(record: ArtifactRecord, size: number): Promise<void>;
  /** The warnings a write response carries once this upload's `storedBytes` are counted. */
  warnings(storedBytes: number): Promise<string[]>;
}

/** Step 1 for uploads: refuses at once when the store is already full; the guard for steps 2 and 3. */
export async function reserveQuota(ctx: StoreContext): Promise<QuotaGuard> {
  return quotaGuard(ctx, await assertQuotaRoom(ctx));
}

/**
 * A guard counting from `usedAtStart` (bytes in use when the write began). Rewriting an object
 * that is already counted (one-member gzip) starts from the usage less that object's size.
 */
export function quotaGuard(ctx: StoreContext, usedAtStart: number): QuotaGuard {
  const maxBytes = ctx.settings.storageQuota.maxBytes;
  return {
    maxBytes,
    check(storedBytes) {
      if (maxBytes !== null && usedAtStart + storedBytes > maxBytes) throw quotaExceeded(ctx, maxBytes);
    },
    async settle(record, size) {
      // The row reserved the bound (when it fitted) or 0: only a larger final size asks again.
      if (size <= record.size) return;
      if (!(await ctx.metadata.reserveStoredBytes(record.id, size, maxBytes))) throw quotaExceeded(ctx, maxBytes ?? 0);
    },
    // Usage seen at the start plus this upload: exact unless other uploads ran at the same time.
    warnings: (storedBytes) => quotaWarnings(ctx, usedAtStart + storedBytes),
  };
}

/**
 * Refuses at once when the store is already full, or when `incomingBytes` (known up front, as a
 * live-log chunk's) would not fit; returns the bytes in use.
 */
export async function assertQuotaRoom(ctx: StoreContext, incomingBytes = 0): Promise<number> {
  const maxBytes = ctx.settings.storageQuota.maxBytes;
  if (maxBytes === null) return 0;
  const used = await ctx.metadata.reservedBytes();
  if (used >= maxBytes || used + incomingBytes > maxBytes) throw quotaExceeded(ctx, maxBytes);
  return used;
}

/**
 * The context for a write that replaces `replacedBytes` the quota already counts and that go
 * once it commits (a live log's seal replacing its chunks): the write may use their room.
 */
export function withRoomOf(ctx: StoreContext, replacedBytes: number): StoreContext {
  const quota = ctx.settings.storageQuota;
  if (quota.maxBytes === null) return ctx;
  return {
    ...ctx,
    settings: { ...ctx.settings, storageQuota: { ...quota, maxBytes: quota.maxBytes + replacedBytes } },
  };
}

/** The warning once usage passes the threshold; `knownUsage` spares the lookup when the caller has it. */
export async function quotaWarnings(ctx: StoreContext, knownUsage?: number): Promise<string[]> {
  const { maxBytes, warnThreshold } = ctx.settings.storageQuota;
  if (maxBytes === null) return [];
  const used = knownUsage ?? (await ctx.metadata.reservedBytes());
  const ratio = used / maxBytes;
  if (ratio < warnThreshold) return [];
  return [
    `storage quota ${(ratio * 100).toFixed(1)}% used (${formatBytes(used)} of ${formatBytes(maxBytes)}); ` +
      "uploads fail once it is full: delete or expire artifacts, or raise storage_quota.max_size_gb",
  ];
}

export function quotaExceeded(ctx: StoreContext, maxBytes: number): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_QUOTA_EXCEEDED",
    `storage quota of ${formatBytes(maxBytes)} would be exceeded; nothing was stored. Delete or expire artifacts, or raise storage_quota.max_size_gb`,
    { details: { maxBytes, backend: ctx.backend.name } },
  );
}

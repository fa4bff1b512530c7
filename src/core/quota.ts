/** The storage quota: refusing early, warning near the limit. */

import { ArtifactStoreError } from "../contracts/errors.ts";
import type { StoreContext } from "./context.ts";
import { formatBytes } from "./format.ts";

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

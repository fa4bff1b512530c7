import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ArtifactMetadata } from "../contracts/types.ts";
import { type StoreContext, sidecarKey } from "./context.ts";

export function publicMetadata(record: ArtifactRecord): ArtifactMetadata {
  const { id: _id, storageKey: _storageKey, ...metadata } = record;
  return metadata;
}

/** Deletes a version's blob and sidecar (idempotent). */
export async function removeObjects(ctx: StoreContext, record: ArtifactRecord): Promise<void> {
  await ctx.backend.delete(record.storageKey);
  await ctx.backend.delete(sidecarKey(record.specName, record.taskId, record.version, record.type));
}

/** A version's row as the core uses it: looked up from what a user names, made public, its objects written and removed. */

import { streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ArtifactMetadata, ArtifactRef, ArtifactTarget } from "../contracts/types.ts";
import type { StoreContext } from "./context.ts";
import { encodeSidecar, sidecarKey } from "./layout.ts";
import { assertValidName, assertValidVersion } from "./names.ts";

export function publicMetadata(record: ArtifactRecord): ArtifactMetadata {
  const { id: _id, storageKey: _storageKey, ...metadata } = record;
  return metadata;
}

/** Deletes a version's blob and sidecar (idempotent). */
export async function removeObjects(ctx: StoreContext, record: ArtifactRecord): Promise<void> {
  await ctx.backend.delete(record.storageKey);
  await ctx.backend.delete(sidecarKey(record.specName, record.taskId, record.version, record.type));
}

/** Writes (or replaces) the sidecar `reindex` rebuilds the version's row from. */
export async function writeSidecar(
  ctx: StoreContext,
  record: ArtifactRecord,
  metadata: ArtifactMetadata,
): Promise<void> {
  const bytes = encodeSidecar(metadata);
  await ctx.backend.put(
    sidecarKey(record.specName, record.taskId, record.version, record.type),
    streamFromBytes(bytes),
    // Only a rebuild after losing the database reads sidecars: their fsyncs may be grouped.
    { contentType: "application/json", contentLength: bytes.length, durability: "deferred" },
  );
}

export async function findRecord(ctx: StoreContext, target: ArtifactTarget): Promise<ArtifactRecord | null> {
  if (typeof target === "string") {
    if (target.length === 0 || target.length > 4096) {
      throw new ArtifactStoreError("E_INVALID_INPUT", "uri must be a non-empty string of at most 4096 characters");
    }
    return ctx.metadata.findByUri(target);
  }
  return ctx.metadata.findVersion(checkRef(target));
}

export function checkRef(ref: ArtifactRef): ArtifactRef {
  if (typeof ref !== "object" || ref === null) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "expected a URI or { specName, taskId, type, version? }");
  }
  const checked: ArtifactRef = {
    specName: assertValidName("specName", ref.specName),
    taskId: assertValidName("taskId", ref.taskId),
    type: assertValidName("type", ref.type),
  };
  if (ref.version !== undefined) checked.version = assertValidVersion(ref.version);
  return checked;
}

export async function requireRecord(ctx: StoreContext, target: ArtifactTarget): Promise<ArtifactRecord> {
  const record = await findRecord(ctx, target);
  if (!record) throw notFound(target);
  return record;
}

export function notFound(target: ArtifactTarget): ArtifactStoreError {
  const what =
    typeof target === "string"
      ? target
      : `${target.specName}/${target.taskId}/${target.type}${target.version === undefined ? " (latest)" : ` v${target.version}`}`;
  return new ArtifactStoreError("E_NOT_FOUND", `no artifact ${what}`);
}

/** Flags a version corrupt, counts and logs it. Never throws: the caller is already failing. */
export async function flagCorrupt(ctx: StoreContext, record: ArtifactRecord, reason: string): Promise<void> {
  ctx.metrics.count("checksumFailures");
  ctx.logger.error("artifact failed verification and is flagged corrupt", { uri: record.uri, reason });
  await ctx.metadata.setIntegrity(record.id, "corrupt").catch((error: unknown) => {
    ctx.logger.error("could not flag artifact corrupt", { uri: record.uri, error: String(error) });
  });
}

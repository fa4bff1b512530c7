/**
 * Stage 3 of the upload pipeline, publish: put the encoded stream (create-only), check the
 * stored size, rewrite a multi-member gzip as one member, write the sidecar, commit the row
 * (superseding older versions when versioning is off) and remove what it superseded.
 */

import { toHex } from "../codec/engines.ts";
import { observeStream } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ObjectInfo } from "../contracts/storage-backend.ts";
import type { ArtifactMetadata } from "../contracts/types.ts";
import type { StoreContext } from "./context.ts";
import { quotaGuard } from "./quota.ts";
import { publicMetadata, removeObjects, writeSidecar } from "./records.ts";
import type { SecretScanner } from "./redaction/scanner.ts";
import {
  type Digested,
  digestStored,
  type EncodedUpload,
  maskStream,
  type UploadMeasurement,
} from "./upload-encode.ts";
import type { UploadPlan } from "./upload-plan.ts";

export interface PublishInput {
  plan: UploadPlan;
  /** The pending row holding the version number and the quota reservation. */
  record: ArtifactRecord;
  encoded: EncodedUpload;
  signal: AbortSignal | undefined;
  /** Called once the object is in storage: from then on a failure must remove it (with the row). */
  onPublished(): void;
}

/** Stage 3: the committed row and what encoding measured. */
export async function publishUpload(
  ctx: StoreContext,
  { plan, record, encoded, signal, onPublished }: PublishInput,
): Promise<{ record: ArtifactRecord; measurement: UploadMeasurement }> {
  const info = await ctx.backend.put(record.storageKey, encoded.stream, {
    ifNotExists: true,
    contentType: ctx.settings.compressionEnabled ? "application/gzip" : plan.mimeType,
    ...(encoded.knownStoredLength === undefined ? {} : { contentLength: encoded.knownStoredLength }),
    ...(signal ? { signal } : {}),
  });
  onPublished();
  const measurement = await encoded.measured;
  let storedInfo = info;
  if (measurement.multiMember || measurement.maskAfterPublish) {
    // A mask pass is a fresh scanner over the published bytes; the findings stay the first pass's.
    const masking =
      measurement.maskAfterPublish && plan.redaction
        ? { scanner: ctx.redaction.scannerFor(plan.type.name) as SecretScanner, original: measurement.original }
        : undefined;
    ({ stored: measurement.stored, info: storedInfo } = await recompressAsOneMember(
      ctx,
      record,
      measurement.stored.size,
      masking,
    ));
  }
  const { stored, original } = measurement;
  if (storedInfo.size !== stored.size) {
    throw new ArtifactStoreError(
      "E_BACKEND",
      `[${ctx.backend.name}] stored ${storedInfo.size} bytes for ${record.storageKey}, expected ${stored.size}`,
    );
  }
  const structure = plan.extractor?.finish();
  const metadata: ArtifactMetadata = {
    ...publicMetadata(record),
    size: stored.size,
    checksum: stored.checksum,
    originalSize: original.size,
    originalChecksum: original.checksum,
    tags: plan.tags,
    summary: structure?.summary ?? null,
    secrets: measurement.secrets,
    state: "committed",
  };
  await writeSidecar(ctx, record, metadata);
  const committed = await ctx.metadata.commit(record, {
    size: stored.size,
    checksum: stored.checksum,
    originalSize: original.size,
    originalChecksum: original.checksum,
    tags: plan.tags,
    supersedeOlder: !ctx.settings.versioningEnabled,
    ...(structure ? { structure } : {}),
    secrets: measurement.secrets,
  });
  if (!committed) {
    throw new ArtifactStoreError(
      "E_CONFLICT",
      `the reservation for ${record.specName}/${record.taskId}/${record.type} v${record.version} was removed while uploading (stale upload cleaned up?); retry the upload`,
    );
  }
  await removeSuperseded(ctx, committed.superseded);
  return { record: committed.record, measurement };
}

/**
 * Rewrites a just-published, not yet committed multi-member gzip object as one member
 * (browsers, `curl --compressed` and several libraries stop after the first member).
 * Nobody can read the key yet: its row is still pending.
 */
export async function recompressAsOneMember(
  ctx: StoreContext,
  record: ArtifactRecord,
  firstSize: number,
  /** Also mask secrets (a client's gzip kept as sent turned out to hold some): the content's new digest is measured. */
  masking?: { scanner: SecretScanner; original: Digested },
): Promise<{ stored: Digested; info: ObjectInfo }> {
  const object = await ctx.backend.get(record.storageKey);
  if (!object)
    throw new ArtifactStoreError("E_BACKEND", `[${ctx.backend.name}] ${record.storageKey} vanished before commit`);
  // The first object is counted already: the rewrite starts from the usage without it.
  const stored = digestStored(ctx, record, quotaGuard(ctx, (await ctx.metadata.reservedBytes()) - firstSize));
  let content = object.body.pipeThrough(ctx.codecs.createGunzip());
  if (masking) {
    const hasher = ctx.codecs.createSha256();
    let size = 0;
    content = content.pipeThrough(maskStream(masking.scanner)).pipeThrough(
      observeStream({
        onChunk(chunk) {
          size += chunk.length;
          hasher.update(chunk);
        },
        onEnd() {
          masking.original.size = size;
          masking.original.checksum = toHex(hasher.digest());
        },
      }),
    );
  }
  const body = content.pipeThrough(ctx.codecs.createGzip(ctx.settings.compressionLevel)).pipeThrough(stored.stream);
  const info = await ctx.backend.put(record.storageKey, body);
  const digest = await stored.digest;
  ctx.logger.info(
    masking ? "masked secrets in a gzip upload" : "recompressed a multi-member gzip upload into one member",
    {
      uri: record.uri,
      receivedBytes: firstSize,
      storedBytes: digest.size,
    },
  );
  return { stored: digest, info };
}

/** Versioning off: the versions a commit superseded go now; leftovers are retried by gc. */
async function removeSuperseded(ctx: StoreContext, superseded: ArtifactRecord[]): Promise<void> {
  for (const old of superseded) {
    try {
      await removeObjects(ctx, old);
      await ctx.metadata.remove([old.id]);
    } catch (error) {
      ctx.logger.warn("could not remove a superseded version; it stays marked deleting for gc", {
        uri: old.uri,
        error: String(error),
      });
    }
  }
}

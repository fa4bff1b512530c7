/**
 * The upload pipeline, as three named stages:
 * 1. **plan** (`upload-plan.ts`): every check that needs no I/O, in memory or streamed, the
 *    stored-size bound to reserve;
 * 2. **encode** (`upload-encode.ts`): body → size limit → SHA-256(original) → gzip →
 *    SHA-256 + count(stored), quota checked per chunk; measured as it runs;
 * 3. **publish** (`upload-publish.ts`): backend.put(upload key) → size check → one-member gzip →
 *    row publishing → moved onto the seed path → `metadata.json` → row committed.
 * Between 1 and 2 the quota is reserved and the version's `pending` row inserted. Any check
 * that fails errors the stream before it closes, and `StorageBackend.put` publishes only
 * streams that close cleanly: nothing is published, and the reservation goes.
 */
import { ArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import { guardSource } from "./content.ts";
import type { StoreContext } from "./context.ts";
import { afterDiskFull, assertDiskRoom, withHeadroom } from "./disk-space.ts";
import { blobLocation, currentKey } from "./layout.ts";
import { type QuotaGuard, quotaWarnings, reserveQuota } from "./quota.ts";
import { publicMetadata, removeObjects } from "./records.ts";
import { type EncodedUpload, encodeInMemory, encodeStream, type UploadMeasurement } from "./upload-encode.ts";
import { planUpload, type UploadInput, type UploadPlan, type UploadResult } from "./upload-plan.ts";
import { publishUpload } from "./upload-publish.ts";

export type { UploadInput, UploadResult } from "./upload-plan.ts";

export async function uploadArtifact(ctx: StoreContext, input: UploadInput): Promise<UploadResult> {
  const plan = planUpload(ctx, input);
  if (input.signal?.aborted) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "upload aborted before the content ended; nothing was stored", {
      cause: input.signal.reason,
    });
  }
  const small = plan.inMemory ? encodeInMemory(ctx, input, plan, plan.inMemory) : undefined;
  const source = small ? undefined : guardSource(input);
  let quota: QuotaGuard;
  let record: ArtifactRecord;
  try {
    await assertDiskRoom(ctx, small?.measurement.stored.size);
    // Its own transaction checks the quota: a refusal takes the normal path, which says so.
    const inline = small && (await commitInline(ctx, plan, small));
    if (inline) {
      countUpload(ctx, small.measurement);
      return { ...publicMetadata(inline.record), warnings: await quotaWarnings(ctx, inline.usedBytes) };
    }
    quota = await reserveQuota(ctx);
    record = await reserveVersion(ctx, plan, small ? small.measurement.stored.size : plan.reserveBound);
  } catch (error) {
    await source?.cancel(error).catch(() => {});
    throw countFailure(ctx, error);
  }

  let published = false;
  let publishing = false;
  try {
    let encoded: EncodedUpload;
    if (small) {
      await quota.settle(record, small.measurement.stored.size);
      encoded = small;
    } else encoded = encodeStream(ctx, input, plan, source as ReadableStream<Uint8Array>, record, quota);
    const committed = await publishUpload(ctx, {
      plan,
      record,
      encoded,
      signal: input.signal,
      onPublished: () => {
        published = true;
      },
      onPublishing: () => {
        publishing = true;
      },
    });
    countUpload(ctx, committed.measurement);
    return { ...publicMetadata(committed.record), warnings: await quota.warnings(committed.measurement.stored.size) };
  } catch (error) {
    if (publishing) {
      // The row records the intent: gc finishes this publish (or a retry of it does).
      await afterDiskFull(ctx, error);
      throw countFailure(ctx, error);
    }
    // The reservation goes first, and the objects only with it: when the row committed after all
    // (a commit whose answer was lost, a WAL fsync that failed afterwards), its bytes must stay.
    // When the row cannot be reached now, both stay for gc, which removes them together.
    // On a full disk the reserved headroom lets the row go all the same.
    const abandoned = await withHeadroom(ctx, () => ctx.metadata.abandon(record.id)).catch((abandonError: unknown) => {
      ctx.logger.error("could not remove the reservation of a failed upload; it counts as pending until gc", {
        uri: record.uri,
        error: String(abandonError),
      });
      return false;
    });
    if (published && abandoned) await removeObjects(ctx, record).catch(() => {});
    await afterDiskFull(ctx, error);
    throw countFailure(ctx, error);
  }
}

/** The metrics of an upload that committed (inline or published). */
function countUpload(ctx: StoreContext, { original, stored, secrets }: UploadMeasurement): void {
  ctx.metrics.count("uploads");
  ctx.metrics.count("uploadedBytes", original.size);
  ctx.metrics.count("storedBytesWritten", stored.size);
  if (secrets) ctx.metrics.secrets("secretsFound", secrets.findings);
}

/** Stored sizes up to this are committed inline: bytes and row in one transaction (see `commitInline`). */
export const INLINE_LIMIT = 64 * 1024;

/**
 * A small first version of its series, in ONE transaction: its number, its row committed at the
 * seed path with its final figures, tags, structure, secrets and its stored bytes (the WAL fsync
 * of that group commit is the upload's only one). No file is written now: the task's next turn
 * materialises it (`task-inline.ts`), a background pass a moment later. Null (nothing done) when
 * the upload takes the normal path: too large, a database that cannot hold bytes inline (not a
 * local file), a series that has a version already (a replacement materialises first and goes
 * through the publish protocol), an object at the seed path no row knows, or a quota that
 * does not fit (the normal path says so).
 */
async function commitInline(
  ctx: StoreContext,
  plan: UploadPlan,
  small: EncodedUpload & { measurement: UploadMeasurement; storedBytes: Uint8Array },
): Promise<{ record: ArtifactRecord; usedBytes: number } | null> {
  const { stored, original, secrets } = small.measurement;
  if (
    !ctx.inlineSmallUploads ||
    !ctx.metadata.commitInline ||
    stored.size > INLINE_LIMIT ||
    small.measurement.multiMember
  )
    return null;
  const series = { specName: plan.specName, taskId: plan.taskId, type: plan.type.name };
  const compressed = ctx.settings.compressionEnabled;
  const storageKey = currentKey(plan.specName, plan.taskId, plan.type, compressed);
  // A file at the seed path: a replacement (the usual case, spared a transaction that would
  // insert nothing) or an object no row knows (never overwritten). Either way the normal path.
  if (await ctx.backend.head(storageKey)) return null;
  const structure = plan.extractor?.finish();
  const committed = await ctx.metadata.commitInline({
    ...series,
    compressed,
    mimeType: plan.mimeType,
    metadata: plan.metadata,
    createdAt: ctx.now(),
    retentionDays: null,
    maxBytes: ctx.settings.storageQuota.maxBytes,
    storageKey,
    values: {
      size: stored.size,
      checksum: stored.checksum,
      originalSize: original.size,
      originalChecksum: original.checksum,
      tags: plan.tags,
    },
    bytes: small.storedBytes,
    ...(structure ? { structure } : {}),
    secrets,
  });
  if (!committed) {
    // The normal path publishes it: its commit stores the structure read here.
    if (structure) plan.extractor = { write() {}, finish: () => structure };
    return null;
  }
  ctx.files.unwritten.add(committed.record.id);
  ctx.files.materialiseSoon(plan.specName, plan.taskId);
  ctx.files.indexChanged();
  return committed;
}

/** The version's number and its `pending` row, holding `reserveBytes` of quota when they fit (else 0). */
function reserveVersion(ctx: StoreContext, plan: UploadPlan, reserveBytes: number): Promise<ArtifactRecord> {
  const compressed = ctx.settings.compressionEnabled;
  return ctx.metadata.reserveVersion({
    specName: plan.specName,
    taskId: plan.taskId,
    type: plan.type.name,
    compressed,
    mimeType: plan.mimeType,
    metadata: plan.metadata,
    createdAt: ctx.now(),
    // Expiry follows the policy current at each sweep, so nothing is fixed at upload.
    retentionDays: null,
    location: blobLocation(plan.specName, plan.taskId, plan.type, compressed, ctx.settings.versioningEnabled),
    reserveBytes,
    maxBytes: ctx.settings.storageQuota.maxBytes,
  });
}

/** E_SECRET_DETECTED counts under its rule (the error names the rule, never the value). */
export function countRejectedSecret(ctx: StoreContext, error: ArtifactStoreError): void {
  const rule = error.code === "E_SECRET_DETECTED" ? error.details?.rule : undefined;
  if (typeof rule === "string") ctx.metrics.secrets("secretsRejected", [{ rule, count: 1 }]);
}

function countFailure(ctx: StoreContext, error: unknown): ArtifactStoreError {
  // Anything the pipeline did not already name is unexpected: E_INTERNAL keeps its text out of
  // answers to clients (the HTTP layer logs it instead).
  const storeError = toArtifactStoreError(error, "E_INTERNAL", `[${ctx.backend.name}] upload failed`);
  ctx.metrics.count("uploadFailures");
  countRejectedSecret(ctx, storeError);
  ctx.metrics.error(storeError.code);
  return storeError;
}

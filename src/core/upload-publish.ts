/**
 * Stage 3 of the upload pipeline, publish: put the encoded stream under `.store/uploads/`
 * (create-only), check the stored size, rewrite a multi-member gzip as one member, then make
 * the version current at the seed path:
 *
 * 1. the row goes `publishing` with its final figures (one per series at a time: the lock);
 * 2. versioning on: the current version is copied to `versions/v<N>/` (a hard link on fs);
 * 3. the upload is moved onto the seed path (fs: rename, atomic for readers);
 * 4. the task's `metadata.json` is rewritten as it will be;
 * 5. the row is committed at the seed path; the replaced row is re-keyed (kept) or removed.
 *
 * A crash anywhere leaves a `publishing` row that {@link completePublish} (run by gc) finishes:
 * whether step 3 happened is read from the upload object being there or not.
 */

import { toHex } from "../codec/engines.ts";
import { observeStream } from "../codec/streams.ts";
import { ArtifactStoreError, isDiskFull } from "../contracts/errors.ts";
import type { ArtifactRecord, FinishPublishInput, PublishValues } from "../contracts/metadata-repository.ts";
import type { ObjectInfo } from "../contracts/storage-backend.ts";
import type { ArtifactSecrets, ArtifactTypeDefinition } from "../contracts/types.ts";
import { sleep } from "../lib/time.ts";
import type { StoreContext } from "./context.ts";
import { withHeadroom } from "./disk-space.ts";
import { currentKey, parseKey, versionKey } from "./layout.ts";
import { quotaGuard } from "./quota.ts";
import { copyObject, moveObject, removeObjects } from "./records.ts";
import type { SecretScanner } from "./redaction/scanner.ts";
import type { ExtractedStructure } from "./structure/types.ts";
import {
  type Digested,
  digestStored,
  type EncodedUpload,
  maskStream,
  type UploadMeasurement,
} from "./upload-encode.ts";
import type { UploadPlan } from "./upload-plan.ts";

/** How long an upload waits for another upload of the same artifact to finish publishing. */
const PUBLISH_WAIT_MS = 60_000;

/**
 * A publish takes milliseconds (a rename, a small file, a row); one that has not finished after
 * this long belongs to a process that died: whoever waits on it finishes it (idempotent).
 */
export const STALLED_PUBLISH_MS = 2_000;

/** Finishes the publishes of one artifact that a dead process left (see {@link STALLED_PUBLISH_MS}). */
export async function finishStalledPublishes(
  ctx: StoreContext,
  series: { specName: string; taskId: string; type: string },
): Promise<void> {
  const stalled = (await ctx.metadata.listStale("publishing", Number.MAX_SAFE_INTEGER, 100)).filter(
    (row) =>
      row.specName === series.specName &&
      row.taskId === series.taskId &&
      row.type === series.type &&
      // This process's own publishes are only waiting for their turn, not stalled.
      !ctx.files.publishing.has(row.id),
  );
  for (const row of stalled) {
    await completePublish(ctx, row).catch((error: unknown) => {
      ctx.logger.warn("could not finish a stalled publish", { uri: row.uri, error: String(error) });
    });
  }
}

export interface PublishInput {
  plan: UploadPlan;
  /** The pending row holding the version number and the quota reservation. */
  record: ArtifactRecord;
  encoded: EncodedUpload;
  signal: AbortSignal | undefined;
  /** Called once the object is in storage: from then on a failure must remove it (with the row). */
  onPublished(): void;
  /** Called once the row is `publishing`: from then on the row is finished, never abandoned. */
  onPublishing(): void;
}

/** Stage 3: the committed row and what encoding measured. */
export async function publishUpload(
  ctx: StoreContext,
  { plan, record, encoded, signal, onPublished, onPublishing }: PublishInput,
): Promise<{ record: ArtifactRecord; measurement: UploadMeasurement }> {
  // Replacing: the upload key names this pending row's version, which no other row holds. An
  // object already there is a leftover of an upload whose pending row a power failure lost
  // (reserved without waiting for the WAL fsync, see `reserveVersion`), never anyone's data.
  const info = await ctx.backend.put(record.storageKey, encoded.stream, {
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
  const values: PublishValues = {
    size: stored.size,
    checksum: stored.checksum,
    originalSize: original.size,
    originalChecksum: original.checksum,
    tags: plan.tags,
  };
  ctx.files.publishing.add(record.id);
  try {
    await beginPublishing(ctx, record, values);
  } catch (error) {
    ctx.files.publishing.delete(record.id);
    throw error;
  }
  onPublishing();
  const publishing: ArtifactRecord = {
    ...record,
    ...values,
    tags: [...values.tags].sort(),
    summary: structure?.summary ?? null,
    ...(measurement.secrets ? { secrets: measurement.secrets } : {}),
    state: "publishing",
  };
  try {
    const extracted = { ...(structure ? { structure } : {}), secrets: measurement.secrets ?? null };
    // From here the row is finished, never abandoned: on a full disk (its last commit needs a few
    // pages of log) the reserved headroom gives it one more try, as it does a delete. Else the
    // upload was refused and gc committed it later all the same.
    const record = await completePublish(ctx, publishing, extracted, true).catch((error: unknown) => {
      if (!isDiskFull(error)) throw error;
      return withHeadroom(ctx, () => completePublish(ctx, publishing, extracted));
    });
    return { record, measurement };
  } catch (error) {
    if (!isUnknownObjectError(error)) throw error;
    // Refused before anything moved: this upload goes, the unknown object stays.
    await removeObjects(ctx, publishing).catch(() => {});
    await ctx.metadata.remove([publishing.id]);
    throw error;
  } finally {
    ctx.files.publishing.delete(record.id);
  }
}

async function beginPublishing(ctx: StoreContext, record: ArtifactRecord, values: PublishValues): Promise<void> {
  const started = Date.now();
  let stalledSince = started;
  for (let attempt = 0; ; attempt++) {
    const outcome = await ctx.metadata.beginPublish(record, values);
    if (outcome === "ok") return;
    if (outcome === "gone") {
      throw new ArtifactStoreError(
        "E_CONFLICT",
        `the reservation for ${record.specName}/${record.taskId}/${record.type} v${record.version} was removed while uploading (stale upload cleaned up?); retry the upload`,
      );
    }
    if (Date.now() - started > PUBLISH_WAIT_MS) {
      throw new ArtifactStoreError(
        "E_CONFLICT",
        `another upload of ${record.specName}/${record.taskId}/${record.type} has been publishing for over ${PUBLISH_WAIT_MS / 1000} s (a process that died? gc finishes it); retry later`,
      );
    }
    if (Date.now() - stalledSince > STALLED_PUBLISH_MS) {
      await finishStalledPublishes(ctx, record);
      stalledSince = Date.now();
    }
    await sleep(Math.min(50, 2 + attempt * 2));
  }
}

function isUnknownObjectError(error: unknown): boolean {
  return error instanceof ArtifactStoreError && typeof error.details?.unknownObject === "string";
}

/** The Content-Type a stored object carries (as the upload's put set it). */
function contentTypeOf(record: ArtifactRecord): string {
  return record.compressed ? "application/gzip" : record.mimeType;
}

function typeOf(ctx: StoreContext, name: string): ArtifactTypeDefinition {
  const type = ctx.types.get(name);
  if (!type) throw new ArtifactStoreError("E_CONFIG", `type ${name} is not configured`);
  return type;
}

/**
 * Steps 2–5 for a `publishing` row: idempotent, so gc finishes the publish of a process that
 * died. Returns the committed row (state `deleting` when a newer version won meanwhile and
 * versioning is off: then this one is dropped).
 */
export async function completePublish(
  ctx: StoreContext,
  publishing: ArtifactRecord,
  extracted: { structure?: ExtractedStructure; secrets?: ArtifactSecrets | null } = {},
  /** The upload's own publish (true), or finishing one a crash interrupted (false). */
  fresh = false,
): Promise<ArtifactRecord> {
  const { specName, taskId } = publishing;
  const type = typeOf(ctx, publishing.type);
  // As the upload meant it (recorded in its key), whatever the config is when a crash's publish is finished.
  const intent = parseKey(publishing.storageKey);
  const versioning = intent?.kind === "upload" ? intent.keepOlder : ctx.settings.versioningEnabled;
  return ctx.files.withTask(specName, taskId, async (turn) => {
    // Finished meanwhile (by whoever found it stalled): nothing left to do.
    const done = await ctx.metadata.findVersion({ specName, taskId, type: type.name, version: publishing.version });
    if (done?.id === publishing.id) return done;
    const seedKey = currentKey(specName, taskId, type, publishing.compressed);
    const latest = await ctx.metadata.findVersion({ specName, taskId, type: type.name });
    const newest = !latest || latest.version < publishing.version;
    if (!newest && !versioning) {
      // A newer version committed first: this one is superseded at once.
      await removeObjects(ctx, publishing);
      await ctx.metadata.remove([publishing.id]);
      return { ...publishing, state: "deleting" };
    }
    const target = newest ? seedKey : versionKey(specName, taskId, publishing.version, type, publishing.compressed);
    const input: FinishPublishInput = {
      storageKey: target,
      previous: null,
      inheritPin: false,
      supersedeOlder: !versioning,
      ...(extracted.structure ? { structure: extracted.structure } : {}),
      ...(extracted.secrets ? { secrets: extracted.secrets } : {}),
    };
    // The upload's own publish put it there and holds the task's turn since: nothing moved it.
    const uploaded = fresh || (await ctx.backend.head(publishing.storageKey)) !== null;
    // (When finishing an interrupted publish, an object there is this upload's own half-done move.)
    if (fresh && newest && latest?.storageKey !== seedKey && (await ctx.backend.head(seedKey))) {
      // An object at the seed path that no row knows (a lost database): it may be the only copy
      // of a version, which `reindex` brings back. Never overwritten.
      throw new ArtifactStoreError(
        "E_CONFLICT",
        `an object already exists at ${seedKey}; the metadata database does not know it (lost or replaced?): run reindex before uploading`,
        { details: { unknownObject: seedKey } },
      );
    }
    if (newest && latest && latest.storageKey === seedKey) {
      if (versioning) {
        const keptAt = versionKey(specName, taskId, latest.version, type, latest.compressed);
        // Copied before the upload moves over the seed path, once: an interrupted move (copy then
        // delete, on object stores) may have replaced the seed path already.
        const kept = await ctx.backend.head(keptAt);
        if (uploaded && kept?.size !== latest.size) await copyObject(ctx, seedKey, keptAt, contentTypeOf(latest));
        input.previous = { id: latest.id, keptAt };
      } else {
        input.previous = { id: latest.id, keptAt: null };
        input.inheritPin = latest.pinned;
      }
    }
    const moved = uploaded && (await moveObject(ctx, publishing.storageKey, target, contentTypeOf(publishing)));
    if (!moved) {
      const there = await ctx.backend.head(target);
      if (!there || there.size !== publishing.size) {
        throw new ArtifactStoreError(
          "E_BACKEND",
          `[${ctx.backend.name}] the upload of ${specName}/${taskId}/${type.name} v${publishing.version} is neither at ${publishing.storageKey} nor at ${target}`,
        );
      }
    }
    const committed: ArtifactRecord = {
      ...publishing,
      storageKey: target,
      state: "committed",
      pinned: publishing.pinned || input.inheritPin,
    };
    const task = (await ctx.metadata.listTask(specName, taskId)).flatMap((record) => {
      if (record.id === publishing.id) return [];
      const sameSeries = record.type === type.name;
      if (sameSeries && input.supersedeOlder && record.version < publishing.version) return [];
      if (record.id === input.previous?.id) {
        return input.previous.keptAt === null ? [] : [{ ...record, storageKey: input.previous.keptAt }];
      }
      return [record];
    });
    await ctx.files.writeTask(specName, taskId, [...task, committed]);
    // The commit gives the task's lease back in its own transaction (no statement of its own).
    const finished = await ctx.metadata.finishPublish(publishing, { ...input, releaseLease: turn.owner });
    turn.released();
    if (!finished) {
      throw new ArtifactStoreError(
        "E_CONFLICT",
        `${specName}/${taskId}/${type.name} v${publishing.version} was no longer publishing when it was to commit`,
      );
    }
    await removeSuperseded(
      ctx,
      finished.superseded.filter((old) => old.storageKey !== target),
    );
    ctx.files.indexChanged();
    return finished.record;
  });
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

/** Versioning off: older kept versions the commit superseded go now; leftovers are retried by gc. */
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

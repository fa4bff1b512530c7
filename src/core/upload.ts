/**
 * The upload pipeline:
 * body → size limit → SHA-256(original) → gzip → SHA-256 + count(stored) → backend.put(key)
 * → sidecar → row committed. Any check that fails errors the stream before it closes, and
 * `StorageBackend.put` publishes only streams that close cleanly: nothing is published.
 */
import { streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ArtifactContent, ArtifactMetadata, ArtifactTypeDefinition } from "../contracts/types.ts";
import { knownLength } from "./content.ts";
import { blobLocation, type StoreContext, sidecarKey } from "./context.ts";
import { afterDiskFull, assertDiskRoom, withHeadroom } from "./disk-space.ts";
import { assertValidName, normalizeTags, normalizeUserMetadata } from "./names.ts";
import { assertQuotaRoom, quotaWarnings } from "./quota.ts";
import { publicMetadata, removeObjects } from "./records.ts";
import { createStructureExtractor } from "./structure/extract.ts";
import type { StructureExtractor } from "./structure/types.ts";
import {
  encodeForStorage,
  encodeInMemory,
  guardSource,
  recompressAsOneMember,
  reserveFinalSize,
  tooLarge,
} from "./upload-encode.ts";

/** The object form of `upload`. */
export interface UploadInput {
  specName: string;
  taskId: string;
  /** `diff`, `log`, `test`, or a type declared in config. */
  type: string;
  content: ArtifactContent;
  tags?: string[];
  /** Free-form JSON object kept with the version. */
  metadata?: Record<string, unknown>;
  /** SHA-256 (hex) the content must have; when it differs nothing is stored (`E_CHECKSUM_MISMATCH`). */
  expectedChecksum?: string;
  /**
   * SHA-256 (hex) of the bytes exactly as given, for `contentEncoding: "gzip"` (an HTTP
   * `Content-Digest` covers the encoded body); nothing is stored if it differs.
   */
  expectedEncodedChecksum?: string;
  /** `"gzip"` when `content` is already gzip (HTTP `Content-Encoding: gzip`): validated, stored as sent. */
  contentEncoding?: "identity" | "gzip";
  /** Overrides the type's MIME type. */
  mimeType?: string;
  /** Aborting stops the upload; nothing is stored. */
  signal?: AbortSignal;
  /** Called as content bytes are read (for progress bars). */
  onProgress?: (bytesRead: number) => void;
  /**
   * Length of `content` as given (e.g. HTTP Content-Length), when it is a stream: reserves quota
   * up front, and a body that ends longer or shorter is refused.
   */
  contentLength?: number;
}

/** The committed version's metadata, plus warnings (e.g. the quota is nearly used up). */
export interface UploadResult extends ArtifactMetadata {
  warnings: string[];
}

/**
 * Stored bytes an upload can reach at most, when its length is known: zlib's deflateBound plus
 * the gzip wrapper for content to compress, the length itself for content stored as given.
 */
function storedBytesBound(ctx: StoreContext, input: UploadInput): number {
  const length = input.contentLength ?? knownLength(input.content);
  if (length === undefined) return 0;
  const gzipInput = input.contentEncoding === "gzip";
  if (ctx.settings.compressionEnabled === gzipInput) return length;
  if (gzipInput) return 0; // decoded size unknown until the end
  return length + (length >> 12) + (length >> 14) + (length >> 25) + 64;
}

export async function uploadArtifact(ctx: StoreContext, input: UploadInput): Promise<UploadResult> {
  const prepared = prepareUpload(ctx, input);
  if (input.signal?.aborted) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "upload aborted before the content ended; nothing was stored", {
      cause: input.signal.reason,
    });
  }
  const small = encodeInMemory(ctx, input, prepared);
  const source = small ? undefined : guardSource(input);
  let record: ArtifactRecord;
  let usedAtStart: number;
  try {
    await assertDiskRoom(ctx);
    usedAtStart = await assertQuotaRoom(ctx);
    record = await ctx.metadata.reserveVersion({
      specName: prepared.specName,
      taskId: prepared.taskId,
      type: prepared.type.name,
      compressed: ctx.settings.compressionEnabled,
      mimeType: prepared.mimeType,
      metadata: prepared.metadata,
      createdAt: ctx.now(),
      retentionDays: prepared.type.retentionDays,
      location: blobLocation(ctx, prepared.specName, prepared.taskId, prepared.type, ctx.settings.compressionEnabled),
      reserveBytes: small ? small.storedBytes.length : storedBytesBound(ctx, input),
      maxBytes: ctx.settings.storageQuota.maxBytes,
    });
  } catch (error) {
    await source?.cancel(error).catch(() => {});
    throw countFailure(ctx, error);
  }

  let published = false;
  try {
    const encoded = source ? encodeForStorage(ctx, input, prepared, source, record, usedAtStart) : small;
    if (!encoded) throw new ArtifactStoreError("E_INTERNAL", "upload has neither a stream nor content in memory");
    if (small) await reserveFinalSize(ctx, record, small.storedBytes.length);
    const info = await ctx.backend.put(record.storageKey, encoded.stream, {
      ifNotExists: true,
      contentType: ctx.settings.compressionEnabled ? "application/gzip" : prepared.mimeType,
      ...(encoded.knownStoredLength === undefined ? {} : { contentLength: encoded.knownStoredLength }),
      ...(input.signal ? { signal: input.signal } : {}),
    });
    published = true;
    let stored = encoded.stored();
    let storedInfo = info;
    if (encoded.needsSingleMember())
      ({ stored, info: storedInfo } = await recompressAsOneMember(ctx, record, stored.size));
    if (storedInfo.size !== stored.size) {
      throw new ArtifactStoreError(
        "E_BACKEND",
        `[${ctx.backend.name}] stored ${storedInfo.size} bytes for ${record.storageKey}, expected ${stored.size}`,
      );
    }
    const original = encoded.original();
    const structure = prepared.extractor?.finish();
    const metadata: ArtifactMetadata = {
      ...publicMetadata(record),
      size: stored.size,
      checksum: stored.checksum,
      originalSize: original.size,
      originalChecksum: original.checksum,
      tags: prepared.tags,
      summary: structure?.summary ?? null,
      state: "committed",
    };
    await writeSidecar(ctx, record, metadata);
    const committed = await ctx.metadata.commit(record, {
      size: stored.size,
      checksum: stored.checksum,
      originalSize: original.size,
      originalChecksum: original.checksum,
      tags: prepared.tags,
      supersedeOlder: !ctx.settings.versioningEnabled,
      ...(structure ? { structure } : {}),
    });
    if (!committed) {
      throw new ArtifactStoreError(
        "E_CONFLICT",
        `the reservation for ${record.specName}/${record.taskId}/${record.type} v${record.version} was removed while uploading (stale upload cleaned up?); retry the upload`,
      );
    }
    ctx.metrics.count("uploads");
    ctx.metrics.count("uploadedBytes", original.size);
    ctx.metrics.count("storedBytesWritten", stored.size);
    await removeSuperseded(ctx, committed.superseded);
    // Usage seen at the start plus this upload: exact unless other uploads ran at the same time.
    return { ...publicMetadata(committed.record), warnings: await quotaWarnings(ctx, usedAtStart + stored.size) };
  } catch (error) {
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

export interface PreparedUpload {
  specName: string;
  taskId: string;
  type: ArtifactTypeDefinition;
  tags: string[];
  metadata: Record<string, unknown>;
  mimeType: string;
  expectedChecksum: string | undefined;
  expectedEncodedChecksum: string | undefined;
  /** Reads the structure of the content as it streams (diff, log, test), when extraction is on. */
  extractor: StructureExtractor | undefined;
}

/** Every check that needs no I/O, so bad input is refused before anything is touched. */
function prepareUpload(ctx: StoreContext, input: UploadInput): PreparedUpload {
  if (typeof input !== "object" || input === null) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "upload needs { specName, taskId, type, content }");
  }
  const specName = assertValidName("specName", input.specName);
  const taskId = assertValidName("taskId", input.taskId);
  const type = ctx.types.get(input.type);
  if (!type) {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `unknown artifact type ${JSON.stringify(input.type)}; known types: ${[...ctx.types.keys()].join(", ")}`,
      { details: { field: "type" } },
    );
  }
  let expectedChecksum = checkHexDigest(input.expectedChecksum, "expectedChecksum");
  let expectedEncodedChecksum = checkHexDigest(input.expectedEncodedChecksum, "expectedEncodedChecksum");
  if (input.contentEncoding !== "gzip" && expectedEncodedChecksum !== undefined) {
    // Without a content coding the bytes given are the content.
    if (expectedChecksum !== undefined && expectedChecksum !== expectedEncodedChecksum) {
      throw new ArtifactStoreError(
        "E_CHECKSUM_MISMATCH",
        "the two expected checksums given disagree; nothing was stored",
      );
    }
    expectedChecksum = expectedEncodedChecksum;
    expectedEncodedChecksum = undefined;
  }
  if (input.contentEncoding !== undefined && input.contentEncoding !== "identity" && input.contentEncoding !== "gzip") {
    throw new ArtifactStoreError("E_INVALID_INPUT", 'contentEncoding must be "identity" or "gzip"');
  }
  const length = knownLength(input.content);
  const limit = ctx.settings.maxArtifactBytes;
  if (limit !== null && length !== undefined && input.contentEncoding !== "gzip" && length > limit) {
    throw tooLarge(limit);
  }
  return {
    specName,
    taskId,
    type,
    tags: normalizeTags(input.tags),
    metadata: normalizeUserMetadata(input.metadata),
    mimeType: typeof input.mimeType === "string" && input.mimeType ? input.mimeType : type.mimeType,
    expectedChecksum,
    expectedEncodedChecksum,
    extractor: createStructureExtractor(type.name, ctx.extraction),
  };
}

function checkHexDigest(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be a SHA-256 in hex (64 digits)`, {
      details: { field },
    });
  }
  return value.toLowerCase();
}

/** Writes (or replaces) the sidecar `reindex` rebuilds the version's row from. */
export async function writeSidecar(
  ctx: StoreContext,
  record: ArtifactRecord,
  metadata: ArtifactMetadata,
): Promise<void> {
  const bytes = new TextEncoder().encode(`${JSON.stringify({ formatVersion: 1, ...metadata }, null, 2)}\n`);
  await ctx.backend.put(
    sidecarKey(record.specName, record.taskId, record.version, record.type),
    streamFromBytes(bytes),
    // Only a rebuild after losing the database reads sidecars: their fsyncs may be grouped.
    { contentType: "application/json", contentLength: bytes.length, durability: "deferred" },
  );
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

function countFailure(ctx: StoreContext, error: unknown): ArtifactStoreError {
  // Anything the pipeline did not already name is unexpected: E_INTERNAL keeps its text out of
  // answers to clients (the HTTP layer logs it instead).
  const storeError = toArtifactStoreError(error, "E_INTERNAL", `[${ctx.backend.name}] upload failed`);
  ctx.metrics.count("uploadFailures");
  ctx.metrics.error(storeError.code);
  return storeError;
}

/**
 * The upload pipeline:
 * body → size limit → SHA-256(original) → gzip → SHA-256 + count(stored) → backend.put(key)
 * → sidecar → row committed. Any check that fails errors the stream before it closes, and
 * `StorageBackend.put` publishes only streams that close cleanly: nothing is published.
 */
import type { ObjectInfo } from "../backends/storage-backend.ts";
import { toHex } from "../codec/engines.ts";
import { mapStreamErrors, observeStream, sideChannel, streamFromBytes } from "../codec/streams.ts";
import type { ArtifactRecord } from "../metadata/metadata-repository.ts";
import { assertByteChunks, contentToStream, knownLength } from "./content.ts";
import { blobKey, type StoreContext, sidecarKey } from "./context.ts";
import { ArtifactStoreError, isArtifactStoreError, toArtifactStoreError } from "./errors.ts";
import { assertValidName, normalizeTags, normalizeUserMetadata } from "./names.ts";
import type { ArtifactContent, ArtifactMetadata, ArtifactTypeDefinition } from "./types.ts";

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
}

/** The committed version's metadata, plus warnings (e.g. the quota is nearly used up). */
export interface UploadResult extends ArtifactMetadata {
  warnings: string[];
}

/** Decoded uploads smaller than this are never refused for their expansion ratio. */
const BOMB_RATIO_FLOOR = 1024 * 1024;

export async function uploadArtifact(ctx: StoreContext, input: UploadInput): Promise<UploadResult> {
  const prepared = prepareUpload(ctx, input);
  const source = guardSource(input);
  let record: ArtifactRecord;
  let usedAtStart: number;
  try {
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
      locate: (version) => {
        const storageKey = blobKey(
          prepared.specName,
          prepared.taskId,
          version,
          prepared.type,
          ctx.settings.compressionEnabled,
        );
        return { storageKey, uri: ctx.backend.uriFor(storageKey) };
      },
    });
  } catch (error) {
    await source.cancel(error).catch(() => {});
    throw countFailure(ctx, error);
  }

  let published = false;
  try {
    const encoded = encodeForStorage(ctx, input, prepared, source, record, usedAtStart);
    const info = await ctx.backend.put(record.storageKey, encoded.stream, {
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
    const metadata: ArtifactMetadata = {
      ...publicMetadata(record),
      size: stored.size,
      checksum: stored.checksum,
      originalSize: original.size,
      originalChecksum: original.checksum,
      tags: prepared.tags,
      state: "committed",
    };
    await writeSidecar(ctx, record, metadata);
    const committed = await ctx.metadata.commit(record.id, {
      size: stored.size,
      checksum: stored.checksum,
      originalSize: original.size,
      originalChecksum: original.checksum,
      tags: prepared.tags,
      supersedeOlder: !ctx.settings.versioningEnabled,
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
    return { ...publicMetadata(committed.record), warnings: await quotaWarnings(ctx) };
  } catch (error) {
    if (published) await removeObjects(ctx, record).catch(() => {});
    await ctx.metadata.abandon(record.id).catch((abandonError: unknown) => {
      ctx.logger.warn("could not remove the reservation of a failed upload; gc will", {
        uri: record.uri,
        error: String(abandonError),
      });
    });
    throw countFailure(ctx, error);
  }
}

interface PreparedUpload {
  specName: string;
  taskId: string;
  type: ArtifactTypeDefinition;
  tags: string[];
  metadata: Record<string, unknown>;
  mimeType: string;
  expectedChecksum: string | undefined;
  expectedEncodedChecksum: string | undefined;
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

/** The content as a byte stream whose every failure is already an ArtifactStoreError. */
function guardSource(input: UploadInput): ReadableStream<Uint8Array> {
  const { signal } = input;
  const abortError = () =>
    new ArtifactStoreError("E_INVALID_INPUT", "upload aborted before the content ended; nothing was stored", {
      cause: signal?.reason,
    });
  if (signal?.aborted) throw abortError();
  const raw = contentToStream(input.content).pipeThrough(assertByteChunks() as TransformStream<Uint8Array, Uint8Array>);
  const reader = raw.getReader();
  let onAbort: (() => void) | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (!signal) return;
        onAbort = () => {
          controller.error(abortError());
          reader.cancel(signal.reason).catch(() => {});
        };
        signal.addEventListener("abort", onAbort, { once: true });
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            if (onAbort) signal?.removeEventListener("abort", onAbort);
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          if (onAbort) signal?.removeEventListener("abort", onAbort);
          controller.error(
            isArtifactStoreError(error)
              ? error
              : toArtifactStoreError(error, "E_INVALID_INPUT", "reading the content failed; nothing was stored"),
          );
        }
      },
      cancel(reason) {
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

interface Digested {
  size: number;
  checksum: string;
}

/** Builds the stream that goes to the backend, and the figures it measures on the way. */
function encodeForStorage(
  ctx: StoreContext,
  input: UploadInput,
  prepared: PreparedUpload,
  source: ReadableStream<Uint8Array>,
  record: ArtifactRecord,
  usedAtStart: number,
) {
  const { settings, codecs } = ctx;
  const limit = settings.maxArtifactBytes;
  const gzipInput = input.contentEncoding === "gzip";
  let encodedBytes = 0;
  let originalSize = 0;
  let originalChecksum = "";
  const originalHasher = codecs.createSha256();

  const onOriginal = (chunk: Uint8Array) => {
    originalSize += chunk.length;
    if (limit !== null && originalSize > limit) throw tooLarge(limit);
    if (gzipInput && originalSize > BOMB_RATIO_FLOOR && originalSize > encodedBytes * settings.gzipMaxRatio) {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        `gzip body expands more than ${settings.gzipMaxRatio} times (${originalSize} bytes from ${encodedBytes}); refused as a gzip bomb`,
      );
    }
    originalHasher.update(chunk);
    input.onProgress?.(gzipInput ? encodedBytes : originalSize);
  };
  const onOriginalEnd = () => {
    originalChecksum = toHex(originalHasher.digest());
    if (prepared.expectedChecksum !== undefined && prepared.expectedChecksum !== originalChecksum) {
      throw new ArtifactStoreError(
        "E_CHECKSUM_MISMATCH",
        `content SHA-256 is ${originalChecksum}, expected ${prepared.expectedChecksum}; nothing was stored`,
        { details: { expected: prepared.expectedChecksum, actual: originalChecksum } },
      );
    }
  };

  let stream: ReadableStream<Uint8Array>;
  let lastMemberSize: number | undefined;
  const encodedHasher = prepared.expectedEncodedChecksum === undefined ? undefined : codecs.createSha256();
  const countEncoded = observeStream({
    onChunk(chunk) {
      encodedBytes += chunk.length;
      encodedHasher?.update(chunk);
    },
    onEnd() {
      if (!encodedHasher) return;
      const actual = toHex(encodedHasher.digest());
      if (actual !== prepared.expectedEncodedChecksum) {
        throw new ArtifactStoreError(
          "E_CHECKSUM_MISMATCH",
          `body SHA-256 is ${actual}, expected ${prepared.expectedEncodedChecksum}; nothing was stored`,
          { details: { expected: prepared.expectedEncodedChecksum, actual } },
        );
      }
    },
  });
  if (gzipInput && settings.compressionEnabled) {
    // Keep the client's gzip bytes; decode them beside the main path to check and hash them.
    const decoder = sideChannel(codecs.createGunzip(), onOriginal);
    let tail: Uint8Array = new Uint8Array(0);
    stream = source.pipeThrough(countEncoded).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, controller) {
          await decoder.write(chunk).catch((error: unknown) => {
            throw invalidGzip(error);
          });
          tail = keepTail(tail, chunk, 8);
          controller.enqueue(chunk);
        },
        async flush() {
          await decoder.close().catch((error: unknown) => {
            throw invalidGzip(error);
          });
          if (tail.length === 8) lastMemberSize = new DataView(tail.buffer, tail.byteOffset).getUint32(4, true);
          onOriginalEnd();
        },
      }),
    );
  } else if (gzipInput) {
    const decoded = source.pipeThrough(countEncoded).pipeThrough(codecs.createGunzip());
    stream = mapStreamErrors(decoded, invalidGzip).pipeThrough(
      observeStream({ onChunk: onOriginal, onEnd: onOriginalEnd }),
    );
  } else {
    stream = source.pipeThrough(observeStream({ onChunk: onOriginal, onEnd: onOriginalEnd }));
    if (settings.compressionEnabled) stream = stream.pipeThrough(codecs.createGzip(settings.compressionLevel));
  }

  const stored = digestStored(ctx, record, usedAtStart);
  return {
    stream: stream.pipeThrough(stored.stream),
    // Bytes go to storage as given when the stored and given encodings agree.
    knownStoredLength: settings.compressionEnabled === gzipInput ? knownLength(input.content) : undefined,
    stored: stored.result,
    original: (): Digested => ({ size: originalSize, checksum: originalChecksum }),
    /** A gzip body of several members: the last member's ISIZE is not the whole content's size. */
    needsSingleMember: () => lastMemberSize !== undefined && lastMemberSize !== originalSize % 2 ** 32,
  };
}

/**
 * The last stage before the backend: hashes and counts the stored bytes, stops the upload as
 * soon as the quota would be exceeded, and at the end reserves the final size in the
 * metadata atomically — the publish only happens if that reservation fits.
 */
function digestStored(ctx: StoreContext, record: ArtifactRecord, usedAtStart: number) {
  const hasher = ctx.codecs.createSha256();
  const maxBytes = ctx.settings.storageQuota.maxBytes;
  let size = 0;
  let checksum = "";
  const stream = observeStream({
    onChunk(chunk) {
      size += chunk.length;
      if (maxBytes !== null && usedAtStart + size > maxBytes) throw quotaExceeded(ctx, maxBytes);
      hasher.update(chunk);
    },
    async onEnd() {
      checksum = toHex(hasher.digest());
      if (!(await ctx.metadata.reserveStoredBytes(record.id, size, maxBytes))) throw quotaExceeded(ctx, maxBytes ?? 0);
    },
  });
  return { stream, result: (): Digested => ({ size, checksum }) };
}

/**
 * Rewrites a just-published, not yet committed multi-member gzip object as one member
 * (browsers, `curl --compressed` and several libraries stop after the first member).
 * Nobody can read the key yet: its row is still pending.
 */
async function recompressAsOneMember(
  ctx: StoreContext,
  record: ArtifactRecord,
  firstSize: number,
): Promise<{ stored: Digested; info: ObjectInfo }> {
  const object = await ctx.backend.get(record.storageKey);
  if (!object)
    throw new ArtifactStoreError("E_BACKEND", `[${ctx.backend.name}] ${record.storageKey} vanished before commit`);
  const stored = digestStored(ctx, record, (await ctx.metadata.reservedBytes()) - firstSize);
  const body = object.body
    .pipeThrough(ctx.codecs.createGunzip())
    .pipeThrough(ctx.codecs.createGzip(ctx.settings.compressionLevel))
    .pipeThrough(stored.stream);
  const info = await ctx.backend.put(record.storageKey, body);
  ctx.logger.info("recompressed a multi-member gzip upload into one member", {
    uri: record.uri,
    receivedBytes: firstSize,
    storedBytes: stored.result().size,
  });
  return { stored: stored.result(), info };
}

async function writeSidecar(ctx: StoreContext, record: ArtifactRecord, metadata: ArtifactMetadata): Promise<void> {
  const bytes = new TextEncoder().encode(`${JSON.stringify({ formatVersion: 1, ...metadata }, null, 2)}\n`);
  await ctx.backend.put(
    sidecarKey(record.specName, record.taskId, record.version, record.type),
    streamFromBytes(bytes),
    {
      contentType: "application/json",
      contentLength: bytes.length,
    },
  );
}

/** Deletes a version's blob and sidecar (idempotent). */
export async function removeObjects(ctx: StoreContext, record: ArtifactRecord): Promise<void> {
  await ctx.backend.delete(record.storageKey);
  await ctx.backend.delete(sidecarKey(record.specName, record.taskId, record.version, record.type));
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

/** Refuses at once when the store is already full; returns the bytes in use. */
async function assertQuotaRoom(ctx: StoreContext): Promise<number> {
  const maxBytes = ctx.settings.storageQuota.maxBytes;
  if (maxBytes === null) return 0;
  const used = await ctx.metadata.reservedBytes();
  if (used >= maxBytes) throw quotaExceeded(ctx, maxBytes);
  return used;
}

export async function quotaWarnings(ctx: StoreContext): Promise<string[]> {
  const { maxBytes, warnThreshold } = ctx.settings.storageQuota;
  if (maxBytes === null) return [];
  const used = await ctx.metadata.reservedBytes();
  const ratio = used / maxBytes;
  if (ratio < warnThreshold) return [];
  return [
    `storage quota ${(ratio * 100).toFixed(1)}% used (${formatBytes(used)} of ${formatBytes(maxBytes)}); ` +
      "uploads fail once it is full: delete or expire artifacts, or raise storage_quota.max_size_gb",
  ];
}

export function publicMetadata(record: ArtifactRecord): ArtifactMetadata {
  const { id: _id, storageKey: _storageKey, ...metadata } = record;
  return metadata;
}

function quotaExceeded(ctx: StoreContext, maxBytes: number): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_QUOTA_EXCEEDED",
    `storage quota of ${formatBytes(maxBytes)} would be exceeded; nothing was stored. Delete or expire artifacts, or raise storage_quota.max_size_gb`,
    { details: { maxBytes, backend: ctx.backend.name } },
  );
}

function tooLarge(limit: number): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_TOO_LARGE",
    `artifact is larger than the limit of ${formatBytes(limit)}; nothing was stored`,
    {
      details: { limit },
    },
  );
}

function invalidGzip(error: unknown): ArtifactStoreError {
  if (isArtifactStoreError(error)) return error;
  return toArtifactStoreError(error, "E_INVALID_INPUT", "body sent as gzip is not valid gzip; nothing was stored");
}

function countFailure(ctx: StoreContext, error: unknown): ArtifactStoreError {
  const storeError = toArtifactStoreError(error, "E_BACKEND", `[${ctx.backend.name}] upload failed`);
  ctx.metrics.count("uploadFailures");
  ctx.metrics.error(storeError.code);
  return storeError;
}

function keepTail(previous: Uint8Array, chunk: Uint8Array, length: number): Uint8Array {
  if (chunk.length >= length) return chunk.slice(chunk.length - length);
  const joined = new Uint8Array(Math.min(length, previous.length + chunk.length));
  const fromPrevious = joined.length - chunk.length;
  joined.set(previous.subarray(previous.length - fromPrevious), 0);
  joined.set(chunk, fromPrevious);
  return joined;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * The streams of an upload: the guarded source, the encoding for storage (hashing, gzip, or a
 * client's gzip checked on the side), and the last stage that counts, hashes and reserves quota.
 */

import { toHex } from "../codec/engines.ts";
import { mapStreamErrors, observeStream, sideChannel, streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError, isArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ObjectInfo } from "../contracts/storage-backend.ts";
import { assertByteChunks, contentToStream, knownLength } from "./content.ts";
import type { StoreContext } from "./context.ts";
import { formatBytes } from "./format.ts";
import { quotaExceeded } from "./quota.ts";
import type { PreparedUpload, UploadInput } from "./upload.ts";

/** Decoded uploads smaller than this are never refused for their expansion ratio. */
const BOMB_RATIO_FLOOR = 1024 * 1024;

/** The content as a byte stream whose every failure is already an ArtifactStoreError. */
export function guardSource(input: UploadInput): ReadableStream<Uint8Array> {
  const { signal } = input;
  const abortError = () =>
    new ArtifactStoreError("E_INVALID_INPUT", "upload aborted before the content ended; nothing was stored", {
      cause: signal?.reason,
    });
  if (signal?.aborted) throw abortError();
  const raw = contentToStream(input.content).pipeThrough(assertByteChunks() as TransformStream<Uint8Array, Uint8Array>);
  const reader = raw.getReader();
  const declared = input.contentLength;
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "contentLength must be a non-negative integer");
  }
  const lengthError = (received: number) =>
    new ArtifactStoreError(
      "E_INVALID_INPUT",
      `the body ${received > (declared ?? 0) ? "is longer than" : "ended before"} its declared length of ${declared} bytes; nothing was stored`,
    );
  let received = 0;
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
            if (declared !== undefined && received !== declared) controller.error(lengthError(received));
            else controller.close();
          } else {
            received += value.length;
            if (declared !== undefined && received > declared) {
              await reader.cancel().catch(() => {});
              controller.error(lengthError(received));
            } else controller.enqueue(value);
          }
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

export interface Digested {
  size: number;
  checksum: string;
}

/** Builds the stream that goes to the backend, and the figures it measures on the way. */
export function encodeForStorage(
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
    // The decoded content, whatever the upload's encoding: extraction streams alongside.
    prepared.extractor?.write(chunk);
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
export function digestStored(ctx: StoreContext, record: ArtifactRecord, usedAtStart: number) {
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
      await reserveFinalSize(ctx, record, size);
    },
  });
  return { stream, result: (): Digested => ({ size, checksum }) };
}

/** Makes sure the row reserves `size` stored bytes, or fails with E_QUOTA_EXCEEDED (nothing published yet). */
export async function reserveFinalSize(ctx: StoreContext, record: ArtifactRecord, size: number): Promise<void> {
  // Reserved up front with a bound that holds: the commit records the exact size.
  if (size <= record.size) return;
  const maxBytes = ctx.settings.storageQuota.maxBytes;
  if (!(await ctx.metadata.reserveStoredBytes(record.id, size, maxBytes))) throw quotaExceeded(ctx, maxBytes ?? 0);
}

/** Content in memory up to this size is encoded in one synchronous step (see `encodeInMemory`). */
export const IN_MEMORY_LIMIT = 1024 * 1024;

/**
 * Small content already in memory (a string or bytes up to 1 MiB, not gzip-encoded): hashed,
 * checked, extracted and gzipped in one synchronous step before anything is reserved, so the
 * exact stored size is reserved at once and no stream has to be set up. Null when the content
 * does not qualify; the streaming path then handles it.
 */
export function encodeInMemory(ctx: StoreContext, input: UploadInput, prepared: PreparedUpload) {
  const { settings, codecs } = ctx;
  if (input.contentEncoding === "gzip" || (settings.compressionEnabled && !codecs.gzipSync)) return null;
  const { content } = input;
  let bytes: Uint8Array;
  if (typeof content === "string") {
    if (content.length > IN_MEMORY_LIMIT) return null;
    bytes = new TextEncoder().encode(content);
  } else if (content instanceof Uint8Array) bytes = content;
  else if (content instanceof ArrayBuffer) bytes = new Uint8Array(content);
  else return null;
  if (bytes.length > IN_MEMORY_LIMIT) return null;
  if (input.contentLength !== undefined && input.contentLength !== bytes.length) {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `the body has ${bytes.length} bytes, its declared length is ${input.contentLength}; nothing was stored`,
    );
  }
  const originalHasher = codecs.createSha256();
  originalHasher.update(bytes);
  const originalChecksum = toHex(originalHasher.digest());
  if (prepared.expectedChecksum !== undefined && prepared.expectedChecksum !== originalChecksum) {
    throw new ArtifactStoreError(
      "E_CHECKSUM_MISMATCH",
      `content SHA-256 is ${originalChecksum}, expected ${prepared.expectedChecksum}; nothing was stored`,
      { details: { expected: prepared.expectedChecksum, actual: originalChecksum } },
    );
  }
  prepared.extractor?.write(bytes);
  input.onProgress?.(bytes.length);
  const storedBytes = settings.compressionEnabled
    ? (codecs.gzipSync as NonNullable<typeof codecs.gzipSync>)(bytes, settings.compressionLevel)
    : bytes;
  const storedHasher = codecs.createSha256();
  storedHasher.update(storedBytes);
  const stored: Digested = { size: storedBytes.length, checksum: toHex(storedHasher.digest()) };
  return {
    storedBytes,
    stream: streamFromBytes(storedBytes),
    knownStoredLength: storedBytes.length as number | undefined,
    stored: () => stored,
    original: (): Digested => ({ size: bytes.length, checksum: originalChecksum }),
    needsSingleMember: () => false,
  };
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

export function tooLarge(limit: number): ArtifactStoreError {
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

function keepTail(previous: Uint8Array, chunk: Uint8Array, length: number): Uint8Array {
  if (chunk.length >= length) return chunk.slice(chunk.length - length);
  const joined = new Uint8Array(Math.min(length, previous.length + chunk.length));
  const fromPrevious = joined.length - chunk.length;
  joined.set(previous.subarray(previous.length - fromPrevious), 0);
  joined.set(chunk, fromPrevious);
  return joined;
}

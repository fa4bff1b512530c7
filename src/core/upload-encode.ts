/**
 * Stage 2 of the upload pipeline, encode: from the guarded source (`content.ts`), the encoding for storage
 * (hashing, gzip, or a client's gzip checked on the side) and the last transform that counts,
 * hashes and checks the quota. Its product is an {@link EncodedUpload}: the stream to publish
 * and the {@link UploadMeasurement} it resolves to once the stream has ended.
 */

import { sha256HexOf, toHex } from "../codec/engines.ts";
import { createLeadingMemberWatch } from "../codec/portable.ts";
import { mapStreamErrors, observeStream, sideChannel, streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError, isArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ArtifactSecrets } from "../contracts/types.ts";
import { knownLength } from "./content.ts";
import type { StoreContext } from "./context.ts";
import type { QuotaGuard } from "./quota.ts";
import type { SecretScanner } from "./redaction/scanner.ts";
import { tooLargeError, type UploadInput, type UploadPlan, type UploadRedaction } from "./upload-plan.ts";

/** Decoded uploads smaller than this are never refused for their expansion ratio. */
const BOMB_RATIO_FLOOR = 1024 * 1024;

/** Bytes and their SHA-256 (hex). */
export interface Digested {
  size: number;
  checksum: string;
}

/** What encoding measured: the content as given, the bytes stored, and whether a client's gzip had several members. */
export interface UploadMeasurement {
  /** The content as stored and served: after masking, when secrets were masked. */
  original: Digested;
  /** Secrets found (rule, count, lines; never a value), and whether they were masked or only flagged. */
  secrets: ArtifactSecrets | null;
  stored: Digested;
  /** A gzip body of several members: publish rewrites it as one (its last ISIZE is not the content's size). */
  multiMember: boolean;
  /**
   * A client's gzip kept as sent holds secrets to mask: publish rewrites it masked before the
   * version commits (nobody can read a pending version), and `original` is measured again.
   */
  maskAfterPublish?: boolean;
}

/** The findings of an upload's scanner, or null when it found nothing (or scanning is off). */
export function secretsOf(redaction: UploadRedaction | undefined): ArtifactSecrets | null {
  if (!redaction) return null;
  const findings = redaction.scanner.findings();
  if (findings.length === 0) return null;
  return { mode: redaction.mode === "mask" ? "mask" : "flag", findings };
}

/**
 * The masking stage: content in, content with every secret replaced by its marker out. It sees
 * the content as sent first, so `expectedChecksum` (the client's bytes) is checked on those.
 */
export function maskStream(
  scanner: SecretScanner,
  onSent?: (chunk: Uint8Array) => void,
): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      onSent?.(chunk);
      const out = scanner.write(chunk);
      if (out.length > 0) controller.enqueue(out);
    },
    flush(controller) {
      const out = scanner.end();
      if (out.length > 0) controller.enqueue(out);
    },
  });
}

/** The product of stage 2. */
export interface EncodedUpload {
  /** The bytes to publish; errors (digest, size, quota) before it closes when a check fails. */
  stream: ReadableStream<Uint8Array>;
  /** Stored length when known before the stream runs (lets object stores use one request). */
  knownStoredLength: number | undefined;
  /** Resolves once `stream` has ended and every check passed; never settles when it errors. */
  measured: Promise<UploadMeasurement>;
}

/** Stage 2 for streamed content: the stream that goes to the backend, measured on the way. */
export function encodeStream(
  ctx: StoreContext,
  input: UploadInput,
  prepared: UploadPlan,
  source: ReadableStream<Uint8Array>,
  record: ArtifactRecord,
  quota: QuotaGuard,
): EncodedUpload {
  const { settings, codecs } = ctx;
  const limit = settings.maxArtifactBytes;
  const gzipInput = input.contentEncoding === "gzip";
  let encodedBytes = 0;
  let originalSize = 0;
  let originalChecksum = "";
  const originalHasher = codecs.createSha256();
  const redaction = prepared.redaction;
  const masking = redaction?.mode === "mask";
  // Masking changes the content: the client's checksum is checked on the bytes it sent.
  const sentHasher =
    masking && !(gzipInput && settings.compressionEnabled) && prepared.expectedChecksum !== undefined
      ? codecs.createSha256()
      : undefined;
  // A client's gzip is kept as sent and scanned beside it; when masking finds secrets, publish
  // rewrites it (see `maskAfterPublish`). Every other body is masked on its way to storage.
  const keepClientGzip = gzipInput && settings.compressionEnabled;
  const scanOnly = masking && !keepClientGzip ? undefined : redaction?.scanner;

  const onOriginal = (chunk: Uint8Array) => {
    originalSize += chunk.length;
    if (limit !== null && originalSize > limit) throw tooLargeError(limit);
    if (gzipInput && originalSize > BOMB_RATIO_FLOOR && originalSize > encodedBytes * settings.gzipMaxRatio) {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        `gzip body expands more than ${settings.gzipMaxRatio} times (${originalSize} bytes from ${encodedBytes}); refused as a gzip bomb`,
      );
    }
    originalHasher.update(chunk);
    scanOnly?.write(chunk);
    // The decoded content, whatever the upload's encoding: extraction streams alongside.
    prepared.extractor?.write(chunk);
    input.onProgress?.(gzipInput ? encodedBytes : originalSize);
  };
  const onOriginalEnd = () => {
    scanOnly?.end();
    originalChecksum = toHex(originalHasher.digest());
    checkExpected(prepared.expectedChecksum, sentHasher ? toHex(sentHasher.digest()) : originalChecksum);
  };
  const onSent = sentHasher ? (chunk: Uint8Array) => sentHasher.update(chunk) : undefined;

  let stream: ReadableStream<Uint8Array>;
  let lastMemberSizeOf = (): number | undefined => undefined;
  let sawEmptyLeadingMember = () => false;
  const countEncoded = meterEncoded(ctx, prepared.expectedEncodedChecksum, (bytes) => {
    encodedBytes += bytes;
  });
  if (keepClientGzip) {
    const passed = passClientGzip(ctx, onOriginal, onOriginalEnd);
    sawEmptyLeadingMember = passed.sawEmptyLeadingMember;
    lastMemberSizeOf = passed.lastMemberSize;
    stream = source.pipeThrough(countEncoded).pipeThrough(passed.stream);
  } else {
    // Decoded content (a client's gzip is decoded, and gzipped again when masking changes it).
    let content = gzipInput
      ? mapStreamErrors(source.pipeThrough(countEncoded).pipeThrough(codecs.createGunzip()), invalidGzip)
      : source;
    if (masking && redaction) content = content.pipeThrough(maskStream(redaction.scanner, onSent));
    stream = content.pipeThrough(observeStream({ onChunk: onOriginal, onEnd: onOriginalEnd }));
    if (settings.compressionEnabled) stream = stream.pipeThrough(codecs.createGzip(settings.compressionLevel));
  }

  const stored = digestStored(ctx, record, quota);
  return {
    stream: stream.pipeThrough(stored.stream),
    // Bytes go to storage as given when the stored and given encodings agree.
    knownStoredLength:
      settings.compressionEnabled === gzipInput && (keepClientGzip || !masking)
        ? knownLength(input.content)
        : undefined,
    measured: stored.digest.then((digest) => ({
      original: { size: originalSize, checksum: originalChecksum },
      secrets: secretsOf(redaction),
      maskAfterPublish: keepClientGzip && masking && (redaction?.scanner.findings().length ?? 0) > 0,
      stored: digest,
      multiMember: isMultiMember(lastMemberSizeOf(), sawEmptyLeadingMember(), originalSize),
    })),
  };
}

/** Counts the bytes as sent (`onBytes`) and checks them against the client's `Content-Digest`, if any. */
function meterEncoded(
  ctx: StoreContext,
  expected: string | undefined,
  onBytes: (bytes: number) => void,
): TransformStream<Uint8Array, Uint8Array> {
  const hasher = expected === undefined ? undefined : ctx.codecs.createSha256();
  return observeStream({
    onChunk(chunk) {
      onBytes(chunk.length);
      hasher?.update(chunk);
    },
    onEnd() {
      if (!hasher) return;
      const actual = toHex(hasher.digest());
      if (actual !== expected) {
        throw new ArtifactStoreError(
          "E_CHECKSUM_MISMATCH",
          `body SHA-256 is ${actual}, expected ${expected}; nothing was stored`,
          { details: { expected, actual } },
        );
      }
    },
  });
}

/**
 * A client's gzip kept as sent: decoded beside the main path to check and hash the content
 * (`onOriginal`, `onOriginalEnd`), its last member's ISIZE and any empty leading members noted.
 */
function passClientGzip(ctx: StoreContext, onOriginal: (chunk: Uint8Array) => void, onOriginalEnd: () => void) {
  const decoder = sideChannel(ctx.codecs.createGunzip(), onOriginal);
  let tail: Uint8Array = new Uint8Array(0);
  let lastMemberSize: number | undefined;
  const leadingMembers = createLeadingMemberWatch();
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      await decoder.write(chunk).catch((error: unknown) => {
        throw invalidGzip(error);
      });
      tail = keepTail(tail, chunk, 8);
      leadingMembers.push(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      await decoder.close().catch((error: unknown) => {
        throw invalidGzip(error);
      });
      if (tail.length === 8) lastMemberSize = new DataView(tail.buffer, tail.byteOffset).getUint32(4, true);
      onOriginalEnd();
    },
  });
  return { stream, lastMemberSize: () => lastMemberSize, sawEmptyLeadingMember: leadingMembers.sawSeveralMembers };
}

/**
 * Several members: empty members ahead of the data (seen by the watch), or a last member's
 * ISIZE that is not the whole content's size. Past 4 GiB ISIZE wraps and could match by
 * chance, so such bodies are always rewritten.
 */
function isMultiMember(lastMemberSize: number | undefined, sawEmptyLeadingMember: boolean, originalSize: number) {
  return (
    lastMemberSize !== undefined &&
    (sawEmptyLeadingMember || lastMemberSize !== originalSize % 2 ** 32 || originalSize >= 2 ** 32)
  );
}

/**
 * The last stage before the backend: hashes and counts the stored bytes, stops the upload as
 * soon as the quota would be exceeded, and at the end settles the final size in the metadata
 * atomically — the publish only happens if that fits. `digest` resolves after that.
 */
export function digestStored(
  ctx: StoreContext,
  record: ArtifactRecord,
  quota: QuotaGuard,
): { stream: TransformStream<Uint8Array, Uint8Array>; digest: Promise<Digested> } {
  const hasher = ctx.codecs.createSha256();
  let size = 0;
  let resolveDigest: (digest: Digested) => void = () => {};
  const digest = new Promise<Digested>((resolve) => {
    resolveDigest = resolve;
  });
  const stream = observeStream({
    onChunk(chunk) {
      size += chunk.length;
      quota.check(size);
      hasher.update(chunk);
    },
    async onEnd() {
      const checksum = toHex(hasher.digest());
      await quota.settle(record, size);
      resolveDigest({ size, checksum });
    },
  });
  return { stream, digest };
}

/**
 * Stage 2 for small content in memory (see `UploadPlan.inMemory`): hashed, checked, extracted
 * and gzipped in one synchronous step before anything is reserved, so the exact stored size is
 * reserved at once and no stream has to be set up.
 */
export function encodeInMemory(
  ctx: StoreContext,
  input: UploadInput,
  prepared: UploadPlan,
  bytes: Uint8Array,
): EncodedUpload & { measurement: UploadMeasurement; storedBytes: Uint8Array } {
  const { settings, codecs } = ctx;
  const sha256 = (data: Uint8Array) => sha256HexOf(codecs, data);
  const sentChecksum = sha256(bytes);
  checkExpected(prepared.expectedChecksum, sentChecksum);
  const content = redactInMemory(prepared.redaction, bytes);
  const originalChecksum = content === bytes ? sentChecksum : sha256(content);
  prepared.extractor?.write(content);
  input.onProgress?.(bytes.length);
  const storedBytes = settings.compressionEnabled
    ? (codecs.gzipSync as NonNullable<typeof codecs.gzipSync>)(content, settings.compressionLevel)
    : content;
  const measurement: UploadMeasurement = {
    original: { size: content.length, checksum: originalChecksum },
    secrets: secretsOf(prepared.redaction),
    stored: { size: storedBytes.length, checksum: sha256(storedBytes) },
    multiMember: false,
  };
  return {
    // Made only when the bytes go through the publish protocol: an inline commit never reads it.
    get stream() {
      return streamFromBytes(storedBytes);
    },
    knownStoredLength: storedBytes.length,
    measured: Promise.resolve(measurement),
    measurement,
    storedBytes,
  };
}

/** The content after the redaction stage: masked, or `bytes` itself when nothing changed (or only scanning). */
export function redactInMemory(redaction: UploadRedaction | undefined, bytes: Uint8Array): Uint8Array {
  if (!redaction) return bytes;
  const head = redaction.scanner.write(bytes);
  const tail = redaction.scanner.end();
  if (redaction.mode !== "mask" || redaction.scanner.findings().length === 0) return bytes;
  if (tail.length === 0) return head;
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head, 0);
  joined.set(tail, head.length);
  return joined;
}

/** E_CHECKSUM_MISMATCH when the client gave a checksum and the content it sent has another. */
function checkExpected(expected: string | undefined, actual: string): void {
  if (expected === undefined || expected === actual) return;
  throw new ArtifactStoreError(
    "E_CHECKSUM_MISMATCH",
    `content SHA-256 is ${actual}, expected ${expected}; nothing was stored`,
    { details: { expected, actual } },
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

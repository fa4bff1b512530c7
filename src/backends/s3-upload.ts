/**
 * The S3 publish: nothing that makes an object visible is sent before the body stream has
 * closed cleanly.
 *
 * - A body that fits in one part is buffered (never more than one part) and sent with one
 *   `PutObject` after the stream closes.
 * - A longer body becomes a multipart upload: `CreateMultipartUpload` when the first part
 *   fills, `UploadPart` while the next part fills (so at most about two parts are in
 *   memory), `CompleteMultipartUpload` only after a clean close. Any failure aborts the
 *   upload so no parts are left behind.
 * - A create-only put whose publishing request failed without a clear answer (a lost reply,
 *   5xx after the retries) deletes the key: the service may have published it, and a
 *   create-only put owns its key. A refused precondition (E_CONFLICT) leaves the key alone.
 */
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { concatBytes } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";

/** S3's floor for every part but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's ceiling for one part. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
/** S3's ceiling for the number of parts of one upload. */
export const MAX_PARTS = 10_000;

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  /** The full object key, prefix included. */
  objectKey: string;
  partSize: number;
  contentType?: string;
  /** Declared byte length; only used to grow the part size of very large objects. */
  contentLength?: number;
  /** `If-None-Match: *` on the request that publishes: never replace an existing object. */
  ifNotExists?: boolean;
  signal?: AbortSignal;
  /** Gives an S3 failure its store meaning. */
  describeError(error: unknown, action: string): ArtifactStoreError;
}

/**
 * Streams `body` to S3 and publishes it only after the stream closed without error.
 * Rejects with the body stream's own error when that is what failed.
 *
 * @example
 * const { size, etag } = await uploadObject(
 *   { client, bucket: "artifacts", objectKey: "spec/task/v1/log.txt.gz", partSize: 8 << 20, describeError },
 *   stream,
 * );
 */
export async function uploadObject(
  target: UploadTarget,
  body: ReadableStream<Uint8Array>,
): Promise<{ size: number; etag?: string }> {
  const partSize = effectivePartSize(target.partSize, target.contentLength);
  const reader = body.getReader();
  const buffer = createPartBuffer(partSize);
  let multipart: MultipartUpload | undefined;
  let size = 0;
  // Set only when the body stream itself failed: that error object is what put rejects with.
  let bodyFailure: { error: unknown } | undefined;
  // Set once a request that may make the object visible has been sent.
  let publishing = false;
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        bodyFailure = { error };
        throw error;
      }
      target.signal?.throwIfAborted();
      if (next.done) break;
      let rest = next.value;
      size += rest.length;
      while (rest.length > 0) {
        // A full buffer is sent only once more bytes arrive: a body of exactly one part stays one PutObject.
        if (buffer.full) {
          multipart ??= await startMultipart(target);
          await multipart.sendPart(buffer.take());
        }
        rest = buffer.add(rest);
      }
      // Stop reading as soon as a part upload failed, rather than after the next part fills.
      await multipart?.throwIfFailed();
    }
    if (!multipart) {
      const whole = buffer.take();
      publishing = true;
      return await putWhole(target, whole);
    }
    await multipart.sendPart(buffer.take());
    publishing = true;
    return { size, ...(await multipart.complete()) };
  } catch (error) {
    if (bodyFailure) {
      await multipart?.abort();
      throw bodyFailure.error;
    }
    const failure = target.signal?.aborted
      ? target.signal.reason
      : target.describeError(error, `writing s3://${target.bucket}/${target.objectKey}`);
    // The producer learns why its bytes are no longer wanted.
    await reader.cancel(failure).catch(() => {});
    await multipart?.abort();
    if (publishing && target.ifNotExists && !(failure instanceof ArtifactStoreError && failure.code === "E_CONFLICT")) {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
      await target.client
        .send(new DeleteObjectCommand({ Bucket: target.bucket, Key: target.objectKey }))
        .catch(() => {}); // unreachable: gc finds the object without a row later
    }
    throw failure;
  }
}

/** The configured part size, grown when a declared length would need more than 10,000 parts. */
function effectivePartSize(partSize: number, contentLength: number | undefined): number {
  if (contentLength === undefined || contentLength <= partSize * MAX_PARTS) return partSize;
  const mebibyte = 1024 * 1024;
  return Math.ceil(contentLength / MAX_PARTS / mebibyte) * mebibyte;
}

async function putWhole(target: UploadTarget, bytes: Uint8Array): Promise<{ size: number; etag?: string }> {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
  const output = await target.client.send(
    new PutObjectCommand({
      Bucket: target.bucket,
      Key: target.objectKey,
      Body: bytes,
      ContentLength: bytes.length,
      ...(target.contentType ? { ContentType: target.contentType } : {}),
      ...(target.ifNotExists ? { IfNoneMatch: "*" } : {}),
    }),
    sendOptions(target),
  );
  return { size: bytes.length, ...(output.ETag ? { etag: output.ETag } : {}) };
}

function sendOptions(target: UploadTarget): { abortSignal?: AbortSignal } {
  return target.signal ? { abortSignal: target.signal } : {};
}

/** Collects chunks up to one part; the bytes are copied once, when the part is taken. */
function createPartBuffer(capacity: number) {
  let chunks: Uint8Array[] = [];
  let length = 0;
  return {
    get full() {
      return length === capacity;
    },
    /** Keeps what fits and returns the rest of `chunk`. */
    add(chunk: Uint8Array): Uint8Array {
      const room = capacity - length;
      const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
      chunks.push(kept);
      length += kept.length;
      return chunk.subarray(kept.length);
    },
    take(): Uint8Array {
      const bytes = concatBytes(chunks, length);
      chunks = [];
      length = 0;
      return bytes;
    },
  };
}

interface MultipartUpload {
  /** Uploads one part while the caller reads the next; waits for the previous part first. */
  sendPart(bytes: Uint8Array): Promise<void>;
  /** Rejects with the in-flight part's failure, if it already failed. */
  throwIfFailed(): Promise<void>;
  complete(): Promise<{ etag?: string }>;
  /** Best effort: a failure to abort is not the failure the caller needs to hear about. */
  abort(): Promise<void>;
}

async function startMultipart(target: UploadTarget): Promise<MultipartUpload> {
  const { client, bucket, objectKey } = target;
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: objectKey,
      ...(target.contentType ? { ContentType: target.contentType } : {}),
    }),
    sendOptions(target),
  );
  const uploadId = created.UploadId;
  if (!uploadId)
    throw new ArtifactStoreError("E_BACKEND", `[s3] CreateMultipartUpload for ${objectKey} gave no UploadId`);
  const parts: CompletedPart[] = [];
  let inFlight: Promise<void> | undefined;
  let failed = false;

  const uploadPart = async (partNumber: number, bytes: Uint8Array) => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
    const output = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: objectKey,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: bytes,
        ContentLength: bytes.length,
      }),
      sendOptions(target),
    );
    if (!output.ETag)
      throw new ArtifactStoreError("E_BACKEND", `[s3] UploadPart ${partNumber} of ${objectKey} gave no ETag`);
    parts.push({ PartNumber: partNumber, ETag: output.ETag });
  };

  let partCount = 0;
  return {
    async sendPart(bytes) {
      await inFlight;
      if (partCount === MAX_PARTS) {
        throw new ArtifactStoreError(
          "E_TOO_LARGE",
          `[s3] ${objectKey} needs more than ${MAX_PARTS} parts of ${target.partSize} bytes; raise the s3 part size`,
        );
      }
      partCount += 1;
      inFlight = uploadPart(partCount, bytes);
      inFlight.catch(() => {
        failed = true; // reported by the next await of inFlight
      });
    },
    async throwIfFailed() {
      if (failed) await inFlight;
    },
    async complete() {
      await inFlight;
      parts.sort((left, right) => (left.PartNumber ?? 0) - (right.PartNumber ?? 0));
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
      const output = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: objectKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...(target.ifNotExists ? { IfNoneMatch: "*" } : {}),
        }),
        sendOptions(target),
      );
      return output.ETag ? { etag: output.ETag } : {};
    },
    async abort() {
      // A part still in flight could land after the abort and leak; let it settle first.
      await inFlight?.catch(() => {});
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
      // No abort signal here: the caller's signal may be what failed the upload.
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId }))
        .catch(() => {}); // s3rver answers 405; an unreachable service will expire the upload by lifecycle rules
    },
  };
}

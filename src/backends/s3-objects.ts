/**
 * Reading, listing and maintenance requests of the S3 backend: what it does besides uploading
 * (s3-upload.ts). A missing object is `null`.
 */
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { mapStreamErrors, sliceStream } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import {
  type ByteRange,
  type ListOptions,
  type ListPage,
  type MaintenanceOptions,
  type ObjectInfo,
  resolveRange,
  type StoredObject,
} from "../contracts/storage-backend.ts";
import { isMissingObject } from "./s3-errors.ts";

/** One backend's bucket: the client, the bucket, the key prefix, and how its errors read. */
export interface S3Bucket {
  client: S3Client;
  bucket: string;
  /** `""` or ending in `/`. */
  prefix: string;
  describe(error: unknown, action: string): ArtifactStoreError;
}

/** The object's bytes, or the range asked for (cut here when the service sends the whole object). */
export async function downloadObject(
  place: S3Bucket,
  key: string,
  target: string,
  getOptions: { range?: ByteRange; signal?: AbortSignal },
): Promise<StoredObject | null> {
  const { client, bucket, describe } = place;
  const range = getOptions.range;
  if (range) assertRangeShape(range);
  let output: GetObjectCommandOutput;
  try {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
    output = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: target, ...(range ? { Range: rangeHeader(range) } : {}) }),
      getOptions.signal ? { abortSignal: getOptions.signal } : {},
    );
  } catch (error) {
    if (isMissingObject(error)) return null;
    throw describe(error, `reading s3://${bucket}/${target}`);
  }
  let body = output.Body ? output.Body.transformToWebStream() : emptyStream();
  let size = output.ContentLength ?? 0;
  let returned: { start: number; end: number } | undefined;
  if (range) {
    const parsed = parseContentRange(output.ContentRange);
    if (parsed) {
      ({ size } = parsed);
      returned = { start: parsed.start, end: parsed.end };
    } else {
      // The service ignored Range and sent the whole object: cut the range out here.
      try {
        returned = resolveRange(range, size, "s3");
      } catch (error) {
        await body.cancel().catch(() => {});
        throw error;
      }
      body = body.pipeThrough(sliceStream(returned.start, returned.end - returned.start + 1));
    }
  }
  return {
    key,
    size,
    ...(output.ETag ? { etag: output.ETag } : {}),
    ...(output.LastModified ? { lastModified: output.LastModified } : {}),
    body: mapStreamErrors(body, (error) => {
      if (error instanceof ArtifactStoreError) return error;
      const message = `[s3] reading s3://${bucket}/${target} broke off: ${errorText(error)}`;
      return new ArtifactStoreError("E_BACKEND", message, { cause: error });
    }),
    ...(returned ? { range: returned } : {}),
  };
}

/** Aborts the multipart uploads under the prefix started more than `olderThanMs` ago; returns their keys. */
export async function abortIncompleteUploads(
  place: S3Bucket,
  olderThanMs: number,
  abortOptions: MaintenanceOptions,
): Promise<string[]> {
  const { client, bucket, prefix, describe } = place;
  const now = abortOptions.now ?? Date.now();
  const aborted: string[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    let page: ListMultipartUploadsCommandOutput;
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
      page = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          ...(prefix ? { Prefix: prefix } : {}),
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
        }),
      );
    } catch (error) {
      throw describe(error, `listing incomplete multipart uploads in s3://${bucket}/${prefix}`);
    }
    for (const upload of page.Uploads ?? []) {
      if (!upload.Key || !upload.UploadId || !upload.Initiated) continue;
      if (now - upload.Initiated.getTime() < olderThanMs) continue;
      if (!abortOptions.dryRun) {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
        await client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }))
          .catch((error: unknown) => {
            if (!isMissingObject(error)) throw describe(error, `aborting an upload of s3://${bucket}/${upload.Key}`);
          });
      }
      aborted.push(upload.Key.slice(prefix.length));
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return aborted;
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html */
export async function listObjects(place: S3Bucket, listOptions: ListOptions): Promise<ListPage> {
  const { client, bucket, prefix, describe } = place;
  const limit = listOptions.limit ?? 1000;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `[s3] list limit must be a positive integer, got ${limit}`);
  }
  let output: ListObjectsV2CommandOutput;
  try {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
    output = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `${prefix}${listOptions.prefix ?? ""}`,
        // S3 never returns more than 1000 keys a page; asking for more is asking for 1000.
        MaxKeys: Math.min(limit, 1000),
        ...(listOptions.cursor ? { ContinuationToken: listOptions.cursor } : {}),
      }),
    );
  } catch (error) {
    throw describe(error, `listing s3://${bucket}/${prefix}${listOptions.prefix ?? ""}`);
  }
  const objects: ObjectInfo[] = [];
  for (const entry of output.Contents ?? []) {
    if (!entry.Key?.startsWith(prefix)) continue;
    objects.push({
      key: entry.Key.slice(prefix.length),
      size: entry.Size ?? 0,
      ...(entry.ETag ? { etag: entry.ETag } : {}),
      ...(entry.LastModified ? { lastModified: entry.LastModified } : {}),
    });
  }
  const cursor = output.IsTruncated ? output.NextContinuationToken : undefined;
  return { objects, ...(cursor ? { cursor } : {}) };
}

/** Refuses ranges no object could satisfy before asking the service. */
function assertRangeShape(range: ByteRange): void {
  const { offset, length } = range;
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    (length !== undefined && (!Number.isSafeInteger(length) || length < 1))
  ) {
    throw new ArtifactStoreError("E_RANGE", `[s3] invalid range: offset ${offset}, length ${length}`);
  }
}

function rangeHeader({ offset, length }: ByteRange): string {
  return `bytes=${offset}-${length === undefined ? "" : offset + length - 1}`;
}

/** `bytes <start>-<end>/<size>` → numbers; `undefined` when absent or not in that form. */
function parseContentRange(header: string | undefined): { start: number; end: number; size: number } | undefined {
  const match = header ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header.trim()) : null;
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) };
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

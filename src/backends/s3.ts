/**
 * S3 backend: AWS S3 and S3-compatible stores (Cloudflare R2, MinIO, GCS interoperability,
 * Ceph…) through `@aws-sdk/client-s3` over `fetch`, so the same code runs on Bun, Node,
 * Deno and Workers. No `node:` imports here.
 *
 * Publish is `PutObject` or `CompleteMultipartUpload`, sent only after the body stream has
 * closed cleanly (see `s3-upload.ts`), so a failed upload never becomes visible.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { mapStreamErrors, sliceStream } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type {
  ByteRange,
  ListPage,
  MaintenanceOptions,
  ObjectInfo,
  StorageBackend,
  StoredObject,
} from "../contracts/storage-backend.ts";
import { assertValidKey, resolveRange } from "./keys.ts";
import { isMissingObject, statusOf, toS3StoreError } from "./s3-errors.ts";
import { MAX_PART_SIZE, MIN_PART_SIZE, uploadObject } from "./s3-upload.ts";

export interface S3BackendOptions {
  bucket: string;
  /** Key prefix inside the bucket, e.g. `"artifacts/"`; a missing trailing `/` is added (default none). */
  prefix?: string;
  /** Signing region (default `"us-east-1"`; R2 takes `"auto"`). */
  region?: string;
  /** Service URL for anything but AWS S3, e.g. `https://<account>.r2.cloudflarestorage.com` (default AWS). */
  endpoint?: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`; MinIO and most emulators need it (default `false`). */
  forcePathStyle?: boolean;
  /**
   * Static credentials. Without them the SDK's default chain finds them: the `AWS_*`
   * environment variables, shared config files and instance roles on Bun and Node. On
   * Workers and in browsers there is no default chain: pass them.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * When to add request checksums (default `"WHEN_REQUIRED"`): the SDK's own default
   * (`"WHEN_SUPPORTED"`, CRC32 on every upload since 3.729) is refused by several
   * S3-compatible stores. The store checks SHA-256 end to end either way.
   */
  requestChecksumCalculation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /** When to validate response checksums (default `"WHEN_REQUIRED"`, same reason). */
  responseChecksumValidation?: "WHEN_SUPPORTED" | "WHEN_REQUIRED";
  /**
   * Bytes per multipart part, 5 MiB to 5 GiB (default 8 MiB). Bodies up to one part go up
   * with one `PutObject`; at most about two parts are held in memory per upload.
   */
  partSize?: number;
  /** Attempts per request, retried with backoff on 5xx, throttling and network failures only (default 3). */
  maxAttempts?: number;
  /** HTTP transport (default `new FetchHttpHandler()`); tests inject one to count or fake requests. */
  requestHandler?: S3ClientConfig["requestHandler"];
  /**
   * A ready client instead of one built from the options above (which are then ignored,
   * except bucket, prefix and partSize). Configure its checksum behaviour yourself. The
   * backend does not destroy an injected client on `close()`.
   */
  client?: S3Client;
}

/** Extends {@link StorageBackend} with the S3 specifics. */
export interface S3Backend extends StorageBackend {
  readonly bucket: string;
  /** Normalized key prefix: `""` or ending in `/`. */
  readonly prefix: string;
  /** The SDK client, for operations the contract has no word for. */
  readonly client: S3Client;
  /** Multipart uploads under the prefix only. */
  abortIncompleteUploads(olderThanMs: number, options?: MaintenanceOptions): Promise<string[]>;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/**
 * @example
 * const backend = createS3Backend({
 *   bucket: "artifacts",
 *   region: "auto",
 *   endpoint: "https://<account>.r2.cloudflarestorage.com",
 *   credentials: { accessKeyId: env.R2_KEY, secretAccessKey: env.R2_SECRET },
 * });
 * const store = createArtifactStore({ backend, metadata });
 */
export function createS3Backend(options: S3BackendOptions): S3Backend {
  const { bucket } = options;
  if (!bucket) throw new ArtifactStoreError("E_CONFIG", "[s3] a bucket is required (s3.bucket)");
  const prefix = normalizePrefix(options.prefix ?? "");
  const partSize = options.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new ArtifactStoreError("E_CONFIG", `[s3] partSize must be between 5 MiB and 5 GiB bytes, got ${partSize}`);
  }
  const ownsClient = options.client === undefined;
  const client = options.client ?? new S3Client(clientConfig(options));
  const describe = (error: unknown, action: string) => toS3StoreError(error, action, bucket);
  const objectKey = (key: string) => {
    assertValidKey(key, "s3");
    return `${prefix}${key}`;
  };
  // A 404 on HEAD has no body, so a missing key and a missing bucket look alike; the first
  // such answer is checked once with HeadBucket (a 404 there means the bucket is missing).
  let bucketConfirmed = false;
  const confirmBucket = async () => {
    if (bucketConfirmed) return;
    try {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (error) {
      if (statusOf(error) === 404) {
        const message = `[s3] bucket "${bucket}" does not exist (HeadBucket answered 404); create it or fix s3.bucket`;
        throw new ArtifactStoreError("E_BACKEND", message, { cause: error });
      }
      if (statusOf(error) === undefined) throw describe(error, `checking bucket ${bucket}`);
      // Any other answer (403 for key-scoped tokens…) means the bucket is there.
    }
    bucketConfirmed = true;
  };

  return {
    name: "s3",
    bucket,
    prefix,
    client,

    async put(key, body, putOptions = {}): Promise<ObjectInfo> {
      const target = objectKey(key);
      const result = await uploadObject(
        {
          client,
          bucket,
          objectKey: target,
          partSize,
          describeError: describe,
          ...(putOptions.contentType ? { contentType: putOptions.contentType } : {}),
          ...(putOptions.contentLength !== undefined ? { contentLength: putOptions.contentLength } : {}),
          ...(putOptions.signal ? { signal: putOptions.signal } : {}),
          ...(putOptions.ifNotExists ? { ifNotExists: true } : {}),
        },
        body,
      );
      return { key, size: result.size, ...(result.etag ? { etag: result.etag } : {}) };
    },

    async get(key, getOptions = {}): Promise<StoredObject | null> {
      const target = objectKey(key);
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
    },

    async head(key): Promise<ObjectInfo | null> {
      const target = objectKey(key);
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
        const output = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: target }));
        return {
          key,
          size: output.ContentLength ?? 0,
          ...(output.ETag ? { etag: output.ETag } : {}),
          ...(output.LastModified ? { lastModified: output.LastModified } : {}),
        };
      } catch (error) {
        if (!isMissingObject(error)) throw describe(error, `inspecting s3://${bucket}/${target}`);
        await confirmBucket();
        return null;
      }
    },

    async abortIncompleteUploads(olderThanMs, abortOptions = {}) {
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
                if (!isMissingObject(error))
                  throw describe(error, `aborting an upload of s3://${bucket}/${upload.Key}`);
              });
          }
          aborted.push(upload.Key.slice(prefix.length));
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
      return aborted;
    },

    async delete(key) {
      const target = objectKey(key);
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: target }));
      } catch (error) {
        // S3 answers 204 for a missing key; some compatible stores answer 404 instead.
        if (isMissingObject(error)) return;
        throw describe(error, `deleting s3://${bucket}/${target}`);
      }
    },

    async list(listOptions = {}): Promise<ListPage> {
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
    },

    uriFor(key) {
      return `s3://${bucket}/${objectKey(key)}`;
    },

    async close() {
      if (ownsClient) client.destroy();
    },
  };
}

function clientConfig(options: S3BackendOptions): S3ClientConfig {
  return {
    region: options.region ?? "us-east-1",
    forcePathStyle: options.forcePathStyle ?? false,
    requestChecksumCalculation: options.requestChecksumCalculation ?? "WHEN_REQUIRED",
    responseChecksumValidation: options.responseChecksumValidation ?? "WHEN_REQUIRED",
    maxAttempts: options.maxAttempts ?? 3,
    // fetch, not node:http: the one transport every runtime has.
    requestHandler: options.requestHandler ?? new FetchHttpHandler(),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
}

function normalizePrefix(prefix: string): string {
  if (prefix === "") return "";
  if (prefix.startsWith("/") || prefix.split("/").some((segment) => segment === "." || segment === "..")) {
    throw new ArtifactStoreError(
      "E_CONFIG",
      `[s3] prefix must be a relative key prefix such as "artifacts/", got ${prefix}`,
    );
  }
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
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

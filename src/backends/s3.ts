/**
 * S3 backend: AWS S3 and S3-compatible stores (Cloudflare R2, MinIO, GCS interoperability,
 * Ceph…) through `@aws-sdk/client-s3` over `fetch`, so the same code runs on Bun, Node,
 * Deno and Workers. No `node:` imports here.
 *
 * Publish is `PutObject` or `CompleteMultipartUpload`, sent only after the body stream has
 * closed cleanly (see `s3-upload.ts`), so a failed upload never becomes visible.
 */
import {
  DeleteObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { MaintenanceOptions, ObjectInfo, StorageBackend } from "../contracts/storage-backend.ts";
import { assertValidKey } from "./keys.ts";
import { isMissingObject, statusOf, toS3StoreError } from "./s3-errors.ts";
import { abortIncompleteUploads, downloadObject, listObjects, type S3Bucket } from "./s3-objects.ts";
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
  const place: S3Bucket = { client, bucket, prefix, describe };
  const confirmBucket = createBucketCheck(client, bucket, describe);

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

    async get(key, getOptions = {}) {
      return downloadObject(place, key, objectKey(key), getOptions);
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

    abortIncompleteUploads: async (olderThanMs, abortOptions = {}) =>
      abortIncompleteUploads(place, olderThanMs, abortOptions),

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

    list: async (listOptions = {}) => listObjects(place, listOptions),

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

/**
 * A 404 on HEAD has no body, so a missing key and a missing bucket look alike; the first
 * such answer is checked once with HeadBucket (a 404 there means the bucket is missing).
 */
function createBucketCheck(client: S3Client, bucket: string, describe: S3Bucket["describe"]): () => Promise<void> {
  let bucketConfirmed = false;
  return async () => {
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
}

/**
 * Google Cloud Storage backend over the Cloud Storage JSON API with plain `fetch`: no Google
 * SDK, no `node:` imports, WebCrypto for service-account tokens — it runs on Bun, Node,
 * Deno and Cloudflare Workers. Objects live at `gs://<bucket>/<prefix><key>`.
 * https://cloud.google.com/storage/docs/json_api
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { PutOptions, StorageBackend } from "../contracts/storage-backend.ts";
import {
  createServiceAccountTokenProvider,
  createStaticTokenProvider,
  parseServiceAccountKey,
  type ServiceAccountKey,
} from "./gcs-auth.ts";
import { CHUNK_GRANULARITY } from "./gcs-chunk-buffer.ts";
import { createGcsTransport, discard, type FetchLike, type RetryOptions, retryPolicyOf } from "./gcs-http.ts";
import {
  discardObject,
  downloadObject,
  type GcsBucket,
  type GcsObjectInfo,
  infoOf,
  listObjects,
  missingObject,
  objectUrl,
  readResource,
} from "./gcs-objects.ts";
import { uploadStream } from "./gcs-upload.ts";
import type { UploadSettings } from "./gcs-upload-session.ts";
import { assertValidKey } from "./keys.ts";

export type { ServiceAccountKey } from "./gcs-auth.ts";
export type { FetchLike, RetryOptions } from "./gcs-http.ts";
export type { GcsObjectInfo } from "./gcs-objects.ts";

export const GOOGLE_STORAGE_ENDPOINT = "https://storage.googleapis.com";

export interface GcsBackendOptions {
  bucket: string;
  /** Prepended verbatim to every key (end it with `/` for a folder); listed keys come back without it. */
  prefix?: string;
  /** A service-account key: the parsed JSON, or the file's text. Reading the file is the caller's job. */
  credentials?: ServiceAccountKey | string;
  /** A ready OAuth2 access token, or a function asked before each request. */
  accessToken?: string | (() => Promise<string>);
  /**
   * The value of `STORAGE_EMULATOR_HOST` (`127.0.0.1:9199` or `http://…`), passed in by the
   * caller. Wins over `endpoint` and credentials, and sends the emulator's `Bearer owner`.
   */
  emulatorHost?: string;
  /** API root (default `https://storage.googleapis.com`). Without credentials it is taken for an emulator. */
  endpoint?: string;
  fetch?: FetchLike;
  /** Bytes per resumable-upload chunk, a multiple of 256 KiB (default 8 MiB); bounds memory per upload. */
  chunkSize?: number;
  /** Bodies up to this size go in one multipart request after they close (default `chunkSize`, at most it). */
  singleRequestMaxBytes?: number;
  /**
   * Send each resumable upload as one streamed PUT instead of chunks (memory stays one chunk).
   * Default: on for the emulator (`emulatorHost`, or an `endpoint` without credentials), which
   * finishes a session on its first PUT whatever Content-Range says; off for Cloud Storage. A
   * service seen finishing a session on its first chunk turns it on by itself.
   */
  resumableInOnePut?: boolean;
  /** Every put sends `ifGenerationMatch=0`: an existing object is never replaced (E_CONFLICT instead). */
  createOnly?: boolean;
  retry?: RetryOptions;
  /** OAuth2 scope of service-account tokens (default `devstorage.read_write`). */
  scope?: string;
  /** Clock in ms, for token expiry (tests move it). */
  now?: () => number;
}

export interface GcsPutOptions extends PutOptions {
  /**
   * Precondition checked by Cloud Storage when the object is published: `0` creates only;
   * a generation (from `head`) replaces exactly that version. A mismatch is E_CONFLICT.
   */
  ifGenerationMatch?: string | number;
}

/** Extends {@link StorageBackend} with what only GCS has. */
export interface GcsBackend extends StorageBackend {
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string;
  put(key: string, body: ReadableStream<Uint8Array>, options?: GcsPutOptions): Promise<GcsObjectInfo>;
  head(key: string): Promise<GcsObjectInfo | null>;
}

/**
 * @example
 * // Real GCS with a service-account key (read from GOOGLE_APPLICATION_CREDENTIALS by the caller)
 * const backend = createGcsBackend({ bucket: "ci-artifacts", prefix: "necrocode/", credentials: keyJson });
 *
 * // The Cloud Storage emulator
 * const local = createGcsBackend({ bucket: "test", emulatorHost: process.env.STORAGE_EMULATOR_HOST });
 * await local.put("spec/task/v1/log.txt.gz", stream, { contentType: "application/gzip" });
 */
export function createGcsBackend(options: GcsBackendOptions): GcsBackend {
  const bucket = options.bucket;
  if (!bucket) throw new ArtifactStoreError("E_CONFIG", "[gcs] a bucket name is required (gcs.bucket)");
  const prefix = options.prefix ?? "";
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const retry = retryPolicyOf(options.retry);
  const chunkSize = options.chunkSize ?? 8 * 1024 * 1024;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < CHUNK_GRANULARITY || chunkSize % CHUNK_GRANULARITY !== 0) {
    throw new ArtifactStoreError(
      "E_CONFIG",
      `[gcs] chunkSize must be a positive multiple of 256 KiB, got ${chunkSize}`,
    );
  }
  const singleRequestMaxBytes = Math.min(chunkSize, options.singleRequestMaxBytes ?? chunkSize);
  const { endpoint, auth, emulator } = resolveAccess(options, fetchImpl, retry);
  const sessions = { onePut: options.resumableInOnePut ?? emulator };
  const transport = createGcsTransport({ fetch: fetchImpl, auth, bucket, retry });
  const objectsUrl = `${endpoint}/storage/v1/b/${encodeURIComponent(bucket)}/o`;
  const uploadUrl = `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`;

  const objects: GcsBucket = { transport, objectsUrl, prefix };
  const objectName = (key: string): string => {
    assertValidKey(key, "gcs");
    return prefix + key;
  };
  const uploadSettings: UploadSettings = {
    transport,
    uploadUrl,
    chunkSize,
    singleRequestMaxBytes,
    sessions,
    discardObject: (name, generation) => discardObject(objects, name, generation),
  };

  return {
    name: "gcs",
    bucket,
    prefix,
    endpoint,

    async put(key, body, putOptions = {}) {
      let name: string;
      try {
        name = objectName(key);
      } catch (error) {
        await body.cancel(error).catch(() => {});
        throw error;
      }
      const precondition =
        putOptions.ifGenerationMatch ?? (options.createOnly || putOptions.ifNotExists ? 0 : undefined);
      const resource = await uploadStream(uploadSettings, body, {
        objectName: name,
        contentType: putOptions.contentType ?? "application/octet-stream",
        ...(putOptions.contentLength === undefined ? {} : { contentLength: putOptions.contentLength }),
        ...(precondition === undefined ? {} : { ifGenerationMatch: String(precondition) }),
        ...(putOptions.signal ? { signal: putOptions.signal } : {}),
      });
      return infoOf(key, resource);
    },

    async get(key, getOptions = {}) {
      return downloadObject(objects, key, objectName(key), getOptions);
    },

    async head(key) {
      const name = objectName(key);
      const resource = await readResource(objects, name, `reading the metadata of ${name}`);
      return resource ? infoOf(key, resource) : null;
    },

    /** https://cloud.google.com/storage/docs/json_api/v1/objects/delete */
    async delete(key) {
      const name = objectName(key);
      const action = `deleting ${name}`;
      const response = await transport.request(objectUrl(objects, name), { method: "DELETE" }, action);
      if (response.status === 404) {
        await missingObject(objects, response, action);
        return;
      }
      if (!response.ok) throw await transport.failure(response, action);
      await discard(response);
    },

    list: async (listOptions = {}) => listObjects(objects, listOptions),

    uriFor(key) {
      return `gs://${bucket}/${objectName(key)}`;
    },
  };
}

/** Where requests go and how they are signed. */
function resolveAccess(
  options: GcsBackendOptions,
  fetchImpl: FetchLike,
  retry: ReturnType<typeof retryPolicyOf>,
): { endpoint: string; auth: ReturnType<typeof createStaticTokenProvider>; emulator: boolean } {
  const trim = (url: string) => url.replace(/\/+$/, "");
  if (options.emulatorHost) {
    const host = /^https?:\/\//.test(options.emulatorHost) ? options.emulatorHost : `http://${options.emulatorHost}`;
    // The emulator lets `owner` past its security rules, as the Firebase admin SDKs do.
    return { endpoint: trim(host), auth: createStaticTokenProvider("owner"), emulator: true };
  }
  const endpoint = trim(options.endpoint ?? GOOGLE_STORAGE_ENDPOINT);
  if (options.credentials !== undefined) {
    const key = parseServiceAccountKey(options.credentials);
    return {
      endpoint,
      emulator: false,
      auth: createServiceAccountTokenProvider(key, {
        fetch: fetchImpl,
        retry,
        ...(options.scope ? { scope: options.scope } : {}),
        ...(options.now ? { now: options.now } : {}),
      }),
    };
  }
  if (options.accessToken !== undefined)
    return { endpoint, auth: createStaticTokenProvider(options.accessToken), emulator: false };
  if (options.endpoint) return { endpoint, auth: createStaticTokenProvider("owner"), emulator: true };
  throw new ArtifactStoreError(
    "E_CONFIG",
    "[gcs] no credentials: pass a service-account key (credentials), an accessToken, or emulatorHost for the emulator",
  );
}

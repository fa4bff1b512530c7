/**
 * Google Cloud Storage backend over the Cloud Storage JSON API with plain `fetch`: no Google
 * SDK, no `node:` imports, WebCrypto for service-account tokens — it runs on Bun, Node,
 * Deno and Cloudflare Workers. Objects live at `gs://<bucket>/<prefix><key>`.
 * https://cloud.google.com/storage/docs/json_api
 */
import { sliceStream } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type {
  ByteRange,
  ListPage,
  ObjectInfo,
  PutOptions,
  StorageBackend,
  StoredObject,
} from "../contracts/storage-backend.ts";
import {
  createServiceAccountTokenProvider,
  createStaticTokenProvider,
  parseServiceAccountKey,
  type ServiceAccountKey,
} from "./gcs-auth.ts";
import { CHUNK_GRANULARITY } from "./gcs-chunk-buffer.ts";
import {
  createGcsTransport,
  discard,
  type FetchLike,
  isMissingBucket,
  type RetryOptions,
  retryPolicyOf,
  serviceMessage,
} from "./gcs-http.ts";
import { uploadStream } from "./gcs-upload.ts";
import type { GcsObjectResource } from "./gcs-upload-session.ts";
import { assertValidKey } from "./keys.ts";

export type { ServiceAccountKey } from "./gcs-auth.ts";
export type { FetchLike, RetryOptions } from "./gcs-http.ts";

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

export interface GcsObjectInfo extends ObjectInfo {
  /** The object's generation: changes whenever the object is replaced. `etag` is it, quoted. */
  generation?: string;
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

  const objectName = (key: string): string => {
    assertValidKey(key, "gcs");
    return prefix + key;
  };
  const objectUrl = (name: string) => `${objectsUrl}/${encodeURIComponent(name)}`;
  const infoOf = (key: string, resource: GcsObjectResource): GcsObjectInfo => ({
    key,
    size: Number(resource.size ?? 0),
    ...(resource.generation ? { etag: `"${resource.generation}"`, generation: resource.generation } : {}),
    ...(resource.updated ? { lastModified: new Date(resource.updated) } : {}),
  });
  /** A 404 is a missing object (`null`) unless the service says the bucket itself is missing. */
  const missingObject = async (response: Response, action: string): Promise<null> => {
    const message = await serviceMessage(response);
    if (isMissingBucket(message)) throw await transport.failure(response, action, message);
    return null;
  };
  /** https://cloud.google.com/storage/docs/json_api/v1/objects/get */
  const readResource = async (name: string, action: string): Promise<GcsObjectResource | null> => {
    const response = await transport.request(
      `${objectUrl(name)}?fields=name,size,generation,updated`,
      { method: "GET" },
      action,
    );
    if (response.status === 404) return missingObject(response, action);
    if (!response.ok) throw await transport.failure(response, action);
    return (await response.json()) as GcsObjectResource;
  };
  /** The object's full size from the headers GCS sends with every download; a metadata read otherwise. */
  const sizeOf = async (response: Response, name: string): Promise<number> => {
    const header = response.headers.get("x-goog-stored-content-length") ?? response.headers.get("content-length");
    if (header !== null && /^\d+$/.test(header)) return Number(header);
    const resource = await readResource(name, `reading the size of ${name}`);
    return Number(resource?.size ?? 0);
  };

  /** https://cloud.google.com/storage/docs/json_api/v1/objects/delete */
  const discardObject = async (name: string, generation?: string): Promise<void> => {
    const query = generation ? `?ifGenerationMatch=${encodeURIComponent(generation)}` : "";
    const action = `removing ${name}, which a failed upload left`;
    const response = await transport.request(`${objectUrl(name)}${query}`, { method: "DELETE" }, action);
    if (!response.ok && response.status !== 404) throw await transport.failure(response, action);
    await discard(response);
  };
  const uploadSettings = { transport, uploadUrl, chunkSize, singleRequestMaxBytes, sessions, discardObject };

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

    /**
     * https://cloud.google.com/storage/docs/json_api/v1/objects/get (alt=media)
     * https://cloud.google.com/storage/docs/downloading-objects#downloading-an-object-portion
     */
    async get(key, getOptions = {}): Promise<StoredObject | null> {
      const name = objectName(key);
      const range = getOptions.range;
      if (range) assertRequestable(range);
      const action = `downloading ${name}`;
      const response = await transport.request(
        `${objectUrl(name)}?alt=media`,
        {
          method: "GET",
          headers: range ? { range: rangeHeader(range) } : {},
          ...(getOptions.signal ? { signal: getOptions.signal } : {}),
        },
        action,
      );
      if (response.status === 404) return missingObject(response, action);
      if (response.status === 416) {
        const size = /\/(\d+)/.exec(response.headers.get("content-range") ?? "")?.[1];
        await discard(response);
        throw rangeError(range?.offset ?? 0, size === undefined ? undefined : Number(size));
      }
      if (!response.ok) throw await transport.failure(response, action);
      const generation = response.headers.get("x-goog-generation") ?? undefined;
      const modified = response.headers.get("last-modified");
      const described = {
        key,
        ...(generation ? { etag: `"${generation}"`, generation } : {}),
        ...(modified ? { lastModified: new Date(modified) } : {}),
      };
      const body = response.body ?? new Blob([]).stream();
      if (response.status === 206) {
        const match = /bytes (\d+)-(\d+)\/(\d+)/.exec(response.headers.get("content-range") ?? "");
        if (!match) throw new ArtifactStoreError("E_BACKEND", `[gcs] ${action}: a 206 reply without Content-Range`);
        const [, start, end, total] = match.map(Number) as [number, number, number, number];
        return { ...described, size: total, body, range: { start, end } };
      }
      const size = await sizeOf(response, name);
      if (!range) return { ...described, size, body };
      // The whole object came back (the emulator ignores unsatisfiable ranges): cut it here.
      if (range.offset >= size) {
        await body.cancel().catch(() => {});
        throw rangeError(range.offset, size);
      }
      const end = range.length === undefined ? size - 1 : Math.min(size - 1, range.offset + range.length - 1);
      const sliced = body.pipeThrough(sliceStream(range.offset, end - range.offset + 1));
      return { ...described, size, body: sliced, range: { start: range.offset, end } };
    },

    async head(key) {
      const name = objectName(key);
      const resource = await readResource(name, `reading the metadata of ${name}`);
      return resource ? infoOf(key, resource) : null;
    },

    /** https://cloud.google.com/storage/docs/json_api/v1/objects/delete */
    async delete(key) {
      const name = objectName(key);
      const action = `deleting ${name}`;
      const response = await transport.request(objectUrl(name), { method: "DELETE" }, action);
      if (response.status === 404) {
        await missingObject(response, action);
        return;
      }
      if (!response.ok) throw await transport.failure(response, action);
      await discard(response);
    },

    /** https://cloud.google.com/storage/docs/json_api/v1/objects/list */
    async list(listOptions = {}): Promise<ListPage> {
      const query = new URLSearchParams({
        prefix: prefix + (listOptions.prefix ?? ""),
        maxResults: String(listOptions.limit ?? 1000),
        fields: "items(name,size,generation,updated),nextPageToken",
      });
      if (listOptions.cursor) query.set("pageToken", listOptions.cursor);
      const action = `listing objects under ${query.get("prefix") || "the bucket root"}`;
      const response = await transport.request(`${objectsUrl}?${query}`, { method: "GET" }, action);
      if (!response.ok) throw await transport.failure(response, action);
      const page = (await response.json()) as { items?: GcsObjectResource[]; nextPageToken?: string };
      const objects = (page.items ?? [])
        .filter((item) => item.name.startsWith(prefix))
        .map((item) => infoOf(item.name.slice(prefix.length), item));
      return { objects, ...(page.nextPageToken ? { cursor: page.nextPageToken } : {}) };
    },

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

function assertRequestable(range: ByteRange): void {
  if (!Number.isSafeInteger(range.offset) || range.offset < 0 || (range.length !== undefined && range.length < 1)) {
    throw rangeError(range.offset, undefined);
  }
}

function rangeHeader(range: ByteRange): string {
  return `bytes=${range.offset}-${range.length === undefined ? "" : range.offset + range.length - 1}`;
}

function rangeError(offset: number, size: number | undefined): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_RANGE",
    `[gcs] range starting at ${offset} is outside an object of ${size ?? "unknown"} bytes`,
    size === undefined ? {} : { details: { size } },
  );
}

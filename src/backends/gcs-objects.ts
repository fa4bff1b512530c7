/**
 * Reading, listing and removing Cloud Storage objects over the JSON API: what the GCS backend
 * does besides uploading (gcs-upload.ts). A missing object is `null`; a missing bucket throws.
 * https://cloud.google.com/storage/docs/json_api/v1/objects
 */
import { sliceStream } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ByteRange, ListOptions, ListPage, ObjectInfo, StoredObject } from "../contracts/storage-backend.ts";
import { discard, type GcsTransport, isMissingBucket, serviceMessage } from "./gcs-http.ts";
import type { GcsObjectResource } from "./gcs-upload-session.ts";

export interface GcsObjectInfo extends ObjectInfo {
  /** The object's generation: changes whenever the object is replaced. `etag` is it, quoted. */
  generation?: string;
}

/** Where one backend's objects are and how requests reach them. */
export interface GcsBucket {
  transport: GcsTransport;
  /** `<endpoint>/storage/v1/b/<bucket>/o` */
  objectsUrl: string;
  /** Prepended to every key; listed keys come back without it. */
  prefix: string;
}

export function objectUrl(bucket: GcsBucket, name: string): string {
  return `${bucket.objectsUrl}/${encodeURIComponent(name)}`;
}

export function infoOf(key: string, resource: GcsObjectResource): GcsObjectInfo {
  return {
    key,
    size: Number(resource.size ?? 0),
    ...(resource.generation ? { etag: `"${resource.generation}"`, generation: resource.generation } : {}),
    ...(resource.updated ? { lastModified: new Date(resource.updated) } : {}),
  };
}

/** A 404 is a missing object (`null`) unless the service says the bucket itself is missing. */
export async function missingObject(bucket: GcsBucket, response: Response, action: string): Promise<null> {
  const message = await serviceMessage(response);
  if (isMissingBucket(message)) throw await bucket.transport.failure(response, action, message);
  return null;
}

/** https://cloud.google.com/storage/docs/json_api/v1/objects/get */
export async function readResource(bucket: GcsBucket, name: string, action: string): Promise<GcsObjectResource | null> {
  const response = await bucket.transport.request(
    `${objectUrl(bucket, name)}?fields=name,size,generation,updated`,
    { method: "GET" },
    action,
  );
  if (response.status === 404) return missingObject(bucket, response, action);
  if (!response.ok) throw await bucket.transport.failure(response, action);
  return (await response.json()) as GcsObjectResource;
}

/** https://cloud.google.com/storage/docs/json_api/v1/objects/delete (`generation`: only that version). */
export async function discardObject(bucket: GcsBucket, name: string, generation?: string): Promise<void> {
  const query = generation ? `?ifGenerationMatch=${encodeURIComponent(generation)}` : "";
  const action = `removing ${name}, which a failed upload left`;
  const response = await bucket.transport.request(`${objectUrl(bucket, name)}${query}`, { method: "DELETE" }, action);
  if (!response.ok && response.status !== 404) throw await bucket.transport.failure(response, action);
  await discard(response);
}

/**
 * https://cloud.google.com/storage/docs/json_api/v1/objects/get (alt=media)
 * https://cloud.google.com/storage/docs/downloading-objects#downloading-an-object-portion
 */
export async function downloadObject(
  bucket: GcsBucket,
  key: string,
  name: string,
  options: { range?: ByteRange; signal?: AbortSignal },
): Promise<StoredObject | null> {
  const range = options.range;
  if (range) assertRequestable(range);
  const action = `downloading ${name}`;
  const response = await bucket.transport.request(
    `${objectUrl(bucket, name)}?alt=media`,
    {
      method: "GET",
      headers: range ? { range: rangeHeader(range) } : {},
      ...(options.signal ? { signal: options.signal } : {}),
    },
    action,
  );
  if (response.status === 404) return missingObject(bucket, response, action);
  if (response.status === 416) {
    const size = /\/(\d+)/.exec(response.headers.get("content-range") ?? "")?.[1];
    await discard(response);
    throw rangeError(range?.offset ?? 0, size === undefined ? undefined : Number(size));
  }
  if (!response.ok) throw await bucket.transport.failure(response, action);
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
  const size = await sizeOf(bucket, response, name);
  if (!range) return { ...described, size, body };
  // The whole object came back (the emulator ignores unsatisfiable ranges): cut it here.
  if (range.offset >= size) {
    await body.cancel().catch(() => {});
    throw rangeError(range.offset, size);
  }
  const end = range.length === undefined ? size - 1 : Math.min(size - 1, range.offset + range.length - 1);
  const sliced = body.pipeThrough(sliceStream(range.offset, end - range.offset + 1));
  return { ...described, size, body: sliced, range: { start: range.offset, end } };
}

/** The object's full size from the headers GCS sends with every download; a metadata read otherwise. */
async function sizeOf(bucket: GcsBucket, response: Response, name: string): Promise<number> {
  const header = response.headers.get("x-goog-stored-content-length") ?? response.headers.get("content-length");
  if (header !== null && /^\d+$/.test(header)) return Number(header);
  const resource = await readResource(bucket, name, `reading the size of ${name}`);
  return Number(resource?.size ?? 0);
}

/** https://cloud.google.com/storage/docs/json_api/v1/objects/list */
export async function listObjects(bucket: GcsBucket, options: ListOptions): Promise<ListPage> {
  const { prefix } = bucket;
  const query = new URLSearchParams({
    prefix: prefix + (options.prefix ?? ""),
    maxResults: String(options.limit ?? 1000),
    fields: "items(name,size,generation,updated),nextPageToken",
  });
  if (options.cursor) query.set("pageToken", options.cursor);
  const action = `listing objects under ${query.get("prefix") || "the bucket root"}`;
  const response = await bucket.transport.request(`${bucket.objectsUrl}?${query}`, { method: "GET" }, action);
  if (!response.ok) throw await bucket.transport.failure(response, action);
  const page = (await response.json()) as { items?: GcsObjectResource[]; nextPageToken?: string };
  const objects = (page.items ?? [])
    .filter((item) => item.name.startsWith(prefix))
    .map((item) => infoOf(item.name.slice(prefix.length), item));
  return { objects, ...(page.nextPageToken ? { cursor: page.nextPageToken } : {}) };
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

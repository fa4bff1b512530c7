/**
 * The contract every blob backend (memory, fs, s3, gcs) implements, checked by the shared
 * suite in `test/backends/contract.ts`.
 *
 * Keys are relative, `/`-separated paths built by the store from validated names
 * (`<spec>/<task>/v<N>/<file>`); backends may still refuse keys they cannot hold.
 * Objects are immutable once published: the store never rewrites a key that a committed
 * metadata row points at.
 */
import { ArtifactStoreError } from "./errors.ts";

/** A byte range of an object: `length` bytes from `offset` (to the end when omitted). */
export interface ByteRange {
  offset: number;
  length?: number;
}

/** Turns a requested range into inclusive bounds within an object of `size` bytes. */
export function resolveRange(range: ByteRange, size: number, backendName: string): { start: number; end: number } {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size || (length !== undefined && length < 1)) {
    throw new ArtifactStoreError(
      "E_RANGE",
      `[${backendName}] range starting at ${offset} is outside an object of ${size} bytes`,
      { details: { size } },
    );
  }
  const end = length === undefined ? size - 1 : Math.min(size - 1, offset + length - 1);
  return { start: offset, end };
}

export interface ObjectInfo {
  key: string;
  /** Size of the whole object in bytes. */
  size: number;
  /** Backend's entity tag, when it has one. */
  etag?: string;
  lastModified?: Date;
}

export interface StoredObject extends ObjectInfo {
  /** The object's bytes, or only the requested range of them. */
  body: ReadableStream<Uint8Array>;
  /** The range actually returned (inclusive `end`), when a range was asked for. */
  range?: { start: number; end: number };
  /**
   * The whole object, already read (a backend may read small objects in one step): the bytes are
   * pinned, whatever happens to the key next, and `body` yields exactly these.
   */
  bytes?: Uint8Array;
}

export interface PutOptions {
  contentType?: string;
  /** Byte length when known in advance; lets object stores use one request. */
  contentLength?: number;
  signal?: AbortSignal;
  /**
   * `"immediate"` (default): durable when `put` resolves. `"deferred"`: the backend may make it
   * durable a moment later, grouped with others (the store uses it for sidecars, which only a
   * rebuild after losing the database needs). Backends that are durable on write ignore it.
   * A deferred put may answer with the key and size only (fs: no etag, no lstat for one).
   */
  durability?: "immediate" | "deferred";
  /**
   * Create only: if an object already exists under the key, store nothing and reject with
   * `E_CONFLICT`. The store publishes every blob this way, so a metadata database that lost
   * track of versions (deleted, replaced) can never make an upload overwrite existing bytes.
   * Backends that cannot check it atomically do their best and say so.
   */
  ifNotExists?: boolean;
}

export interface ListOptions {
  prefix?: string;
  /** Opaque value from a previous page's `cursor`. */
  cursor?: string;
  /** Maximum objects on one page (default 1000). */
  limit?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Pass to the next call to continue; absent on the last page. */
  cursor?: string;
}

/**
 * A place to keep blobs.
 *
 * @example
 * const backend = createMemoryBackend();
 * await backend.put("spec/task/v1/log.txt", new Blob(["hello"]).stream());
 * const object = await backend.get("spec/task/v1/log.txt");
 * console.log(await new Response(object?.body).text()); // "hello"
 */
export interface StorageBackend {
  /** Short backend name used in errors and URIs: `"memory"`, `"fs"`, `"s3"`, `"gcs"`. */
  readonly name: string;

  /**
   * Stores `body` under `key`. This is the publish: the object becomes visible only if
   * the stream closes without error. When the stream errors (a digest, size or quota check
   * failed upstream, the client went away), nothing is published, nothing is left behind,
   * and `put` rejects with the stream's own error.
   */
  put(key: string, body: ReadableStream<Uint8Array>, options?: PutOptions): Promise<ObjectInfo>;

  /** The object's bytes (or a range of them), or `null` when there is no such object. */
  get(key: string, options?: { range?: ByteRange; signal?: AbortSignal }): Promise<StoredObject | null>;

  /** Size and tag of the object, or `null` when there is no such object. */
  head(key: string): Promise<ObjectInfo | null>;

  /** Removes the object. Deleting a missing object succeeds. */
  delete(key: string): Promise<void>;

  /** Objects in key order, paginated. */
  list(options?: ListOptions): Promise<ListPage>;

  /** The URI an artifact stored under `key` is known by, e.g. `s3://bucket/prefix/key`. */
  uriFor(key: string): string;

  /** Releases clients and handles. */
  close?(): Promise<void>;

  // Optional capabilities: a backend that has the thing implements the method; `gc` calls
  // whichever are present (the way unstorage's optional driver methods work).

  /**
   * Aborts multipart uploads started more than `olderThanMs` ago (a process killed mid-upload
   * leaves its parts billed until then); returns their keys. Object stores with multipart (S3).
   */
  /**
   * Copies `from` to `to` inside the backend, `to` appearing whole (fs: a hard link). False when
   * `from` does not exist. Without it the core copies through `get` and `put`.
   */
  copy?(from: string, to: string): Promise<boolean>;

  /**
   * Moves `from` to `to`, replacing `to` atomically for its readers (fs: rename, so a reader
   * holding the old file keeps its bytes). False when `from` does not exist. Without it the core
   * copies, then deletes `from`.
   */
  move?(from: string, to: string): Promise<boolean>;

  abortIncompleteUploads?(olderThanMs: number, options?: MaintenanceOptions): Promise<string[]>;

  /**
   * Makes every put with `durability: "deferred"` so far durable now (fs: their files and
   * folders fsynced together). A backend that defers durability must have it.
   */
  syncDeferred?(): Promise<void>;

  /**
   * Free and total space of the volume that holds the objects, and the headroom held for
   * deletes (fs). The store refuses content writes below its free-space floor and reports
   * these figures in stats and health checks.
   */
  volumeSpace?(): Promise<VolumeSpace>;

  /**
   * Gives the headroom kept for deletes back to the volume (fs: a preallocated reserve file),
   * so a delete or cleanup on a full disk can still write its metadata and free bytes.
   * Resolves false when there was none to give.
   */
  releaseHeadroom?(): Promise<boolean>;

  /** Takes the headroom again once the volume has room for it (best effort). */
  restoreHeadroom?(): Promise<void>;

  /** Removes staging files older than `olderThanMs` left by crashed uploads; returns their names (fs). */
  cleanStaging?(olderThanMs: number, options?: MaintenanceOptions): Promise<string[]>;
}

/** Options of the optional maintenance capabilities: list without changing, and the clock. */
export interface MaintenanceOptions {
  dryRun?: boolean;
  now?: number;
}

/** Space on the volume that holds a backend's objects, in bytes. */
export interface VolumeSpace {
  /** Bytes this process can still write (statfs `bavail`; `bfree` for root, which may use ext4's reserved blocks). */
  freeBytes: number;
  totalBytes: number;
  /** Headroom held for deletes right now (0 once released). */
  reservedBytes: number;
}

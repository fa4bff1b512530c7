import { concatBytes, streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import {
  type ListPage,
  type ObjectInfo,
  resolveRange,
  type StorageBackend,
  type StoredObject,
} from "../contracts/storage-backend.ts";
import { assertValidKey } from "./keys.ts";

interface MemoryObject {
  bytes: Uint8Array;
  etag: string;
  lastModified: Date;
}

export interface MemoryBackendOptions {
  /** Name in URIs: `memory://<label>/<key>` (default `"default"`). */
  label?: string;
}

/**
 * Keeps blobs in a `Map`. The reference implementation of the backend contract, and the
 * backend for tests and short-lived stores; everything is lost when the process exits.
 *
 * @example
 * const store = createArtifactStore({ backend: createMemoryBackend(), metadata });
 */
export function createMemoryBackend(options: MemoryBackendOptions = {}): StorageBackend {
  const objects = new Map<string, MemoryObject>();
  const label = options.label ?? "default";
  let generation = 0;

  const info = (key: string, object: MemoryObject): ObjectInfo => ({
    key,
    size: object.bytes.length,
    etag: object.etag,
    lastModified: object.lastModified,
  });

  return {
    name: "memory",

    async put(key, body, putOptions = {}) {
      assertValidKey(key, "memory");
      const chunks: Uint8Array[] = [];
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value.slice());
      }
      if (putOptions.ifNotExists && objects.has(key)) {
        throw new ArtifactStoreError("E_CONFLICT", `[memory] an object already exists at ${key}`);
      }
      const object = { bytes: concatBytes(chunks), etag: `"m${++generation}"`, lastModified: new Date() };
      objects.set(key, object);
      return info(key, object);
    },

    async get(key, getOptions = {}) {
      assertValidKey(key, "memory");
      const object = objects.get(key);
      if (!object) return null;
      const result: StoredObject = { ...info(key, object), body: streamFromBytes(object.bytes, 64 * 1024) };
      if (getOptions.range) {
        const range = resolveRange(getOptions.range, object.bytes.length, "memory");
        result.body = streamFromBytes(object.bytes.subarray(range.start, range.end + 1), 64 * 1024);
        result.range = range;
      }
      return result;
    },

    async head(key) {
      assertValidKey(key, "memory");
      const object = objects.get(key);
      return object ? info(key, object) : null;
    },

    async copy(from, to) {
      assertValidKey(from, "memory");
      assertValidKey(to, "memory");
      const object = objects.get(from);
      if (!object) return false;
      objects.set(to, { ...object, etag: `"m${++generation}"` });
      return true;
    },

    async move(from, to) {
      assertValidKey(from, "memory");
      assertValidKey(to, "memory");
      const object = objects.get(from);
      if (!object) return false;
      objects.set(to, object);
      objects.delete(from);
      return true;
    },

    async delete(key) {
      assertValidKey(key, "memory");
      objects.delete(key);
    },

    async list(listOptions = {}): Promise<ListPage> {
      const limit = listOptions.limit ?? 1000;
      const prefix = listOptions.prefix ?? "";
      const keys = [...objects.keys()]
        .filter((key) => key.startsWith(prefix) && (listOptions.cursor === undefined || key > listOptions.cursor))
        .sort();
      const page = keys.slice(0, limit);
      const last = page.at(-1);
      return {
        objects: page.map((key) => info(key, objects.get(key) as MemoryObject)),
        ...(keys.length > limit && last !== undefined ? { cursor: last } : {}),
      };
    },

    uriFor(key) {
      return `memory://${label}/${key}`;
    },
  };
}

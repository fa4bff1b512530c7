/**
 * The shared contract every StorageBackend must meet. Each backend's test file calls
 * `describeBackendContract` with a factory for a fresh, empty backend.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { collectBytes, streamFromBytes } from "../../src/codec/streams.ts";
import { ArtifactStoreError } from "../../src/contracts/errors.ts";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import { failingStream, randomBytes } from "../helpers/store.ts";

export interface BackendUnderTest {
  backend: StorageBackend;
  cleanup(): Promise<void>;
  /**
   * For test servers that accept a create-only precondition but do not enforce it (the S3 and
   * GCS emulators here; real S3 and GCS enforce it): the keys whose publishing request carried
   * the precondition, so the suite checks what the backend sends.
   */
  createOnlyRequests?: () => string[];
}

const text = (value: string) => new TextEncoder().encode(value);
const readAll = async (backend: StorageBackend, key: string) => {
  const object = await backend.get(key);
  return object ? collectBytes(object.body) : null;
};

export function describeBackendContract(name: string, make: () => Promise<BackendUnderTest>): void {
  describe(`${name} backend contract`, () => {
    let subject: BackendUnderTest;
    let backend: StorageBackend;
    let counter = 0;
    // Every test uses its own prefix, so the tests share one backend without seeing each other.
    const prefix = () => `contract/t${++counter}`;

    beforeAll(async () => {
      subject = await make();
      backend = subject.backend;
    });
    afterAll(async () => {
      await subject.cleanup();
    });

    test("put then get returns the same bytes, and head reports their size", async () => {
      const key = `${prefix()}/v1/log.txt.gz`;
      const bytes = randomBytes(300_000);
      const info = await backend.put(key, streamFromBytes(bytes, 70_000));
      expect(info.size).toBe(bytes.length);
      expect(await readAll(backend, key)).toEqual(bytes);
      const head = await backend.head(key);
      expect(head?.size).toBe(bytes.length);
      expect(head?.key).toBe(key);
    });

    test("an empty object round-trips", async () => {
      const key = `${prefix()}/empty`;
      await backend.put(key, streamFromBytes(new Uint8Array(0)));
      expect((await backend.head(key))?.size).toBe(0);
      expect(await readAll(backend, key)).toEqual(new Uint8Array(0));
    });

    test("missing objects are null for get and head", async () => {
      expect(await backend.get(`${prefix()}/missing`)).toBeNull();
      expect(await backend.head(`${prefix()}/missing`)).toBeNull();
    });

    test("a body stream that fails publishes nothing and put rejects with the stream's own error", async () => {
      const key = `${prefix()}/broken`;
      const failure = new ArtifactStoreError("E_CHECKSUM_MISMATCH", "upstream check failed");
      const rejection = await backend
        .put(key, failingStream([text("partial "), text("data")], failure))
        .catch((error) => error);
      expect(rejection).toBe(failure);
      expect(await backend.head(key)).toBeNull();
      expect((await backend.list({ prefix: key })).objects).toEqual([]);
    });

    test("a failed put over an existing object leaves the old bytes", async () => {
      const key = `${prefix()}/kept`;
      await backend.put(key, streamFromBytes(text("old bytes")));
      await expect(backend.put(key, failingStream([text("new")], new Error("client went away")))).rejects.toThrow(
        "client went away",
      );
      expect(new TextDecoder().decode((await readAll(backend, key)) ?? undefined)).toBe("old bytes");
    });

    test("a create-only put over an existing object is refused with E_CONFLICT and the old bytes stay (on an emulator that ignores the condition: it is sent)", async () => {
      const key = `${prefix()}/create-only`;
      await backend.put(key, streamFromBytes(text("first")), { ifNotExists: true });
      if (subject.createOnlyRequests) {
        // The server ignores the condition: the backend must send it on a create-only put, and only there.
        await backend.put(`${key}-plain`, streamFromBytes(text("plain")));
        const sent = subject.createOnlyRequests();
        expect(sent.some((requested) => requested.endsWith(key))).toBe(true);
        expect(sent.some((requested) => requested.endsWith(`${key}-plain`))).toBe(false);
        return;
      }
      const second = await backend
        .put(key, streamFromBytes(text("second")), { ifNotExists: true })
        .then(() => null)
        .catch((caught) => caught);
      expect(second).toBeInstanceOf(ArtifactStoreError);
      expect((second as ArtifactStoreError).code).toBe("E_CONFLICT");
      expect(new TextDecoder().decode((await readAll(backend, key)) ?? undefined)).toBe("first");
    });

    test("a second put replaces the object whole", async () => {
      const key = `${prefix()}/replaced`;
      await backend.put(key, streamFromBytes(text("first version, longer")));
      await backend.put(key, streamFromBytes(text("second")));
      expect(new TextDecoder().decode((await readAll(backend, key)) ?? undefined)).toBe("second");
    });

    test("range reads return exactly the requested bytes and report the bounds", async () => {
      const key = `${prefix()}/ranged`;
      const bytes = randomBytes(100_000);
      await backend.put(key, streamFromBytes(bytes));
      const middle = await backend.get(key, { range: { offset: 1000, length: 5000 } });
      expect(middle?.range).toEqual({ start: 1000, end: 5999 });
      expect(middle?.size).toBe(bytes.length);
      expect(await collectBytes(middle?.body as ReadableStream<Uint8Array>)).toEqual(bytes.subarray(1000, 6000));
      const tail = await backend.get(key, { range: { offset: 99_990 } });
      expect(await collectBytes(tail?.body as ReadableStream<Uint8Array>)).toEqual(bytes.subarray(99_990));
      const clipped = await backend.get(key, { range: { offset: 99_999, length: 10 } });
      expect(clipped?.range).toEqual({ start: 99_999, end: 99_999 });
    });

    test("a range starting past the end is refused with E_RANGE", async () => {
      const key = `${prefix()}/short`;
      await backend.put(key, streamFromBytes(text("0123456789")));
      const error = await backend.get(key, { range: { offset: 10 } }).catch((caught) => caught);
      expect(error).toBeInstanceOf(ArtifactStoreError);
      expect((error as ArtifactStoreError).code).toBe("E_RANGE");
    });

    test("delete removes the object and is idempotent", async () => {
      const key = `${prefix()}/deleted`;
      await backend.put(key, streamFromBytes(text("bye")));
      await backend.delete(key);
      expect(await backend.head(key)).toBeNull();
      await backend.delete(key);
      await backend.delete(`${prefix()}/never-existed`);
    });

    test("list pages through every object under a prefix exactly once", async () => {
      const base = prefix();
      const keys = Array.from({ length: 23 }, (_, index) => `${base}/task-${index % 4}/v${index}/log.txt.gz`);
      await Promise.all(keys.map((key) => backend.put(key, streamFromBytes(text(key)))));
      await backend.put(`${base}-sibling/outside`, streamFromBytes(text("not under the prefix")));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await backend.list({ prefix: `${base}/`, limit: 5, ...(cursor ? { cursor } : {}) });
        expect(page.objects.length).toBeLessThanOrEqual(5);
        seen.push(...page.objects.map((object) => object.key));
        cursor = page.cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(5);
      expect([...seen].sort()).toEqual([...keys].sort());
      expect(new Set(seen).size).toBe(seen.length);
      const sizes = (await backend.list({ prefix: `${base}/task-1/` })).objects.map((object) => object.size);
      expect(sizes.every((size) => size > 0)).toBe(true);
    });

    test("keys that could escape or confuse the namespace are refused", async () => {
      for (const key of ["../escape", "/absolute", "a//b", "a/./b", "a\\b", "", "a/\u0000/b"]) {
        const error = await backend.put(key, streamFromBytes(text("x"))).catch((caught) => caught);
        expect(error).toBeInstanceOf(ArtifactStoreError);
      }
    });

    test("concurrent puts to different keys all land", async () => {
      const base = prefix();
      const payloads = Array.from({ length: 16 }, (_, index) => randomBytes(10_000 + index));
      await Promise.all(payloads.map((bytes, index) => backend.put(`${base}/p${index}`, streamFromBytes(bytes, 4096))));
      for (const [index, bytes] of payloads.entries())
        expect(await readAll(backend, `${base}/p${index}`)).toEqual(bytes);
    });

    test("a reader may stop early by cancelling the body", async () => {
      const key = `${prefix()}/cancelled`;
      await backend.put(key, streamFromBytes(randomBytes(2_000_000)));
      const object = await backend.get(key);
      if (!object) throw new Error("the object just put is missing");
      const reader = object.body.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      await reader.cancel();
      // A cancelled body is finished: it yields nothing more, and the object is whole for the next reader.
      expect(await reader.read()).toEqual({ done: true, value: undefined });
      expect((await backend.head(key))?.size).toBe(2_000_000);
      const again = await readAll(backend, key);
      expect(again?.length).toBe(2_000_000);
    });

    test("uriFor names the backend and the key", () => {
      const uri = backend.uriFor("spec/task/v1/diff.txt.gz");
      expect(uri).toMatch(/^[a-z][a-z0-9+.-]*:\/\//);
      expect(uri.endsWith("spec/task/v1/diff.txt.gz")).toBe(true);
    });
  });
}

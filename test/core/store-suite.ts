/**
 * The store's end-to-end suite, run on every backend: what a user of the library sees,
 * whatever holds the blobs. Backend test files call `describeStoreSuite` with a factory.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync, gzipSync } from "fflate";
import { collectBytes, streamFromBytes } from "../../src/codec/streams.ts";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import type { StoreSettings } from "../../src/core/settings.ts";
import type { ArtifactStore } from "../../src/core/store.ts";
import { makeLog, randomBytes, sha256Hex } from "../helpers/store.ts";

export interface StoreUnderTest {
  store: ArtifactStore;
  backend: StorageBackend;
  /** Moves the store's clock (ms since the epoch). */
  clock: { now: number };
  cleanup(): Promise<void>;
}

export interface StoreSuiteOptions {
  /** Size of the large-artifact round trip (default 8 MiB; object stores use 64 MiB to cross multipart). */
  largeBytes?: number;
  /**
   * Whether a read that started keeps its object when it is replaced (default true: files, S3,
   * GCS). s3rver cuts such a read off: the reader then gets an error, never other bytes.
   */
  startedReadsSurviveReplacement?: boolean;
}

const DAY = 86_400_000;

/** The object key of an artifact's current version (the seed path), as DESIGN.md lays it out. */
function blobKeyOf(
  store: ArtifactStore,
  item: { specName: string; taskId: string; type: string; compressed: boolean },
): string {
  const fileName = store.types.find((type) => type.name === item.type)?.fileName;
  return `${item.specName}/${item.taskId}/${fileName}${item.compressed ? ".gz" : ""}`;
}

export function describeStoreSuite(
  name: string,
  make: (config: Partial<StoreSettings>) => Promise<StoreUnderTest>,
  options: StoreSuiteOptions = {},
): void {
  describe(`store end to end on ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ArtifactStore;
    let counter = 0;
    // Each test works in its own spec, so one store serves the whole suite.
    const spec = () => `e2e-${++counter}`;

    beforeAll(async () => {
      subject = await make({ versioningEnabled: true, storageQuota: { maxBytes: null, warnThreshold: 0.8 } });
      store = subject.store;
    });
    afterAll(() => subject.cleanup());

    test("text round-trips through the positional API and its URI names the backend", async () => {
      const log = makeLog(3000);
      const specName = spec();
      const uri = await store.upload("1.1", specName, "log", log);
      expect(uri).toBe(subject.backend.uriFor(`${specName}/1.1/log.txt.gz`));
      expect(await store.downloadText(uri)).toBe(log);
    });

    test(`a ${((options.largeBytes ?? 8 * 1024 * 1024) / 1024 / 1024).toFixed(0)} MiB artifact streams up and down with matching SHA-256`, async () => {
      const size = options.largeBytes ?? 8 * 1024 * 1024;
      const content = randomBytes(size);
      const checksum = await sha256Hex(content);
      const result = await store.upload({
        specName: spec(),
        taskId: "big",
        type: "log",
        content: streamFromBytes(content, 1024 * 1024),
        expectedChecksum: checksum,
      });
      expect(result.originalSize).toBe(size);
      expect(result.originalChecksum).toBe(checksum);
      const opened = await store.open(result.uri);
      const hasher = new Bun.CryptoHasher("sha256");
      let received = 0;
      for await (const chunk of opened.body) {
        hasher.update(chunk);
        received += chunk.length;
      }
      expect(received).toBe(size);
      expect(hasher.digest("hex")).toBe(checksum);
    });

    test("stored objects are plain single-member gzip any client can read", async () => {
      const log = makeLog(2000);
      const result = await store.upload({ specName: spec(), taskId: "t", type: "log", content: log });
      const object = await subject.backend.get(blobKeyOf(store, result));
      const stored = await collectBytes(object?.body as ReadableStream<Uint8Array>);
      expect(new TextDecoder().decode(gunzipSync(stored))).toBe(log);
      expect(new DataView(stored.buffer, stored.byteOffset).getUint32(stored.length - 4, true)).toBe(log.length);
      expect(await sha256Hex(stored)).toBe(result.checksum);
    });

    test("a flipped byte in the stored object is caught on download and flagged", async () => {
      const result = await store.upload({ specName: spec(), taskId: "t", type: "log", content: makeLog(4000) });
      const key = blobKeyOf(store, result);
      const stored = await collectBytes((await subject.backend.get(key))?.body as ReadableStream<Uint8Array>);
      stored[stored.length >> 1] = (stored[stored.length >> 1] as number) ^ 0x20;
      await subject.backend.put(key, streamFromBytes(stored));
      expect((await store.download(result.uri).catch((error) => error)).code).toBe("E_CORRUPT");
      expect((await store.stat(result.uri))?.integrity).toBe("corrupt");
    });

    test("a wrong expected checksum stores nothing", async () => {
      const specName = spec();
      const error = await store
        .upload({ specName, taskId: "t", type: "log", content: "abc", expectedChecksum: "f".repeat(64) })
        .catch((caught) => caught);
      expect(error.code).toBe("E_CHECKSUM_MISMATCH");
      expect((await subject.backend.list({ prefix: `${specName}/` })).objects).toEqual([]);
      expect(await store.search({ specName })).toEqual([]);
    });

    test("gzip passthrough and ranges", async () => {
      const log = makeLog(2000);
      const result = await store.upload({ specName: spec(), taskId: "t", type: "log", content: log });
      const gz = await store.open(result.uri, { acceptEncoding: "gzip" });
      expect(gz.contentEncoding).toBe("gzip");
      expect(new TextDecoder().decode(gunzipSync(await collectBytes(gz.body)))).toBe(log);
      const part = await store.open(result.uri, { range: { offset: 10, length: 30 } });
      expect(new TextDecoder().decode(await collectBytes(part.body))).toBe(log.slice(10, 40));
    });

    test("a gzip-encoded upload is stored as sent", async () => {
      const text = makeLog(1000);
      const gz = gzipSync(new TextEncoder().encode(text));
      const result = await store.upload({
        specName: spec(),
        taskId: "t",
        type: "log",
        content: gz,
        contentEncoding: "gzip",
      });
      expect(result.checksum).toBe(await sha256Hex(gz));
      expect(await store.downloadText(result.uri)).toBe(text);
    });

    test("search by spec, task, type and tags, paginated", async () => {
      const specName = spec();
      for (let index = 0; index < 5; index++) {
        await store.upload({
          specName,
          taskId: `t${index}`,
          type: index % 2 ? "diff" : "log",
          content: `${index}`,
          tags: index < 2 ? ["first"] : [],
        });
      }
      expect((await store.search({ specName, type: "diff" })).map((item) => item.taskId)).toEqual(["t3", "t1"]);
      expect((await store.search({ specName, tags: ["first"] })).map((item) => item.taskId)).toEqual(["t1", "t0"]);
      const page = await store.searchPage({ specName, limit: 3 });
      const rest = await store.searchPage({ specName, limit: 3, cursor: page.nextCursor as string });
      expect([...page.items, ...rest.items].map((item) => item.taskId)).toEqual(["t4", "t3", "t2", "t1", "t0"]);
      expect(rest.nextCursor).toBeNull();
    });

    test("versions, delete and cleanup remove blob, metadata.json entry and row", async () => {
      const specName = spec();
      const first = await store.upload({ specName, taskId: "t", type: "log", content: "v1" });
      const second = await store.upload({ specName, taskId: "t", type: "log", content: "v2" });
      expect(second.version).toBe(first.version + 1);
      expect(await store.delete(first.uri)).toBe(1);
      expect(await store.downloadText({ specName, taskId: "t", type: "log" })).toBe("v2");
      const keys = (await subject.backend.list({ prefix: `${specName}/` })).objects.map((object) => object.key).sort();
      expect(keys).toEqual([`${specName}/t/log.txt.gz`, `${specName}/t/metadata.json`]);
      subject.clock.now += 8 * DAY;
      const report = await store.cleanup({ dryRun: true });
      expect(report.candidates.map((candidate) => candidate.uri)).toContain(second.uri);
      await store.cleanupExpired();
      subject.clock.now -= 8 * DAY;
      expect((await subject.backend.list({ prefix: `${specName}/` })).objects).toEqual([]);
      expect(await store.search({ specName })).toEqual([]);
    });

    test("concurrent uploads to one artifact get distinct versions and all land", async () => {
      const specName = spec();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, index) =>
          store.upload({ specName, taskId: "t", type: "log", content: `upload ${index}` }),
        ),
      );
      expect(results.map((result) => result.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      for (const [index, result] of results.entries())
        expect(await store.downloadText(result.uri)).toBe(`upload ${index}`);
    });
  });

  // The seed's defaults: versioning off, so every upload of an artifact replaces it at the seed path.
  describe(`the seed's contract on ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ArtifactStore;
    beforeAll(async () => {
      subject = await make({ versioningEnabled: false, storageQuota: { maxBytes: null, warnThreshold: 0.8 } });
      store = subject.store;
    });
    afterAll(() => subject.cleanup());

    test("uploading diff, log and test twice leaves exactly the seed's files, and the URIs keep resolving", async () => {
      const uris: string[] = [];
      for (const round of [1, 2]) {
        for (const type of ["diff", "log", "test"]) {
          const content = type === "test" ? `{"round":${round}}` : `${type} round ${round}\n`;
          uris.push(await store.upload("1.1", "chat-app", type, content));
        }
      }
      expect(uris.slice(3)).toEqual(uris.slice(0, 3));
      expect(uris[0]).toBe(subject.backend.uriFor("chat-app/1.1/diff.txt.gz"));
      expect(await store.downloadText(uris[1] as string)).toBe("log round 2\n");
      const keys = (await subject.backend.list({ prefix: "chat-app/" })).objects.map((object) => object.key).sort();
      expect(keys).toEqual([
        "chat-app/1.1/diff.txt.gz",
        "chat-app/1.1/log.txt.gz",
        "chat-app/1.1/metadata.json",
        "chat-app/1.1/test-result.json.gz",
      ]);
    });

    test("a pin survives replacement, and a reader that started before a replacement gets the old bytes whole", async () => {
      const old = randomBytes(3 * 1024 * 1024);
      const first = await store.upload({ specName: "pin", taskId: "t", type: "log", content: old });
      await store.update(first.uri, { pinned: true });
      const reading = await store.open(first.uri);
      const reader = reading.body.getReader();
      const head = await reader.read();
      const second = await store.upload({ specName: "pin", taskId: "t", type: "log", content: "new bytes" });
      const chunks = [head.value as Uint8Array];
      const finished = (async () => {
        for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
      })();
      if (options.startedReadsSurviveReplacement ?? true) {
        await finished;
        expect(await sha256Hex(concat(chunks))).toBe(await sha256Hex(old));
      } else {
        // Cut off, or whole: never a mix of versions.
        const ended = await finished.then(
          () => "whole",
          (error: { code?: string }) => error.code,
        );
        if (ended === "whole") expect(await sha256Hex(concat(chunks))).toBe(await sha256Hex(old));
        else expect(ended).toBe("E_BACKEND");
      }
      expect(second.pinned).toBe(true);
      expect(await store.downloadText(first.uri)).toBe("new bytes");
      expect((await store.search({ specName: "pin" })).map((item) => [item.version, item.pinned])).toEqual([[2, true]]);
    });

    test("readers racing replacements of one key get whole versions and never a false corruption", async () => {
      const contents = Array.from({ length: 12 }, (_, index) => `${makeLog(4000, index)}attempt ${index}\n`);
      const digests = new Set(await Promise.all(contents.map((content) => sha256Hex(content))));
      const failuresBefore = store.metrics().checksumFailures;
      let writing = true;
      let reads = 0;
      const problems: string[] = [];
      const readers = Array.from({ length: 4 }, async () => {
        while (writing) {
          // Yield to timers: a local database may answer in microtasks, which would starve the writer.
          await new Promise((resolve) => setTimeout(resolve, 0));
          const text = await store
            .downloadText({ specName: "race", taskId: "t", type: "log" })
            .catch((error: { code?: string; message?: string }) =>
              error.code === "E_NOT_FOUND" ? null : `${error.code}: ${error.message}`,
            );
          if (text === null) continue;
          reads++;
          if (!digests.has(await sha256Hex(text))) problems.push(text.slice(0, 200));
        }
      });
      for (const content of contents) await store.upload({ specName: "race", taskId: "t", type: "log", content });
      writing = false;
      await Promise.all(readers);
      const falseFlags = (await store.search({ integrity: "corrupt" })).length;
      const checksumFailures = store.metrics().checksumFailures - failuresBefore;
      console.log(
        `[figure] replacement race (${name}): ${contents.length} replacements, ${reads} reads, ` +
          `${problems.length} bad reads, ${checksumFailures} checksum failures, ${falseFlags} false corrupt flags`,
      );
      expect(problems).toEqual([]);
      expect(checksumFailures).toBe(0);
      expect(falseFlags).toBe(0);
      expect(reads).toBeGreaterThan(0);
    });
  });
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

import { describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { freshStorePerTest, makeLog, randomBytes } from "../helpers/store.ts";

const open = freshStorePerTest();
const DAY = 86_400_000;

describe("versioning", () => {
  test("with versioning on, every version stays readable and numbers count up per (spec, task, type)", async () => {
    const { store } = await open({ versioningEnabled: true });
    for (const content of ["a", "b", "c"]) await store.upload({ specName: "s", taskId: "t", type: "log", content });
    await store.upload({ specName: "s", taskId: "t", type: "diff", content: "d" });
    expect((await store.search({ type: "log" })).map((item) => item.version)).toEqual([3, 2, 1]);
    expect(await store.downloadText({ specName: "s", taskId: "t", type: "log", version: 2 })).toBe("b");
    expect((await store.stat({ specName: "s", taskId: "t", type: "diff" }))?.version).toBe(1);
  });

  test("with versioning off, the previous version is deleted once the new one commits", async () => {
    const { store, root } = await open({ versioningEnabled: false });
    const first = await store.upload({ specName: "s", taskId: "t", type: "log", content: "first" });
    const second = await store.upload({ specName: "s", taskId: "t", type: "log", content: "second" });
    expect(second.version).toBe(2);
    // The seed's URI names (spec, task, type): the one the first upload returned now gives the new version.
    expect(second.uri).toBe(first.uri);
    expect(await store.downloadText(first.uri)).toBe("second");
    expect(await store.stat({ specName: "s", taskId: "t", type: "log", version: 1 })).toBeNull();
    expect((await readdir(join(root, "s", "t"))).sort()).toEqual(["log.txt.gz", "metadata.json"]);
    expect(await store.downloadText({ specName: "s", taskId: "t", type: "log" })).toBe("second");
    expect((await store.stats()).artifacts).toBe(1);
  });

  test("version numbers are never reused, even after every version was deleted", async () => {
    const { store } = await open({ versioningEnabled: true });
    await store.upload({ specName: "s", taskId: "t", type: "log", content: "one" });
    expect(await store.delete({ specName: "s", taskId: "t", type: "log" })).toBe(1);
    const again = await store.upload({ specName: "s", taskId: "t", type: "log", content: "two" });
    expect(again.version).toBe(2);
  });

  test("concurrent uploads of the same artifact get unique, dense version numbers and lose nothing", async () => {
    const { store } = await open({ versioningEnabled: true });
    const contents = Array.from({ length: 24 }, (_, index) => `upload ${index}\n${makeLog(200, index)}`);
    const results = await Promise.all(
      contents.map((content) => store.upload({ specName: "s", taskId: "t", type: "log", content })),
    );
    const versions = results.map((result) => result.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 24 }, (_, index) => index + 1));
    // Each upload's URI gives back exactly that upload's content.
    for (const [index, result] of results.entries())
      expect(await store.downloadText(result.uri)).toBe(contents[index] as string);
  });

  test("concurrent uploads with versioning off leave exactly the newest version, whole", async () => {
    const { store, backend } = await open({ versioningEnabled: false });
    const contents = Array.from({ length: 12 }, (_, index) => `content ${index}\n`.repeat(1000 + index));
    const results = await Promise.all(
      contents.map((content) => store.upload({ specName: "s", taskId: "t", type: "log", content })),
    );
    const newest = results.reduce((best, result) => (result.version > best.version ? result : best));
    const remaining = await store.search({ specName: "s" });
    expect(remaining.map((item) => item.version)).toEqual([newest.version]);
    expect(await store.downloadText({ specName: "s", taskId: "t", type: "log" })).toBe(
      contents[results.indexOf(newest)] as string,
    );
    const keys = (await backend.list({ prefix: "s/" })).objects.map((object) => object.key);
    expect(keys.sort()).toEqual(["s/t/log.txt.gz", "s/t/metadata.json"]);
  });

  test("a reader holding the old version keeps reading old bytes while a new version replaces it", async () => {
    const { store } = await open({ versioningEnabled: false, compressionEnabled: false });
    const old = randomBytes(3 * 1024 * 1024);
    await store.upload({ specName: "s", taskId: "t", type: "log", content: old });
    const reading = await store.open({ specName: "s", taskId: "t", type: "log" });
    const reader = reading.body.getReader();
    const first = await reader.read();
    await store.upload({ specName: "s", taskId: "t", type: "log", content: "new bytes" });
    const chunks = [first.value as Uint8Array];
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      chunks.push(next.value);
    }
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(old));
    expect(reading.metadata.version).toBe(1);
  });
});

describe("retention", () => {
  test("expiry follows the type's retention days (diff 30, log 7, test 14)", async () => {
    const { store, clock } = await open({ versioningEnabled: true });
    const created = clock.now;
    const diff = await store.upload({ specName: "s", taskId: "t", type: "diff", content: "d" });
    const log = await store.upload({ specName: "s", taskId: "t", type: "log", content: "l" });
    const testResult = await store.upload({ specName: "s", taskId: "t", type: "test", content: "{}" });
    expect(diff.expiresAt).toBe(new Date(created + 30 * DAY).toISOString());
    expect(log.expiresAt).toBe(new Date(created + 7 * DAY).toISOString());
    expect(testResult.expiresAt).toBe(new Date(created + 14 * DAY).toISOString());
  });

  test("cleanupExpired deletes blob, metadata.json entry and row of expired versions and returns the count", async () => {
    const { store, clock, backend } = await open({ versioningEnabled: true });
    await store.upload({ specName: "s", taskId: "t", type: "log", content: "old log" });
    await store.upload({ specName: "s", taskId: "t", type: "diff", content: "diff kept" });
    clock.now += 8 * DAY;
    expect(await store.cleanupExpired()).toBe(1);
    expect((await store.search({})).map((item) => item.type)).toEqual(["diff"]);
    expect((await backend.list({ prefix: "s/" })).objects.map((object) => object.key).sort()).toEqual([
      "s/t/diff.txt.gz",
      "s/t/metadata.json",
    ]);
    expect(await store.cleanupExpired()).toBe(0);
  });

  test("a dry run lists what would go and why, and deletes nothing", async () => {
    const { store, clock } = await open({ versioningEnabled: true });
    const log = await store.upload({ specName: "s", taskId: "t", type: "log", content: "x" });
    clock.now += 8 * DAY;
    const report = await store.cleanup({ dryRun: true });
    expect(report).toMatchObject({ dryRun: true, deleted: 0, expiredTotal: 1 });
    expect(report.candidates).toHaveLength(1);
    expect(report.candidates[0]?.uri).toBe(log.uri);
    expect(report.candidates[0]?.reason).toContain("keeps log artifacts 7 days");
    expect(report.candidates[0]?.rule).toBe("retention_policy.log");
    expect(await store.stat(log.uri)).not.toBeNull();
  });

  test("pinned versions never expire; unpinning puts them back on schedule", async () => {
    const { store, clock } = await open({ versioningEnabled: true });
    const log = await store.upload({ specName: "s", taskId: "t", type: "log", content: "keep me" });
    const pinned = await store.update(log.uri, { pinned: true });
    expect(pinned.pinned).toBe(true);
    expect(pinned.expiresAt).toBeNull();
    clock.now += 365 * DAY;
    expect(await store.cleanupExpired()).toBe(0);
    expect(await store.downloadText(log.uri)).toBe("keep me");
    await store.update(log.uri, { pinned: false });
    expect(await store.cleanupExpired()).toBe(1);
  });

  test("sweeps go in bounded batches and report progress", async () => {
    const { store, clock } = await open({ versioningEnabled: true });
    for (let index = 0; index < 25; index++)
      await store.upload({ specName: "s", taskId: `t${index}`, type: "log", content: `${index}` });
    clock.now += 8 * DAY;
    const progress: number[] = [];
    const report = await store.cleanup({ batchSize: 10, onProgress: (deleted) => progress.push(deleted) });
    expect(report.deleted).toBe(25);
    expect(report.batches).toBe(3);
    expect(progress).toEqual([10, 20, 25]);
    expect(await store.search({})).toEqual([]);
  });

  test("freedBytes counts only the versions the sweep deleted, not one whose blob could not be removed", async () => {
    const { store, clock } = await open({ versioningEnabled: true }, (backend) => ({
      ...backend,
      async delete(key) {
        if (key.startsWith("s/stuck/")) throw new Error("disk says no");
        return backend.delete(key);
      },
    }));
    const gone = await store.upload({ specName: "s", taskId: "gone", type: "log", content: "a".repeat(5000) });
    const stuck = await store.upload({ specName: "s", taskId: "stuck", type: "log", content: "b".repeat(9000) });
    clock.now += 8 * DAY;
    const report = await store.cleanup();
    expect(report.deleted).toBe(1);
    expect(report.freedBytes).toBe(gone.size);
    expect(report.freedBytes).not.toBe(gone.size + stuck.size);
  });
});

describe("quota", () => {
  test("above the warning threshold uploads and stats carry a warning", async () => {
    const { store } = await open({ compressionEnabled: false, storageQuota: { maxBytes: 10_000, warnThreshold: 0.5 } });
    const small = await store.upload({ specName: "s", taskId: "a", type: "log", content: new Uint8Array(1000) });
    expect(small.warnings).toEqual([]);
    const big = await store.upload({ specName: "s", taskId: "b", type: "log", content: new Uint8Array(5000) });
    expect(big.warnings[0]).toContain("60.0% used");
    const stats = await store.stats();
    expect(stats.quota).toMatchObject({ maxBytes: 10_000, usedBytes: 6000, usedRatio: 0.6 });
    expect(stats.quota.warning).toContain("60.0%");
  });

  test("an upload that would exceed the quota fails with E_QUOTA_EXCEEDED and stores nothing", async () => {
    const { store, backend } = await open({
      compressionEnabled: false,
      storageQuota: { maxBytes: 10_000, warnThreshold: 0.8 },
    });
    await store.upload({ specName: "s", taskId: "a", type: "log", content: new Uint8Array(8000) });
    const error = await store
      .upload({ specName: "s", taskId: "b", type: "log", content: new Uint8Array(3000) })
      .catch((caught) => caught);
    expect(error.code).toBe("E_QUOTA_EXCEEDED");
    expect((await backend.list({ prefix: "s/b/" })).objects).toEqual([]);
    expect((await store.stats()).quota.usedBytes).toBe(8000);
    // What still fits, fits.
    await store.upload({ specName: "s", taskId: "c", type: "log", content: new Uint8Array(2000) });
  });

  test("concurrent uploads never overshoot the quota together", async () => {
    const { store } = await open({ compressionEnabled: false, storageQuota: { maxBytes: 50_000, warnThreshold: 0.8 } });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) =>
        store.upload({ specName: "s", taskId: `t${index}`, type: "log", content: new Uint8Array(6000) }),
      ),
    );
    const stored = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
    const refused = outcomes.filter(
      (outcome) => outcome.status === "rejected" && outcome.reason.code === "E_QUOTA_EXCEEDED",
    ).length;
    expect(stored).toBe(8);
    expect(refused).toBe(12);
    expect((await store.stats()).quota.usedBytes).toBe(48_000);
  });

  test("deleting frees quota", async () => {
    const { store } = await open({
      compressionEnabled: false,
      versioningEnabled: true,
      storageQuota: { maxBytes: 10_000, warnThreshold: 0.8 },
    });
    const first = await store.upload({ specName: "s", taskId: "a", type: "log", content: new Uint8Array(9000) });
    expect(
      (await store.upload({ specName: "s", taskId: "b", type: "log", content: new Uint8Array(2000) }).catch((e) => e))
        .code,
    ).toBe("E_QUOTA_EXCEEDED");
    expect(await store.delete(first.uri)).toBe(1);
    await store.upload({ specName: "s", taskId: "b", type: "log", content: new Uint8Array(2000) });
    expect((await store.stats()).quota.usedBytes).toBe(2000);
  });
});

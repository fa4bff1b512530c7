import { describe, expect, test } from "bun:test";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { streamFromBytes } from "../../src/codec/streams.ts";
import type { ArtifactTypeDefinition } from "../../src/contracts/types.ts";
import { blobLocation } from "../../src/core/layout.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { freshStorePerTest, makeLog, type TestStore } from "../helpers/store.ts";

const open = freshStorePerTest();
const HOUR = 3_600_000;
const text = (value: string) => streamFromBytes(new TextEncoder().encode(value));

/** What a crashed upload leaves: a reservation and a published blob, no commit. */
async function crashedUpload(fixture: TestStore, taskId: string) {
  const type = fixture.store.types.find((candidate) => candidate.name === "log");
  const record = await fixture.metadata.reserveVersion({
    specName: "s",
    taskId,
    type: "log",
    compressed: true,
    mimeType: "text/plain",
    metadata: {},
    createdAt: fixture.clock.now,
    retentionDays: type?.retentionDays ?? null,
    location: blobLocation("s", taskId, type as ArtifactTypeDefinition, true, false),
    reserveBytes: 0,
    maxBytes: null,
  });
  await fixture.backend.put(record.storageKey, text("half-way"));
  return record;
}

describe("gc", () => {
  test("removes the reservation and object of an upload that crashed before commit; a dry run only lists it", async () => {
    const fixture = await open();
    const record = await crashedUpload(fixture, "crashed");
    const dry = await fixture.store.gc({ dryRun: true, now: fixture.clock.now + 2 * HOUR });
    const uri = fixture.backend.uriFor("s/crashed/log.txt.gz");
    expect(dry.stalePending).toEqual([uri]);
    expect(await fixture.backend.head(record.storageKey)).not.toBeNull();
    const report = await fixture.store.gc({ now: fixture.clock.now + 2 * HOUR });
    expect(report.stalePending).toEqual([uri]);
    expect(await fixture.backend.head(record.storageKey)).toBeNull();
    expect((await fixture.store.stats()).pendingUploads).toBe(0);
    expect((await fixture.store.stats()).quota.usedBytes).toBe(0);
  });

  test("leaves a reservation younger than the grace period alone: that upload may still be running", async () => {
    const fixture = await open();
    const record = await crashedUpload(fixture, "running");
    const report = await fixture.store.gc({ now: fixture.clock.now + 60_000 });
    expect(report.stalePending).toEqual([]);
    expect(await fixture.backend.head(record.storageKey)).not.toBeNull();
  });

  test("finishes an interrupted delete", async () => {
    const fixture = await open();
    const _result = await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: "bye" });
    const record = await fixture.metadata.findVersion({ specName: "s", taskId: "t", type: "log" });
    await fixture.metadata.markDeleting([record?.id as number]);
    expect(await fixture.store.search({})).toEqual([]);
    const report = await fixture.store.gc();
    expect(report.finishedDeletes).toBe(1);
    expect((await fixture.backend.list({ prefix: "s/" })).objects).toEqual([]);
  });

  test("removes old objects nobody refers to, keeps recent ones, versions metadata.json lists, and files it did not write", async () => {
    const fixture = await open();
    await fixture.backend.put("s/orphan/log.txt.gz", text("no row, not in any metadata.json"));
    await fixture.backend.put("s/orphan/versions/v2/log.txt.gz", text("no row either"));
    await fixture.backend.put(".store/uploads/s/orphan/v3.replace.log.txt.gz", text("an upload without its row"));
    await fixture.backend.put("notes/readme.txt", text("not ours"));
    await fixture.backend.put("s/a/b/c/d", text("not our layout"));
    await fixture.backend.put("s/a/notes.txt", text("not a type's file name"));
    await fixture.store.upload({ specName: "s", taskId: "lost-row", type: "log", content: "complete version" });
    const keptRecord = await fixture.metadata.findVersion({ specName: "s", taskId: "lost-row", type: "log" });
    await fixture.metadata.remove([keptRecord?.id as number]);

    const early = await fixture.store.gc({ now: Date.now() + 60_000 });
    expect(early.orphanObjects).toEqual([]);

    const report = await fixture.store.gc({ now: Date.now() + 2 * HOUR });
    expect(report.orphanObjects.sort()).toEqual([
      ".store/uploads/s/orphan/v3.replace.log.txt.gz",
      "s/orphan/log.txt.gz",
      "s/orphan/versions/v2/log.txt.gz",
    ]);
    expect(report.recoverable).toEqual(["s/lost-row/log.txt.gz"]);
    const remaining = (await fixture.backend.list()).objects.map((object) => object.key).sort();
    expect(remaining.filter((key) => key !== "metadata-index.json")).toEqual([
      "notes/readme.txt",
      "s/a/b/c/d",
      "s/a/notes.txt",
      "s/lost-row/log.txt.gz",
      "s/lost-row/metadata.json",
    ]);
  });

  test("removes stale staging files", async () => {
    const fixture = await open();
    await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: "x" });
    await writeFile(join(fixture.backend.stagingDir, "dead.tmp"), "partial");
    const report = await fixture.store.gc({ now: Date.now() + 2 * HOUR });
    expect(report.stagingFiles).toEqual(["dead.tmp"]);
  });
});

describe("verify", () => {
  test("checks every stored checksum, flags what fails, and clears the flag once the bytes are restored", async () => {
    const fixture = await open({ versioningEnabled: true });
    const results = [];
    for (let index = 0; index < 6; index++) {
      results.push(
        await fixture.store.upload({ specName: "s", taskId: `t${index}`, type: "log", content: makeLog(500, index) }),
      );
    }
    const victim = results[2] as (typeof results)[number];
    const path = new URL(victim.uri);
    const original = await readFile(path);
    const damaged = Buffer.from(original);
    damaged[10] = (damaged[10] as number) ^ 0x04;
    await writeFile(path, damaged);
    const progress: number[] = [];
    const report = await fixture.store.verify({ onProgress: (state) => progress.push(state.checked) });
    expect(report.checked).toBe(6);
    expect(report.corrupt.map((entry) => entry.uri)).toEqual([victim.uri]);
    expect(report.bytes).toBe(results.reduce((sum, result) => sum + result.size, 0));
    expect(progress.at(-1)).toBe(6);
    expect((await fixture.store.stat(victim.uri))?.integrity).toBe("corrupt");
    expect((await fixture.store.download(victim.uri).catch((error) => error)).code).toBe("E_CORRUPT");
    expect((await fixture.store.search({ integrity: "corrupt" })).map((item) => item.uri)).toEqual([victim.uri]);

    await writeFile(path, original);
    const again = await fixture.store.verify({ deep: true });
    expect(again.corrupt).toEqual([]);
    expect(again.recovered).toEqual([victim.uri]);
    expect(await fixture.store.download(victim.uri)).toBeInstanceOf(Uint8Array);
  });

  test("a missing object is reported", async () => {
    const fixture = await open();
    const result = await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: "x" });
    await fixture.backend.delete("s/t/log.txt.gz");
    const report = await fixture.store.verify();
    expect(report.corrupt).toEqual([{ uri: result.uri, reason: "stored object s/t/log.txt.gz is missing" }]);
  });
});

describe("reindex", () => {
  test("after the database is deleted, reindex restores rows from each task's metadata.json and search answers as before", async () => {
    const fixture = await open({ versioningEnabled: true });
    for (let index = 0; index < 8; index++) {
      await fixture.store.upload({
        specName: index % 2 ? "chat-app" : "iot",
        taskId: `t${index % 3}`,
        type: index % 3 === 0 ? "diff" : "log",
        content: makeLog(100, index),
        tags: index % 2 ? ["ci"] : ["nightly", "ci"],
        metadata: { index },
      });
    }
    const before = await fixture.store.search({ limit: 100 });
    await fixture.store.close();
    const databasePath = join(fixture.root, ".store", "metadata.db");
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${databasePath}${suffix}`, { force: true });

    const metadata = await openLocalMetadata({ url: databasePath });
    const store = createArtifactStore({ backend: fixture.backend, metadata, config: { versioningEnabled: true } });
    expect(await store.search({})).toEqual([]);
    const dry = await store.reindex({ dryRun: true });
    expect(dry.restored).toHaveLength(8);
    expect(await store.search({})).toEqual([]);
    const report = await store.reindex();
    expect(report).toMatchObject({ metadataFiles: 6, present: 0, skipped: [] });
    expect(report.restored).toHaveLength(8);
    const after = await store.search({ limit: 100 });
    const comparable = (items: typeof before) =>
      items.map(({ lastAccessedAt: _lastAccessedAt, ...item }) => item).sort((a, b) => a.uri.localeCompare(b.uri));
    expect(comparable(after)).toEqual(comparable(before));
    expect((await store.reindex()).present).toBe(8);
    // Version numbers continue above the restored ones.
    const next = await store.upload({ specName: "iot", taskId: "t0", type: "diff", content: "new" });
    const restoredVersions = before
      .filter((item) => item.specName === "iot" && item.taskId === "t0" && item.type === "diff")
      .map((item) => item.version);
    expect(next.version).toBe(Math.max(...restoredVersions) + 1);
    await store.close();
  });

  test("with a lost database, an upload is refused rather than overwrite a stored version", async () => {
    const fixture = await open();
    const first = await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: "the only copy" });
    await fixture.store.close();
    const databasePath = join(fixture.root, ".store", "metadata.db");
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${databasePath}${suffix}`, { force: true });
    const store = createArtifactStore({
      backend: fixture.backend,
      metadata: await openLocalMetadata({ url: databasePath }),
    });
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: "a newcomer" })
      .catch((caught) => caught);
    expect(error.code).toBe("E_CONFLICT");
    expect(error.message).toContain("run reindex");
    await store.reindex();
    expect(await store.downloadText(first.uri)).toBe("the only copy");
    expect((await store.upload({ specName: "s", taskId: "t", type: "log", content: "after reindex" })).version).toBe(2);
    await store.close();
  });

  test("a metadata.json entry whose blob is missing or the wrong size is skipped with the reason", async () => {
    const fixture = await open();
    await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: makeLog(100) });
    const record = await fixture.metadata.findVersion({ specName: "s", taskId: "t", type: "log" });
    await fixture.metadata.remove([record?.id as number]);
    await fixture.backend.put("s/t/log.txt.gz", text("truncated"));
    const report = await fixture.store.reindex();
    expect(report.restored).toEqual([]);
    expect(report.skipped).toEqual([
      { key: "s/t/metadata.json", reason: expect.stringContaining("metadata.json says") },
    ]);
  });

  test("a metadata.json of another format version is not read: skipped with the reason, nothing restored from it", async () => {
    const fixture = await open();
    const result = await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: makeLog(100) });
    const record = await fixture.metadata.findVersion({ specName: "s", taskId: "t", type: "log" });
    await fixture.metadata.remove([record?.id as number]);
    const file = await fixture.backend.get("s/t/metadata.json");
    const fields = JSON.parse(await new Response(file?.body).text()) as Record<string, unknown>;
    await fixture.backend.put("s/t/metadata.json", text(JSON.stringify({ ...fields, format_version: 2 })));
    const report = await fixture.store.reindex();
    expect(report.restored).toEqual([]);
    expect(report.skipped).toEqual([{ key: "s/t/metadata.json", reason: expect.stringContaining("format_version 2") }]);
    expect(await fixture.store.stat(result.uri)).toBeNull();
  });
});

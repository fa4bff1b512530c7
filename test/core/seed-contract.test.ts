/**
 * The seed's contract, as a newcomer who knows only the seed uses the store: its file tree,
 * URIs derived from (spec, task, type) and computed from where the store is now, retention
 * that follows the current policy, and the seed's `search` / `download` / positional `upload`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { createFsBackend } from "../../src/backends/fs.ts";
import { keptFor } from "../../src/core/maintenance.ts";
import type { StoreSettings } from "../../src/core/settings.ts";
import { type ArtifactStore, createArtifactStore } from "../../src/core/store.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { makeTempDir } from "../helpers/store.ts";

const DAY = 86_400_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Opened {
  store: ArtifactStore;
  warnings: string[];
  logged: string[];
}

/** A store on `root` (fs + the libSQL file under `.store/`), as `openArtifactStore` wires it. */
async function openAt(root: string, config: Partial<StoreSettings> = {}, clock = { now: Date.now() }): Promise<Opened> {
  const warnings: string[] = [];
  const logged: string[] = [];
  const store = createArtifactStore({
    backend: createFsBackend({ root }),
    metadata: await openLocalMetadata({ url: join(root, ".store", "metadata.db") }),
    config,
    now: () => clock.now,
    logger: {
      debug() {},
      info() {},
      warn: (message) => logged.push(message),
      error: (message) => logged.push(message),
    },
    onWarning: (warning) => warnings.push(warning),
  });
  cleanups.push(() => store.close().catch(() => {}));
  return { store, warnings, logged };
}

async function tempRoot(): Promise<string> {
  const dir = await makeTempDir("seed-contract");
  cleanups.push(dir.cleanup);
  return join(dir.path, "artifacts");
}

async function tree(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (directory: string, prefix: string) => {
    for (const entry of (await readdir(directory, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const key = `${prefix}${entry.name}`;
      if (key === ".store") continue;
      if (entry.isDirectory()) await walk(join(directory, entry.name), `${key}/`);
      else found.push(key);
    }
  };
  await walk(root, "");
  return found;
}

describe("the seed's file tree", () => {
  test("default config: the seed's files per task, metadata-index.json at the root, the store's own files in .store/", async () => {
    const root = await tempRoot();
    const { store } = await openAt(root);
    for (const type of ["diff", "log", "test"]) await store.upload("1.1", "chat-app", type, `${type}\n`);
    await store.close();
    expect(await tree(root)).toEqual([
      "chat-app/1.1/diff.txt.gz",
      "chat-app/1.1/log.txt.gz",
      "chat-app/1.1/metadata.json",
      "chat-app/1.1/test-result.json.gz",
      "metadata-index.json",
    ]);
    expect((await readdir(join(root, ".store"))).filter((name) => name.startsWith("metadata.db"))).toContain(
      "metadata.db",
    );
    const index = JSON.parse(await readFile(join(root, "metadata-index.json"), "utf8"));
    expect(index.format_version).toBe(1);
    expect(Object.keys(index.specs["chat-app"]["1.1"].types).sort()).toEqual(["diff", "log", "test"]);
    expect(index.specs["chat-app"]["1.1"].types.log).toEqual({ version: 1, versions: 1 });
    const task = JSON.parse(await readFile(join(root, "chat-app", "1.1", "metadata.json"), "utf8"));
    expect(task.artifacts.map((entry: { type: string }) => entry.type).sort()).toEqual(["diff", "log", "test"]);
  });

  test("with compression off the files have no .gz", async () => {
    const root = await tempRoot();
    const { store } = await openAt(root, { compressionEnabled: false });
    await store.upload("1.1", "chat-app", "test", '{"ok":true}');
    expect(await readFile(join(root, "chat-app", "1.1", "test-result.json"), "utf8")).toBe('{"ok":true}');
  });

  test("a PATCH and a delete rewrite the task's metadata.json", async () => {
    const root = await tempRoot();
    const { store } = await openAt(root);
    const uri = await store.upload("1.1", "chat-app", "log", "x\n");
    await store.upload("1.1", "chat-app", "diff", "d\n");
    await store.update(uri, { pinned: true, tags: ["keep"] });
    const read = async () => JSON.parse(await readFile(join(root, "chat-app", "1.1", "metadata.json"), "utf8"));
    expect((await read()).artifacts.find((entry: { type: string }) => entry.type === "log")).toMatchObject({
      pinned: true,
      tags: ["keep"],
    });
    await store.delete(uri);
    expect((await read()).artifacts.map((entry: { type: string }) => entry.type)).toEqual(["diff"]);
  });
});

describe("URIs are computed, never stored", () => {
  test("a store moved to another base_path reports and accepts URIs under its new location", async () => {
    const root = await tempRoot();
    const before = await openAt(root);
    const uri = await before.store.upload("1.1", "chat-app", "log", "moved\n");
    await before.store.close();
    const moved = `${root}-moved`;
    await rename(root, moved);
    cleanups.push(() => rm(moved, { recursive: true, force: true }));
    const { store } = await openAt(moved);
    const [item] = await store.search({ specName: "chat-app" });
    expect(item?.uri).toBe(`file://${moved}/chat-app/1.1/log.txt.gz`);
    expect(await store.downloadText(item?.uri as string)).toBe("moved\n");
    expect((await store.download(uri).catch((error) => error)).code).toBe("E_NOT_FOUND");
  });

  test("with versioning on, the URI means the current version and ?version=N (or versions/vN) one version", async () => {
    const root = await tempRoot();
    const { store } = await openAt(root, { versioningEnabled: true });
    const current = await store.upload("1.1", "chat-app", "log", "one\n");
    await store.upload("1.1", "chat-app", "log", "two\n");
    expect(await store.downloadText(current)).toBe("two\n");
    expect(await store.downloadText(`${current}?version=1`)).toBe("one\n");
    expect(await store.downloadText(`file://${root}/chat-app/1.1/versions/v1/log.txt.gz`)).toBe("one\n");
    expect(await readFile(join(root, "chat-app", "1.1", "versions", "v1", "log.txt.gz"))).toBeInstanceOf(Buffer);
  });
});

describe("retention follows the current policy", () => {
  test("a shorter policy applies to what is stored; null keeps forever; pins win; the dry run names the rule", async () => {
    const root = await tempRoot();
    const clock = { now: Date.now() };
    const first = await openAt(root, {}, clock);
    const kept = await first.store.upload({ specName: "s", taskId: "pinned", type: "log", content: "pinned\n" });
    await first.store.update(kept.uri, { pinned: true });
    await first.store.upload({ specName: "s", taskId: "t", type: "log", content: "four days old\n" });
    await first.store.close();
    clock.now += 4 * DAY;

    const forever = await openAt(root, { types: typesWith({ log: null }) }, clock);
    expect(await forever.store.cleanup({ dryRun: true, now: clock.now + 10 * DAY })).toMatchObject({
      expiredTotal: 0,
    });
    await forever.store.close();

    const shorter = await openAt(root, { types: typesWith({ log: 3 }) }, clock);
    const dry = await shorter.store.cleanup({ dryRun: true });
    expect(dry.candidates.map((candidate) => [candidate.taskId, candidate.rule])).toEqual([
      ["t", "retention_policy.log"],
    ]);
    expect(dry.candidates[0]?.reason).toContain("keeps log artifacts 3 days");
    expect(await shorter.store.cleanupExpired()).toBe(1);
    expect((await shorter.store.search({ specName: "s" })).map((item) => item.taskId)).toEqual(["pinned"]);
  });

  test("a version's expiry is the current policy's, in a search as in a stat, not the one at its upload", async () => {
    const root = await tempRoot();
    const clock = { now: Date.now() };
    const first = await openAt(root, { types: typesWith({ log: 10 }) }, clock);
    const uploaded = await first.store.upload({ specName: "s", taskId: "t", type: "log", content: "kept\n" });
    expect(uploaded.expiresAt).toBe(new Date(Date.parse(uploaded.createdAt) + 10 * DAY).toISOString());
    await first.store.close();
    for (const days of [3, 10]) {
      const reopened = await openAt(root, { types: typesWith({ log: days }) }, clock);
      const [found] = await reopened.store.search({ specName: "s" });
      expect(found?.expiresAt).toBe(new Date(Date.parse(uploaded.createdAt) + days * DAY).toISOString());
      expect((await reopened.store.stat({ specName: "s", taskId: "t", type: "log" }))?.expiresAt).toBe(
        found?.expiresAt as string,
      );
      await reopened.store.close();
    }
  });

  test("the dry run's reason reads right for one day, under a day, and keep-forever", async () => {
    const root = await tempRoot();
    const clock = { now: Date.now() };
    const first = await openAt(root, { types: typesWith({ log: 1 }) }, clock);
    await first.store.upload({ specName: "s", taskId: "t", type: "log", content: "two days old\n" });
    clock.now += 2 * DAY;
    const [candidate] = (await first.store.cleanup({ dryRun: true })).candidates;
    expect(candidate?.reason).toContain("keeps log artifacts 1 day;");
    await first.store.close();
    const hours = await openAt(root, { types: typesWith({ log: 0.5 }) }, clock);
    expect((await hours.store.cleanup({ dryRun: true })).candidates[0]?.reason).toContain(
      "keeps log artifacts 0.5 days (12 hours);",
    );
    await hours.store.close();
    expect(["forever", "7 days", "0.00002 days (1.73 seconds)"]).toEqual([keptFor(null), keptFor(7), keptFor(0.00002)]);
  });
});

describe("the seed's API", () => {
  test("search takes the seed's snake_case keys, refuses unknown ones by name, and returns everything", async () => {
    const root = await tempRoot();
    const { store } = await openAt(root);
    for (let index = 0; index < 130; index++) await store.upload(`t${index}`, "chat-app", "log", `${index}\n`);
    await store.upload("t0", "other", "diff", "d\n");
    expect(await store.search({ spec_name: "chat-app" })).toHaveLength(130);
    expect((await store.search({ spec_name: "chat-app", task_id: "t7" })).map((item) => item.taskId)).toEqual(["t7"]);
    expect((await store.search({ type: "diff", created_after: new Date(0) })).map((item) => item.specName)).toEqual([
      "other",
    ]);
    const unknown = await store.search({ spec: "chat-app" } as never).catch((error) => error);
    expect(unknown.code).toBe("E_INVALID_INPUT");
    expect(unknown.message).toContain('"spec"');
    expect(unknown.message).toContain("specName (spec_name)");
    const seedName = await store.search({ artifact_type: "log" } as never).catch((error) => error);
    expect(seedName.message).toContain('"artifact_type"');
    expect(await store.search({ spec_name: "chat-app", limit: 5 })).toHaveLength(5);
  });

  test("download(uri, false) skips verification, download(uri) verifies", async () => {
    const root = await tempRoot();
    const { store } = await openAt(root, { compressionEnabled: false });
    const uri = await store.upload("1.1", "chat-app", "log", "original\n");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(root, "chat-app", "1.1", "log.txt"), "damaged!\n");
    expect(new TextDecoder().decode(await store.download(uri, false))).toBe("damaged!\n");
    expect((await store.download(uri, true).catch((error) => error)).code).toBe("E_CORRUPT");
  });

  test("the positional upload sends quota warnings to the logger and to onWarning", async () => {
    const root = await tempRoot();
    const { store, warnings, logged } = await openAt(root, {
      compressionEnabled: false,
      storageQuota: { maxBytes: 1000, warnThreshold: 0.5 },
    });
    await store.upload("1.1", "chat-app", "log", "x".repeat(600));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("60.0% used");
    expect(logged).toContain(warnings[0] as string);
  });
});

describe("rebuilding from the files alone", () => {
  for (const versioningEnabled of [false, true]) {
    test(`after deleting the database, reindex restores every artifact and pin (versioning ${versioningEnabled ? "on" : "off"})`, async () => {
      const root = await tempRoot();
      const first = await openAt(root, { versioningEnabled });
      for (const round of [1, 2])
        for (const type of ["diff", "log", "test"])
          await first.store.upload("1.1", "chat-app", type, `${type} ${round}\n`);
      await first.store.update({ specName: "chat-app", taskId: "1.1", type: "log" }, { pinned: true });
      const before = await first.store.search({});
      await first.store.close();
      for (const suffix of ["", "-wal", "-shm"])
        await rm(join(root, ".store", `metadata.db${suffix}`), { force: true });

      const { store } = await openAt(root, { versioningEnabled });
      expect(await store.search({})).toEqual([]);
      const report = await store.reindex();
      expect(report.skipped).toEqual([]);
      const comparable = (items: typeof before) =>
        items
          .map(({ lastAccessedAt: _lastAccessedAt, ...item }) => item)
          .sort((a, b) => `${a.type}${a.version}`.localeCompare(`${b.type}${b.version}`));
      expect(comparable(await store.search({}))).toEqual(comparable(before));
      expect((await store.search({ pinned: true })).map((item) => item.type)).toEqual(["log"]);
      expect(await store.downloadText({ specName: "chat-app", taskId: "1.1", type: "test" })).toBe("test 2\n");
    });
  }
});

function typesWith(days: Record<string, number | null>) {
  return [
    { name: "diff", fileName: "diff.txt", mimeType: "text/x-diff", retentionDays: days.diff ?? 30 },
    { name: "log", fileName: "log.txt", mimeType: "text/plain", retentionDays: "log" in days ? (days.log ?? null) : 7 },
    { name: "test", fileName: "test-result.json", mimeType: "application/json", retentionDays: days.test ?? 14 },
  ];
}

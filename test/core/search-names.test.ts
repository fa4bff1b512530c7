import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { ArtifactStoreError } from "../../src/contracts/errors.ts";
import { createRandom, FAKE_SECRET_MAKERS, type FakeSecret, type Random } from "../helpers/fake-secrets.ts";
import { makeFsStore, type TestStore } from "../helpers/store.ts";

describe("search", () => {
  let fixture: TestStore;
  const base = Date.parse("2026-11-01T00:00:00Z");

  beforeAll(async () => {
    fixture = await makeFsStore({ versioningEnabled: true });
    const uploads = [
      { specName: "chat-app", taskId: "1.1", type: "diff", tags: ["ci", "pr-1"] },
      { specName: "chat-app", taskId: "1.1", type: "log", tags: ["ci"] },
      { specName: "chat-app", taskId: "1.2", type: "test", tags: ["nightly"] },
      { specName: "iot-dashboard", taskId: "2.1", type: "log", tags: ["ci", "nightly"] },
      { specName: "iot-dashboard", taskId: "2.1", type: "log", tags: [] },
      { specName: "iot-dashboard", taskId: "2.2", type: "diff", tags: ["pr-2"] },
    ];
    for (const [index, upload] of uploads.entries()) {
      fixture.clock.now = base + index * 3600_000;
      await fixture.store.upload({ ...upload, content: `artifact ${index}` });
    }
  });
  afterAll(() => fixture.cleanup());

  const find = async (filters: Parameters<TestStore["store"]["search"]>[0]) =>
    (await fixture.store.search(filters)).map((item) => `${item.specName}/${item.taskId}/${item.type}@${item.version}`);

  test("newest first, by spec, task and type", async () => {
    expect(await find({ specName: "chat-app" })).toEqual([
      "chat-app/1.2/test@1",
      "chat-app/1.1/log@1",
      "chat-app/1.1/diff@1",
    ]);
    expect(await find({ taskId: "2.1" })).toEqual(["iot-dashboard/2.1/log@2", "iot-dashboard/2.1/log@1"]);
    expect(await find({ type: "diff" })).toEqual(["iot-dashboard/2.2/diff@1", "chat-app/1.1/diff@1"]);
    expect(await find({ spec_name: "chat-app", task_id: "1.1", type: "log" })).toEqual(["chat-app/1.1/log@1"]);
  });

  test("all tags, any tag", async () => {
    expect(await find({ tags: ["ci", "nightly"] })).toEqual(["iot-dashboard/2.1/log@1"]);
    expect(await find({ anyTags: ["pr-1", "pr-2"] })).toEqual(["iot-dashboard/2.2/diff@1", "chat-app/1.1/diff@1"]);
  });

  test("created-at range: since inclusive, until exclusive", async () => {
    const since = new Date(base + 2 * 3600_000);
    const until = new Date(base + 4 * 3600_000).toISOString();
    expect(await find({ since, until })).toEqual(["iot-dashboard/2.1/log@1", "chat-app/1.2/test@1"]);
  });

  test("latest versions only", async () => {
    expect(await find({ specName: "iot-dashboard", latestOnly: true })).toEqual([
      "iot-dashboard/2.2/diff@1",
      "iot-dashboard/2.1/log@2",
    ]);
  });

  test("pages with an opaque cursor cover everything exactly once", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await fixture.store.searchPage({ limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((item) => item.uri));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });

  test("bad filters are refused with E_INVALID_INPUT or E_INVALID_NAME", async () => {
    const code = async (filters: object) =>
      ((await fixture.store.search(filters as never).catch((error) => error)) as ArtifactStoreError).code;
    expect(await code({ limit: 0 })).toBe("E_INVALID_INPUT");
    expect(await code({ limit: 5000 })).toBe("E_INVALID_INPUT");
    expect(await code({ cursor: "not-a-cursor" })).toBe("E_INVALID_INPUT");
    expect(await code({ since: "yesterday-ish" })).toBe("E_INVALID_INPUT");
    expect(await code({ specName: "../etc" })).toBe("E_INVALID_NAME");
    expect(await code({ tags: ["has space"] })).toBe("E_INVALID_INPUT");
  });

  test("tags can be replaced, added and removed", async () => {
    const [latest] = await fixture.store.search({ specName: "chat-app", type: "test" });
    const uri = latest?.uri as string;
    expect((await fixture.store.update(uri, { addTags: ["flaky"] })).tags).toEqual(["flaky", "nightly"]);
    expect((await fixture.store.update(uri, { removeTags: ["nightly"] })).tags).toEqual(["flaky"]);
    expect((await fixture.store.update(uri, { tags: ["a", "b"] })).tags).toEqual(["a", "b"]);
    expect(await find({ tags: ["a"] })).toEqual(["chat-app/1.2/test@1"]);
  });
});

describe("names are checked before any I/O", () => {
  let fixture: TestStore;
  beforeAll(async () => {
    fixture = await makeFsStore();
  });
  afterAll(() => fixture.cleanup());

  const refused = [
    "..",
    "../etc",
    "a/b",
    "a\\b",
    ".hidden",
    "nul\u0000byte",
    "tab\tchar",
    "",
    "x".repeat(129),
    "%2e%2e",
    "spa ce",
    "ｆｕｌｌ",
    "dot\u2024dot",
  ];

  test.each(refused)("spec name %p is refused with E_INVALID_NAME and nothing is written", async (name) => {
    const error = await fixture.store
      .upload({ specName: name, taskId: "t", type: "log", content: "x" })
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(ArtifactStoreError);
    expect(error.code).toBe("E_INVALID_NAME");
    expect(await readdir(fixture.root)).toEqual([".store"]);
  });

  test.each(refused)("task id %p is refused with E_INVALID_NAME, also for download and delete", async (name) => {
    const ref = { specName: "s", taskId: name, type: "log" };
    expect((await fixture.store.upload({ ...ref, content: "x" }).catch((error) => error)).code).toBe("E_INVALID_NAME");
    expect((await fixture.store.download(ref).catch((error) => error)).code).toBe("E_INVALID_NAME");
    expect((await fixture.store.delete(ref).catch((error) => error)).code).toBe("E_INVALID_NAME");
  });

  test("names with dots, dashes and underscores inside are fine, including the seed's task ids", async () => {
    const result = await fixture.store.upload({ specName: "chat-app_v2", taskId: "1.1", type: "log", content: "ok" });
    expect(result.uri.endsWith("/chat-app_v2/1.1/log.txt.gz")).toBe(true);
    expect("x".repeat(128)).toHaveLength(128);
    await fixture.store.upload({ specName: "x".repeat(128), taskId: "a.b-c_d", type: "log", content: "ok" });
  });

  test("invalid metadata and tags are refused", async () => {
    const upload = (extra: object) =>
      fixture.store
        .upload({ specName: "s", taskId: "t", type: "log", content: "x", ...extra })
        .catch((error) => error.code);
    expect(await upload({ metadata: [1, 2] })).toBe("E_INVALID_INPUT");
    expect(await upload({ metadata: { big: "x".repeat(70_000) } })).toBe("E_INVALID_INPUT");
    expect(await upload({ tags: "ci" })).toBe("E_INVALID_INPUT");
    expect(await upload({ tags: Array.from({ length: 65 }, (_, index) => `t${index}`) })).toBe("E_INVALID_INPUT");
    expect(await upload({ expectedChecksum: "abc" })).toBe("E_INVALID_INPUT");
  });
});

describe("search results", () => {
  test("each is the version exactly as stat gives it: sorted tags, metadata, summary, secrets, pin, times", async () => {
    const fixture = await makeFsStore({ versioningEnabled: true });
    try {
      const secret = (FAKE_SECRET_MAKERS["github-token"] as (random: Random) => FakeSecret)(createRandom(5));
      const ref = { specName: "s", taskId: "t" };
      await fixture.store.upload({
        ...ref,
        type: "diff",
        tags: ["zeta", "alpha", "mid"],
        metadata: { pr: 7, nested: { list: [1, "two"] } },
        content: "diff --git a/x.ts b/x.ts\n--- a/x.ts\n+++ b/x.ts\n@@ -1 +1 @@\n-a\n+b\n",
      });
      await fixture.store.upload({ ...ref, type: "log", tags: ["one"], content: `ERROR boom\n${secret.text}\n` });
      await fixture.store.upload({ ...ref, type: "log", content: "fine\n" });
      await fixture.store.update({ ...ref, type: "log", version: 1 }, { pinned: true });
      const [diffRecord] = await fixture.metadata.search({ specName: "s", type: "diff", limit: 1 });
      await fixture.metadata.touch([diffRecord?.id as number], Date.parse("2026-12-01T10:00:00.123Z")); // a download's
      const items = await fixture.store.search({ specName: "s" });
      expect(items.map((item) => `${item.type}@${item.version}`)).toEqual(["log@2", "log@1", "diff@1"]);
      for (const item of items) expect(item).toEqual((await fixture.store.stat({ ...item })) as typeof item);
      const [, secretLog, diff] = items;
      expect(diff?.tags).toEqual(["alpha", "mid", "zeta"]);
      expect(diff?.metadata).toEqual({ pr: 7, nested: { list: [1, "two"] } });
      expect(diff?.summary).toMatchObject({ kind: "diff", files: 1 });
      expect(secretLog?.secrets?.findings).toEqual([expect.objectContaining({ rule: "github-token", count: 1 })]);
      expect(secretLog?.pinned).toBe(true);
      expect(secretLog?.expiresAt).toBeNull();
      expect(diff?.lastAccessedAt).toBe("2026-12-01T10:00:00.123Z");
    } finally {
      await fixture.cleanup();
    }
  });
});

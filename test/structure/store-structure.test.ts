/** Structure through the store and the API: extracted at upload, searchable, removed and rebuilt with the versions. */
import { afterEach, describe, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "fflate";
import { createArtifactStore } from "../../src/core/store.ts";
import { createApp } from "../../src/http/app.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { makeFsStore, makeLog, type TestStore } from "../helpers/store.ts";

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

async function open() {
  current = await makeFsStore({ versioningEnabled: true });
  return current;
}

const fixtures = join(import.meta.dir, "fixtures");
const junit = () => Bun.file(join(fixtures, "bun-junit.xml")).text();
const diff = (path: string, oldPath = path) =>
  `diff --git a/${oldPath} b/${path}\n--- a/${oldPath}\n+++ b/${path}\n@@ -1,2 +1,3 @@\n keep\n-gone\n+new\n+newer\n`;

describe("structure extracted at upload", () => {
  test("the upload result, stat, search and the task's metadata.json carry the summary", async () => {
    const { store, backend } = await open();
    const log = `${makeLog(3000)}FATAL the end\n`;
    const uploaded = await store.upload({ specName: "chat", taskId: "1", type: "log", content: log });
    expect(uploaded.summary).toMatchObject({ kind: "log", lines: 3001, parseError: null, truncated: false });
    const errors = log.split("\n").filter((line) => / ERROR |FATAL/.test(line)).length;
    expect(uploaded.summary).toMatchObject({ errors });
    expect(await store.stat(uploaded.uri)).toEqual({ ...uploaded, warnings: undefined } as never);
    expect((await store.search({ specName: "chat" }))[0]?.summary).toEqual(uploaded.summary);
    const task = JSON.parse(await new Response((await backend.get("chat/1/metadata.json"))?.body).text());
    expect(task.artifacts[0].summary).toEqual(uploaded.summary);
  });

  test("a gzip-encoded upload is extracted from its decoded bytes, exactly like a plain one", async () => {
    const { store } = await open();
    const report = await junit();
    const plain = await store.upload({ specName: "s", taskId: "plain", type: "test", content: report });
    const gzipped = await store.upload({
      specName: "s",
      taskId: "gz",
      type: "test",
      content: gzipSync(new TextEncoder().encode(report)),
      contentEncoding: "gzip",
    });
    expect(gzipped.summary).toEqual(plain.summary);
    expect(gzipped.summary).toMatchObject({ format: "junit", total: 4, failed: 1 });
    expect((await store.testCases({ specName: "s", taskId: "gz", type: "test" })).items).toEqual(
      (await store.testCases({ specName: "s", taskId: "plain", type: "test" })).items,
    );
  });

  test("a malformed report is stored unchanged and flagged; parse_error finds it", async () => {
    const { store } = await open();
    const broken = '{"testResults": [{"assertionResults": [{"title": "a", "status": "passed"}';
    const result = await store.upload({ specName: "s", taskId: "t", type: "test", content: broken });
    expect(result.summary?.parseError).toContain("ended early");
    expect(await store.downloadText(result.uri)).toBe(broken);
    expect((await store.search({ parseError: true })).map((item) => item.uri)).toEqual([result.uri]);
    // Types without structure have no summary.
    const custom = createArtifactStore({
      backend: current?.backend as never,
      metadata: current?.metadata as never,
      config: {
        types: [{ name: "coverage", fileName: "coverage.json", mimeType: "application/json", retentionDays: null }],
      },
    });
    expect((await custom.upload({ specName: "s", taskId: "t", type: "coverage", content: "{}" })).summary).toBeNull();
  });

  test("test cases and diff files are listed, filtered, and go away with their version", async () => {
    const { store } = await open();
    await store.upload({ specName: "s", taskId: "t", type: "test", content: await junit() });
    const failed = await store.testCases({ specName: "s", taskId: "t", type: "test" }, { status: "failed" });
    expect(failed).toMatchObject({ total: 1, items: [{ name: "fails <here>", suite: "sample.test.ts › math" }] });
    expect((await store.testCases({ specName: "s", taskId: "t", type: "test" }, { contains: "TOP" })).total).toBe(1);
    await store.upload({ specName: "s", taskId: "t", type: "diff", content: diff("src/new.ts", "src/old.ts") });
    expect(await store.diffFiles({ specName: "s", taskId: "t", type: "diff" })).toMatchObject([
      { path: "src/new.ts", oldPath: "src/old.ts", status: "renamed", added: 2, removed: 1, binary: false },
    ]);
    await store.delete({ specName: "s", taskId: "t", type: "test" });
    expect(await store.search({ failedTest: "fails <here>" })).toEqual([]);
    const rows = await current?.metadata.listTestCases(1, { limit: 10, offset: 0 });
    expect(rows?.total).toBe(0);
  });

  test("a report failing one test name in two suites is one match, and pages of one find each report once", async () => {
    const { store } = await open();
    const report = (suite: string) => `<?xml version="1.0"?>
<testsuites>
  <testsuite name="${suite}-a" tests="1" failures="1"><testcase name="logs in" time="0.1"><failure message="no"/></testcase></testsuite>
  <testsuite name="${suite}-b" tests="1" failures="1"><testcase name="logs in" time="0.1"><failure message="no"/></testcase></testsuite>
</testsuites>`;
    for (const task of ["t1", "t2", "t3"]) {
      await store.upload({ specName: "s", taskId: task, type: "test", content: report(task) });
    }
    const tasks: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.searchPage({ failedTest: "logs in", limit: 1, ...(cursor ? { cursor } : {}) });
      tasks.push(...page.items.map((item) => item.taskId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(tasks).toEqual(["t3", "t2", "t1"]);
    expect((await store.searchPage({ failedTest: "logs in", limit: 3 })).items.map((item) => item.taskId)).toEqual([
      "t3",
      "t2",
      "t1",
    ]);
  });

  test("search by failed test, touched path and errors; versions replaced without versioning leave no stale matches", async () => {
    current = await makeFsStore({ versioningEnabled: false });
    const { store } = current;
    await store.upload({ specName: "s", taskId: "a", type: "diff", content: diff("src/api/server.ts") });
    await store.upload({ specName: "s", taskId: "b", type: "diff", content: diff("docs/readme.md") });
    await store.upload({ specName: "s", taskId: "c", type: "log", content: "all good\n" });
    await store.upload({ specName: "s", taskId: "d", type: "log", content: "ERROR boom\n" });
    const tasks = async (filters: Parameters<typeof store.search>[0]) =>
      (await store.search(filters)).map((item) => item.taskId);
    expect(await tasks({ touchedPath: "src/" })).toEqual(["a"]);
    expect(await tasks({ touchedPath: "src/api/server.ts" })).toEqual(["a"]);
    expect(await tasks({ touchedPath: "src/web" })).toEqual([]);
    expect(await tasks({ hasErrors: true })).toEqual(["d"]);
    expect(await tasks({ hasErrors: false, type: "log" })).toEqual(["c"]);
    // A new version of task a no longer touches src/: the superseded one must not match.
    await store.upload({ specName: "s", taskId: "a", type: "diff", content: diff("docs/guide.md") });
    expect(await tasks({ touchedPath: "src/" })).toEqual([]);
  });

  test("reindex after losing the database rebuilds the structure from the stored content", async () => {
    const fixture = await open();
    await fixture.store.upload({ specName: "s", taskId: "t", type: "test", content: await junit() });
    await fixture.store.upload({ specName: "s", taskId: "t", type: "diff", content: diff("src/x.ts") });
    const before = await fixture.store.search({});
    await fixture.store.close();
    const databasePath = join(fixture.root, ".store", "metadata.db");
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${databasePath}${suffix}`, { force: true });
    const metadata = await openLocalMetadata({ url: databasePath });
    const store = createArtifactStore({ backend: fixture.backend, metadata, config: { versioningEnabled: true } });
    await store.reindex();
    const after = await store.search({});
    const summaries = (items: typeof before) =>
      [...items].sort((a, b) => a.uri.localeCompare(b.uri)).map((item) => item.summary);
    expect(summaries(after)).toEqual(summaries(before));
    expect((await store.search({ failedTest: "fails <here>" })).length).toBe(1);
    expect((await store.search({ touchedPath: "src/x.ts" })).length).toBe(1);
    await store.close();
    current = { ...fixture, cleanup: () => rm(fixture.root, { recursive: true, force: true }) };
  });
});

describe("structure over HTTP", () => {
  test("GET /v1/artifacts takes failed_test, touched, has_errors, has_failures; metadata JSON has summary", async () => {
    const fixture = await open();
    const app = createApp({ store: fixture.store });
    const put = await app.request("/v1/artifacts/s/t/test", { method: "PUT", body: await junit() });
    expect((await put.json()).summary).toMatchObject({ kind: "test", failed: 1 });
    await app.request("/v1/artifacts/s/u/diff", { method: "PUT", body: diff("lib/a b.ts") });
    const search = async (query: string) => (await (await app.request(`/v1/artifacts?${query}`)).json()).items;
    expect(
      (await search(`failed_test=${encodeURIComponent("fails <here>")}`)).map(
        (item: { taskId: string }) => item.taskId,
      ),
    ).toEqual(["t"]);
    expect((await search("has_failures=1"))[0].summary).toMatchObject({ failed: 1 });
    expect(await search("has_failures=0&type=test")).toEqual([]);
    expect((await search(`touched=${encodeURIComponent("lib/a b")}`)).length).toBe(1);
    expect(await search("has_errors=1")).toEqual([]);
    const unknown = await app.request("/v1/artifacts?failed=1");
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.message).toContain("failed_test");
  });
});

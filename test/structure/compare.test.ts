/** Attempts compared: two test reports or two diffs, through the library and `GET /v1/compare`. */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compareDiffs, compareTestReports } from "../../src/core/compare.ts";
import { createApp } from "../../src/http/app.ts";
import { makeFsStore, type TestStore } from "../helpers/store.ts";

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

/** A JUnit report where each entry is `name:status` (status p, f or s). */
function junit(...cases: string[]): string {
  const rows = cases.map((entry) => {
    const [name, status] = entry.split(":");
    const body =
      status === "f"
        ? `<failure message="boom ${name}">AssertionError: ${name} broke\n    at spec.ts:1:1</failure>`
        : status === "s"
          ? "<skipped/>"
          : "";
    return `<testcase classname="chat.spec.ts" name="${name}" time="0.01">${body}</testcase>`;
  });
  return `<testsuites><testsuite name="chat">${rows.join("")}</testsuite></testsuites>`;
}

const corpus = (file: string) => readFileSync(join(import.meta.dir, "..", "corpus", "real", file), "utf8");

describe("attempts compared", () => {
  test("two attempts of a test report: newly failing, fixed, still failing, added, removed", async () => {
    current = await makeFsStore({ versioningEnabled: true });
    const { store } = current;
    const ref = { specName: "chat", taskId: "t1", type: "test" };
    await store.upload({ ...ref, content: junit("joins:p", "leaves:f", "kicks:f", "bans:p", "mutes:s", "old:p") });
    await store.upload({ ...ref, content: junit("joins:f", "leaves:p", "kicks:f", "bans:p", "mutes:p", "new:f") });
    const result = await compareTestReports(store, { ...ref, version: 1 }, { ...ref, version: 2 });
    expect(result.counts).toEqual({ newlyFailing: 1, fixed: 1, stillFailing: 1, added: 1, removed: 1, unchanged: 2 });
    expect(result.newlyFailing).toEqual([
      {
        suite: "chat › chat.spec.ts",
        name: "joins",
        before: "passed",
        after: "failed",
        message: expect.stringContaining("joins broke"),
      },
    ]);
    expect(result.fixed.map((test) => [test.name, test.message?.split("\n")[0]])).toEqual([["leaves", "boom leaves"]]);
    expect(result.stillFailing.map((test) => test.name)).toEqual(["kicks"]);
    expect(result.added.map((test) => [test.name, test.after])).toEqual([["new", "failed"]]);
    expect(result.removed.map((test) => [test.name, test.before])).toEqual([["old", "passed"]]);
    expect(result.before).toEqual({ ...ref, version: 1 });
    expect(result.after).toEqual({ ...ref, version: 2 });
  });

  test("two diffs: files whose change differs, files only one changes; the same change elsewhere is the same", async () => {
    current = await makeFsStore({ versioningEnabled: true });
    const { store } = current;
    // git show and format-patch of one commit: the same changes, written differently.
    await store.upload({ specName: "chat", taskId: "a", type: "diff", content: corpus("diff/git-show-side.diff") });
    await store.upload({
      specName: "chat",
      taskId: "b",
      type: "diff",
      content: corpus("diff/git-format-patch-side.patch"),
    });
    await store.upload({ specName: "chat", taskId: "c", type: "diff", content: corpus("diff/git-log-p-main.diff") });
    const same = await compareDiffs(
      store,
      { specName: "chat", taskId: "a", type: "diff" },
      { specName: "chat", taskId: "b", type: "diff" },
    );
    expect(same.counts).toEqual({ differ: 0, onlyBefore: 0, onlyAfter: 0, same: 3 });
    const other = await compareDiffs(
      store,
      { specName: "chat", taskId: "a", type: "diff" },
      { specName: "chat", taskId: "c", type: "diff" },
    );
    // git log -p changes dir/sub and file0 in two more commits, and file1, file2 besides; file3 alike.
    expect(other.counts).toEqual({ differ: 2, onlyBefore: 0, onlyAfter: 2, same: 1 });
    expect(other.files.map((file) => [file.path, file.before?.added ?? null, file.after?.added ?? null])).toEqual([
      ["dir/sub", 2, 6],
      ["file0", 3, 6],
      ["file1", null, 3],
      ["file2", null, 0],
    ]);
  });

  test("GET /v1/compare: task@version, latest by default; refuses logs and unknown attempts clearly", async () => {
    current = await makeFsStore({ versioningEnabled: true });
    const app = createApp({ store: current.store });
    await app.request("/v1/artifacts/chat/t1/test", { method: "PUT", body: junit("joins:p", "leaves:f") });
    await app.request("/v1/artifacts/chat/t2/test", { method: "PUT", body: junit("joins:f", "leaves:p") });
    const response = await app.request("/v1/compare?spec=chat&type=test&before=t1&after=t2@1");
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ kind: "test", counts: { newlyFailing: 1, fixed: 1 } });
    expect(body.newlyFailing[0].name).toBe("joins");
    await app.request("/v1/artifacts/chat/t1/log", { method: "PUT", body: "ERROR x\n" });
    const log = await app.request("/v1/compare?spec=chat&type=log&before=t1&after=t1");
    expect(log.status).toBe(400);
    expect((await log.json()).error.message).toContain("only test reports and diffs can be compared");
    const missing = await app.request("/v1/compare?spec=chat&type=test&before=t1&after=t9");
    expect(missing.status).toBe(404);
    const bad = await app.request("/v1/compare?spec=chat&type=test&before=t1@x&after=t2");
    expect(bad.status).toBe(400);
    const spec = (await (await app.request("/openapi.json")).json()).paths["/v1/compare"];
    expect(spec.get.parameters.map((parameter: { name: string }) => parameter.name)).toEqual([
      "spec",
      "type",
      "before",
      "after",
    ]);
  });
});

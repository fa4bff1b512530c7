/**
 * The reviewer's pages on the edge entry: the worker bundle on workerd (Miniflare), blobs on the
 * S3 server and metadata on sqld, as deployed near reviewers. Every viewer page and the
 * comparison (page and API) answer there with what they show on the Bun server.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startEdge } from "../helpers/edge.ts";
import { bigPatch, ciLog, junit } from "../helpers/reviewer-fixtures.ts";
import { sha256Hex } from "../helpers/store.ts";

const TOKEN = "edge-viewer-token-0123456789";
const edge = await startEdge("worker-viewer", [{ name: "ci", sha256: await sha256Hex(TOKEN), scopes: ["admin"] }]);
const worker = await edge.start({ ARTIFACT_STORE_VERSIONING_ENABLED: "true" });

afterAll(() => edge.dispose());

const auth = { Authorization: `Bearer ${TOKEN}` };
const url = (path: string) => new URL(path, worker.url);
async function put(path: string, body: string): Promise<void> {
  const response = await fetch(url(path), { method: "PUT", body, headers: auth });
  if (response.status !== 201) throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`);
}
async function page(path: string): Promise<string> {
  const response = await fetch(url(path), { headers: auth });
  expect({ path, status: response.status }).toEqual({ path, status: 200 });
  return response.text();
}

describe("the reviewer's pages on workerd", () => {
  test("every page (home, search, task list, task page, log, raw, live, tests, a 64-file diff, login) and both comparisons answer on the edge", async () => {
    await put("/v1/artifacts/rooms/task-41/test", junit(["joins:p", "leaves:f", "kicks:p"]));
    await put("/v1/artifacts/rooms/task-42/test", junit(["joins:f", "leaves:p", "kicks:k", "invites:f"]));
    await put(
      "/v1/artifacts/rooms/task-41/diff",
      await readFile(join(import.meta.dir, "..", "corpus", "real", "diff", "git-show-side.diff"), "utf8"),
    );
    await put("/v1/artifacts/rooms/task-42/diff", bigPatch());
    await put("/v1/artifacts/rooms/task-42/log", await ciLog(2000));

    expect(await page("/ui")).toContain("rooms");
    expect(await page("/ui/s/rooms")).toContain("✗ failing");
    const task = await page("/ui/s/rooms/task-42");
    expect(task).toContain("✗ Failing");
    expect(task).toContain("First failures");
    expect(task).toContain("First error, line");
    expect(task).toContain("Rooms: members join once, logo refreshed");

    const log = await page("/ui/s/rooms/task-42/log");
    expect(log).toContain('class="a-f1"');
    expect(log).toContain('<details class="group"');
    expect(log).toContain('id="next-error"');
    const tests = await page("/ui/s/rooms/task-42/test");
    expect(tests.indexOf("joins")).toBeLessThan(tests.indexOf("leaves"));
    expect(tests).toContain('class="badge flaky"');
    const diff = await page("/ui/s/rooms/task-42/diff");
    expect(diff.match(/<details class="diff-file"/g)?.length).toBe(20);
    expect(diff).toContain('<mark class="wd">');
    expect(await page("/ui/s/rooms/task-42/diff?page=4")).toMatch(/binary file, 335\.0 KiB/);

    expect(await page("/ui/search?failed_test=joins")).toContain('id="result-tasks"');
    expect(await page("/ui/s/rooms/task-42/log/raw")).toContain("##[error]Process completed with exit code 2.");
    expect(await page("/ui/login")).toContain("Token");
    const append = await fetch(url("/v1/artifacts/rooms/task-44/log:append?seq=1"), {
      method: "POST",
      body: "step 1\nERROR step 1 failed\n",
      headers: auth,
    });
    expect(append.status).toBe(201);
    expect(await page("/ui/s/rooms/task-44/log/live")).toContain("step 1 failed");
    const compare = await page("/ui/compare?spec=rooms&type=test&before=task-41&after=task-42");
    expect(compare).toContain("1 newly failing");
    expect(compare).toContain("1 fixed");
    const api = await (
      await fetch(url("/v1/compare?spec=rooms&type=diff&before=task-41&after=task-42"), { headers: auth })
    ).json();
    expect(api).toMatchObject({ kind: "diff", counts: { differ: 0, onlyBefore: 3, onlyAfter: 64, same: 0 } });
  }, 120_000);
});

/**
 * The viewer in headless Chromium against the real Bun server on loopback: open a diff, search
 * a 50 MiB log, filter failed tests, follow a log while it is appended to. Each view's
 * screenshot goes to .test-output/screenshots/, or to docs/screenshots/ (the README's "For
 * reviewers") with TEST_UPDATE_SCREENSHOTS=1 (`npm run screenshots`), so a test run
 * does not rewrite tracked files.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { launchChromium } from "../helpers/chromium.ts";
import { repoRoot, type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeTempDir } from "../helpers/store.ts";

const SCREENSHOTS =
  process.env.TEST_UPDATE_SCREENSHOTS === "1"
    ? join(repoRoot, "docs", "screenshots")
    : join(repoRoot, ".test-output", "screenshots");
const LOG_BYTES = 50 * 1024 * 1024;
const NEEDLE = "needle-7f3a";

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let server: ServerProcess;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let needleLine = 0;
let firstErrorLine = 0;

/** A CI-like log of at least `bytes`, with rare errors and one line holding the needle. */
function bigLog(bytes: number): Uint8Array<ArrayBuffer> {
  const lines: string[] = [];
  let size = 0;
  for (let index = 1; size < bytes; index++) {
    let line = `2026-11-29T12:${String(Math.floor(index / 60) % 60).padStart(2, "0")}:${String(index % 60).padStart(2, "0")}Z INFO  [worker-${index % 8}] step ${index} finished in ${index % 977} ms`;
    if (index % 50_000 === 0) line = `2026-11-29T12:00:00Z WARN  [worker-${index % 8}] retrying step ${index}`;
    if (index === 412_345) {
      line = `2026-11-29T12:00:00Z ERROR [worker-1] ${NEEDLE}: database connection refused (attempt 3)`;
      needleLine = index;
    }
    if (index === 200_001) {
      line = "2026-11-29T12:00:00Z ERROR [worker-2] TypeError: cannot read properties of undefined";
      firstErrorLine = index;
    }
    lines.push(line);
    size += line.length + 1;
  }
  return new TextEncoder().encode(`${lines.join("\n")}\n`);
}

function junitReport(): string {
  const cases: string[] = [];
  for (let index = 1; index <= 30; index++) {
    const name = `renders widget ${index}`;
    if (index % 7 === 0) {
      cases.push(
        `<testcase name="${name}" classname="ui" time="0.${index}"><failure message="expected visible">AssertionError: expected widget ${index} to be visible\n    at widgets.test.ts:${index}:9</failure></testcase>`,
      );
    } else if (index % 11 === 0) cases.push(`<testcase name="${name}" classname="ui" time="0"><skipped/></testcase>`);
    else cases.push(`<testcase name="${name}" classname="ui" time="0.0${index}"/>`);
  }
  return `<?xml version="1.0"?><testsuites><testsuite name="widgets.test.ts">${cases.join("")}</testsuite></testsuites>`;
}

const DIFF = `diff --git a/src/chat/room.ts b/src/chat/room.ts
index 3b18e51..a2c4f0e 100644
--- a/src/chat/room.ts
+++ b/src/chat/room.ts
@@ -12,7 +12,9 @@ export class Room {
   constructor(private readonly id: string) {}
 
   join(user: User): void {
-    this.members.push(user);
+    if (this.members.some((member) => member.id === user.id)) return;
+    this.members.push(user);
+    this.emit("joined", user);
   }
 
   leave(user: User): void {
diff --git a/src/chat/room.test.ts b/src/chat/room.test.ts
new file mode 100644
--- /dev/null
+++ b/src/chat/room.test.ts
@@ -0,0 +1,6 @@
+import { expect, test } from "bun:test";
+test("joining twice keeps one member", () => {
+  const room = new Room("r1");
+  room.join(alice); room.join(alice);
+  expect(room.members).toHaveLength(1);
+});
diff --git a/docs/old-chat.md b/docs/chat.md
similarity index 100%
rename from docs/old-chat.md
rename to docs/chat.md
`;

async function put(
  path: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
): Promise<Response> {
  const response = await fetch(`${server.url}${path}`, { method: "PUT", body, headers });
  if (!response.ok) throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`);
  return response;
}

async function post(path: string, body?: string): Promise<Response> {
  const response = await fetch(`${server.url}${path}`, { method: "POST", ...(body === undefined ? {} : { body }) });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return response;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  dir = await makeTempDir("viewer-browser");
  server = await startServerProcess({ runtime: "bun", basePath: dir.path });
  browser = await launchChromium();
  page = await browser.context.newPage();
  await put("/v1/artifacts/chat-app/task-42/diff", DIFF, { "X-Artifact-Tags": "ci,pr-42" });
  await put("/v1/artifacts/chat-app/task-42/test", junitReport(), { "X-Artifact-Tags": "ci" });
  await put("/v1/artifacts/chat-app/task-42/log", bigLog(LOG_BYTES), { "X-Artifact-Tags": "ci,nightly" });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await dir?.cleanup();
});

describe("the viewer in Chromium", () => {
  test("browse to a diff: file list with counts, per-file sections, coloured +/- lines with line numbers", async () => {
    await page.goto(`${server.url}/ui`);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.getByRole("link", { name: "chat-app" }).click();
    await page.getByRole("link", { name: "task-42" }).click();
    await expect(page.getByRole("table", { name: /Artifacts/ }).textContent()).resolves.toContain("pr-42");
    await page.getByRole("link", { name: "diff", exact: true }).click();
    const fileList = page.locator("#file-list tbody tr");
    expect(await fileList.count()).toBe(3);
    expect(await fileList.nth(0).textContent()).toContain("src/chat/room.ts");
    expect(await fileList.nth(0).textContent()).toContain("+3");
    expect(await fileList.nth(2).textContent()).toContain("from docs/old-chat.md");
    await page.getByRole("link", { name: "src/chat/room.test.ts" }).click();
    expect(page.url()).toEndWith("#file-2");
    const added = page.locator("details:has(#file-1) table tr.add").first();
    expect(await added.evaluate((row) => getComputedStyle(row.querySelector("td") as Element).backgroundColor)).toBe(
      "rgb(218, 251, 225)",
    );
    expect(await added.locator("td.ln").nth(1).textContent()).toBe("15");
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("diff");
  });

  test("search a 50 MiB log: matches highlighted, a line in context, the first error one click away", async () => {
    await page.goto(`${server.url}/ui/s/chat-app/task-42/log`);
    // A large log opens at its tail, read with a Range request: the last line is there, the first is not.
    await expect(page.locator(".notice").first().textContent()).resolves.toContain("The last 256 KiB");
    expect(await page.locator("#L1").count()).toBe(0);
    await page.getByRole("searchbox", { name: "Search this log" }).fill(NEEDLE);
    await page.keyboard.press("Enter");
    await page.waitForSelector("mark");
    expect(await page.locator("mark").allTextContents()).toEqual([NEEDLE]);
    await shot("log-search");
    await page.getByRole("link", { name: String(needleLine), exact: true }).click();
    await page.waitForSelector(`#L${needleLine}`);
    expect(await page.locator(`#L${needleLine}`).textContent()).toContain("database connection refused");
    await page.getByRole("link", { name: /Jump to first error/ }).click();
    await page.waitForSelector(`#L${firstErrorLine}:target`);
    expect(await page.locator(`#L${firstErrorLine}`).getAttribute("class")).toContain("err");
    await shot("log-first-error");
  });

  test("filter test results to the failures, without and with a name filter", async () => {
    await page.goto(`${server.url}/ui/s/chat-app/task-42/test`);
    await expect(page.locator("#test-count").textContent()).resolves.toContain("30 tests match");
    await page.getByLabel("Status").selectOption("failed");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/status=failed/);
    const rows = page.locator("#test-table tbody tr");
    expect(await rows.count()).toBe(4);
    for (const text of await rows.allTextContents()) expect(text).toContain("failed");
    await page.locator("#test-table details summary").first().click();
    expect(await page.locator("#test-table details pre").first().textContent()).toContain("widgets.test.ts:7:9");
    await shot("tests-failed");
    await page.getByLabel("Name or suite contains").fill("widget 14");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/q=widget/);
    expect(await rows.count()).toBe(1);
  });

  test("follow a log while an agent appends to it, until it is sealed", async () => {
    await post("/v1/artifacts/chat-app/task-43/log:append?seq=1", "agent started\nWARN cache cold\n");
    await page.goto(`${server.url}/ui/s/chat-app/task-43/log/live`);
    await expect(page.locator("#live-lines").textContent()).resolves.toContain("cache cold");
    await post("/v1/artifacts/chat-app/task-43/log:append?seq=2", "running step 1\nERROR step 1 failed, retrying\n");
    await page.waitForSelector("#L4", { timeout: 15_000 });
    expect(await page.locator("#L4").getAttribute("class")).toContain("err");
    await post("/v1/artifacts/chat-app/task-43/log:append?seq=3", "step 1 passed on retry\n");
    await page.waitForSelector("#L5", { timeout: 15_000 });
    await shot("log-live");
    await post("/v1/artifacts/chat-app/task-43/log:seal");
    await page.waitForSelector("#live-sealed", { timeout: 15_000 });
    await page.locator("#live-sealed").click();
    await page.waitForURL(/task-43\/log\?version=1/);
    expect(await page.locator("#L5").textContent()).toContain("step 1 passed on retry");
  });
});

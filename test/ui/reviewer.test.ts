/**
 * The reviewer's round two in headless Chromium against the real Bun server: a task's page with
 * its status at a glance, task lists with status, logs with colours, folded groups and error
 * navigation, tests failures-first with suites and flaky marks, diffs with commits, per-file
 * collapse, pages, word highlights and binary sizes, and attempts compared. Screenshots go to
 * .test-output/screenshots/ (docs/screenshots/ with TEST_UPDATE_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { launchChromium } from "../helpers/chromium.ts";
import { bigPatch, ciLog, junit } from "../helpers/reviewer-fixtures.ts";
import { repoRoot, type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeTempDir } from "../helpers/store.ts";

const SCREENSHOTS =
  process.env.TEST_UPDATE_SCREENSHOTS === "1"
    ? join(repoRoot, "docs", "screenshots")
    : join(repoRoot, ".test-output", "screenshots");
const corpus = (file: string) => readFile(join(repoRoot, "test", "corpus", "real", file), "utf8");

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let server: ServerProcess;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;

async function put(path: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(`${server.url}${path}`, { method: "PUT", body, headers });
  if (!response.ok) throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`);
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  dir = await makeTempDir("viewer-reviewer");
  server = await startServerProcess({
    runtime: "bun",
    basePath: dir.path,
    env: { ARTIFACT_STORE_VERSIONING_ENABLED: "true" },
  });
  browser = await launchChromium();
  page = await browser.context.newPage();
  // task-41: the first attempt; task-42: the second, with its own diff and log.
  await put(
    "/v1/artifacts/rooms/task-41/test",
    junit(["joins:p", "leaves:f", "kicks:p", "bans:p", "mutes:s", "renames:p"]),
  );
  await put("/v1/artifacts/rooms/task-41/diff", await corpus("diff/git-show-side.diff"));
  await put(
    "/v1/artifacts/rooms/task-42/test",
    junit(["joins:f:0.31", "leaves:p:1.9", "kicks:p:0.02", "bans:k:0.7", "mutes:p", "invites:f:0.2"]),
  );
  await put("/v1/artifacts/rooms/task-42/diff", bigPatch());
  await put("/v1/artifacts/rooms/task-42/log", await ciLog());
  // task-43: two attempts of one task.
  await put("/v1/artifacts/rooms/task-43/test", junit(["joins:f", "leaves:p"]));
  await put("/v1/artifacts/rooms/task-43/test", junit(["joins:p", "leaves:p", "bans:f"]));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await dir?.cleanup();
});

describe("the reviewer's pages in Chromium", () => {
  test("task list shows each task's status; the task page shows status, first failures and the first error in context", async () => {
    await page.goto(`${server.url}/ui/s/rooms`);
    const row = page.locator("#task-list tr", { hasText: "task-42" });
    expect(await row.textContent()).toContain("✗ failing");
    expect(await row.textContent()).toContain("tests 4✓ 2✗ 0○");
    // Search results show the status of each task they hold.
    await page.goto(`${server.url}/ui/search?failed_test=joins`);
    const found = page.locator("#result-tasks tbody tr");
    // Newest first: task-43's first attempt failed "joins" too (its latest fails "bans").
    expect(await found.allTextContents()).toEqual([
      expect.stringContaining("rooms / task-43✗ failing"),
      expect.stringContaining("rooms / task-42✗ failing"),
    ]);
    await page.goto(`${server.url}/ui/s/rooms`);
    await page.getByRole("link", { name: "task-42", exact: true }).click();
    await page.waitForURL(/\/ui\/s\/rooms\/task-42$/);
    expect(await page.locator("#task-status").textContent()).toContain("✗ Failing");
    const tests = page.locator("#glance-card-test");
    expect(await tests.textContent()).toContain("2 failed");
    expect(await tests.locator(".first-failures li").allTextContents()).toEqual([
      expect.stringContaining("joins"),
      expect.stringContaining("invites"),
    ]);
    await tests.locator(".first-failures summary").first().click();
    expect(await tests.locator(".first-failures pre").first().textContent()).toContain("at room.spec.ts:12:7");
    const log = page.locator("#glance-card-log");
    const errorLine = log.locator(".l.err").first();
    expect(await errorLine.textContent()).toContain("##[error]");
    // The lines before the first error are shown with it.
    expect(await log.locator(".l").count()).toBeGreaterThan(3);
    expect(await page.locator("#glance-card-diff").textContent()).toContain("Rooms: members join once, logo refreshed");
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("task-page");
    await log.getByRole("link", { name: "Open the log at this error" }).click();
    await page.waitForURL(/line=/);
    expect(await page.locator(".l:target").getAttribute("class")).toContain("err");
  });

  test("attempts compared: two tasks' reports from the task page, two versions from a link", async () => {
    await page.goto(`${server.url}/ui/s/rooms/task-42`);
    expect(await page.locator("#compare-type").inputValue()).toBe("test");
    await page.getByLabel("with task").fill("task-41");
    await page.getByRole("button", { name: "Compare" }).click();
    await page.waitForURL(/\/ui\/compare\?/);
    const counts = await page.locator("#compare-counts").textContent();
    expect(counts).toContain("1 newly failing");
    expect(counts).toContain("1 fixed");
    expect(counts).toContain("1 added");
    expect(counts).toContain("1 removed");
    expect(await page.locator("section:has(#newlyFailing) tbody tr").allTextContents()).toEqual([
      expect.stringContaining("joins"),
    ]);
    expect(await page.locator("section:has(#fixed) tbody tr").textContent()).toContain("leaves");
    await shot("compare");
    await page.goto(`${server.url}/ui/s/rooms/task-43`);
    await page.locator("#glance-card-test .compare-link").click();
    await page.waitForURL(/before=task-43%401/);
    expect(await page.locator("#compare-counts").textContent()).toContain("1 fixed");
    await page.goto(`${server.url}/ui/compare?spec=rooms&type=diff&before=task-41&after=task-42`);
    expect(await page.locator("#compare-counts").textContent()).toContain("3 only before");
  });

  test("a log: colours rendered, groups folded (open where an error is), opens at its end, previous/next error", async () => {
    await page.goto(`${server.url}/ui/s/rooms/task-42/log`);
    await expect(page.locator(".notice").first().textContent()).resolves.toContain("The last 256 KiB");
    // The tail view opens scrolled to its last line: it is on screen, the page's first lines are not.
    const lastLine = await page.evaluate(() => {
      const lines = document.querySelectorAll("section.log .l");
      const box = (lines[lines.length - 1] as Element).getBoundingClientRect();
      return { top: box.top, bottom: box.bottom, height: window.innerHeight, scrolled: window.scrollY };
    });
    expect(lastLine.bottom).toBeLessThanOrEqual(lastLine.height + 1);
    expect(lastLine.top).toBeGreaterThanOrEqual(0);
    expect(lastLine.scrolled).toBeGreaterThan(1000);
    const red = page.locator("span.a-f1", { hasText: "failing assertion" });
    expect(await red.evaluate((span) => getComputedStyle(span).color)).toBe("rgb(207, 34, 46)");
    expect(await page.locator("section.log").textContent()).not.toContain("[31m");
    const groups = page.locator("details.group");
    // Three steps of the CI log, then the type check: only the group with an error is open.
    expect(await groups.count()).toBe(4);
    expect(await groups.nth(0).getAttribute("open")).toBeNull();
    expect(await groups.nth(3).getAttribute("open")).not.toBeNull();
    expect(await groups.nth(0).locator("summary").textContent()).toContain("Run npm ci");
    await page.getByRole("button", { name: "Next error" }).click();
    const first = page.url().split("#")[1];
    await page.getByRole("button", { name: "Next error" }).click();
    const second = page.url().split("#")[1];
    expect(Number(second?.slice(1))).toBeGreaterThan(Number(first?.slice(1)));
    await page.getByRole("button", { name: "Previous error" }).click();
    expect(page.url().split("#")[1]).toBe(first);
    expect(await page.locator("#error-position").textContent()).toContain("error 1 of");
    await shot("log-colours-groups");
  });

  test("tests: failures first with full messages and output, suites with counts, slowest first, flaky marked", async () => {
    await page.goto(`${server.url}/ui/s/rooms/task-42/test`);
    const rows = page.locator("#test-table tbody tr");
    expect(await rows.nth(0).textContent()).toContain("failed");
    expect(await rows.nth(1).textContent()).toContain("failed");
    await rows.nth(0).locator("summary").click();
    const details = rows.nth(0).locator("details");
    expect(await details.locator("pre.message").textContent()).toContain("at run (runner.ts:40:3)");
    expect(await details.locator(".output").textContent()).toContain("sent hello");
    const suites = page.locator("#suite-table tbody tr");
    expect(await suites.allTextContents()).toEqual([
      expect.stringContaining("chat › members › room.spec.ts3101"),
      expect.stringContaining("chat › rooms › room.spec.ts3100"),
    ]);
    expect(await page.locator("#test-table tr", { hasText: "bans" }).locator(".flaky").textContent()).toBe("flaky");
    await shot("tests-failures-first");
    await page.getByLabel("Order").selectOption("duration");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/sort=duration/);
    expect(await rows.nth(0).textContent()).toContain("leaves");
  });

  test("a 64-file diff: its commit, files a page at a time, each collapsible, changed words marked, binary size named", async () => {
    await page.goto(`${server.url}/ui/s/rooms/task-42/diff`);
    expect(await page.locator("#commits-heading").textContent()).toContain("Commit");
    expect(await page.locator(".commit h3").textContent()).toBe("Rooms: members join once, logo refreshed");
    expect(await page.locator(".commit").textContent()).toContain("Ada Reviewer <ada@example.com>");
    expect(await page.locator("#file-list tbody tr").count()).toBe(64);
    expect(await page.locator("details.diff-file").count()).toBe(20);
    const file = page.locator("details.diff-file").first();
    expect(await file.locator("mark.wd").allTextContents()).toEqual(["10", "15"]);
    await file.locator("summary").click();
    expect(await file.locator("table.diff").isVisible()).toBe(false);
    expect(await page.locator("#file-list tr", { hasText: "assets/logo.png" }).textContent()).toMatch(
      /binary file, 335(\.0)? KiB/,
    );
    expect(await page.locator("#file-list tr", { hasText: "docs/rooms.md" }).textContent()).toContain(
      "from docs/old-rooms.md",
    );
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("diff-64-files");
    await page.getByRole("link", { name: "assets/logo.png" }).click();
    await page.waitForURL(/page=4#file-64/);
    expect(await page.locator("details.diff-file").count()).toBe(4);
    expect(await page.locator("details:has(#file-64)").textContent()).toMatch(/binary file, 335(\.0)? KiB/);
    expect(await page.locator("details:has(#file-63)").textContent()).toContain("mode 100644 → 100755");
  });
});

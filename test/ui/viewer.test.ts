/** The viewer without a browser: pages, filters and auth through `app.request` (the browser suite drives the same pages in Chromium). */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { TokenConfig } from "../../src/config/schema.ts";
import { createApp } from "../../src/http/app.ts";
import { makeFsStore, makeLog, sha256Hex, type TestStore } from "../helpers/store.ts";

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

const junit = () => Bun.file(join(import.meta.dir, "..", "structure", "fixtures", "bun-junit.xml")).text();
const DIFF =
  "diff --git a/src/app.ts b/src/app.ts\n--- a/src/app.ts\n+++ b/src/app.ts\n@@ -10,3 +10,3 @@\n context\n-const a = '<old>';\n+const a = '<new>';\n tail\n";

async function seeded(tokens?: TokenConfig[]) {
  current = await makeFsStore({ versioningEnabled: true });
  const { store } = current;
  await store.upload({ specName: "chat-app", taskId: "1.1", type: "diff", content: DIFF, tags: ["ci"] });
  await store.upload({
    specName: "chat-app",
    taskId: "1.1",
    type: "log",
    content: "start\nWARN slow\nERROR: broke <b>here</b>\nend\n",
  });
  await store.upload({ specName: "chat-app", taskId: "1.1", type: "test", content: await junit() });
  await store.upload({ specName: "billing", taskId: "9", type: "log", content: "fine\n" });
  return createApp({ store, ...(tokens ? { tokens } : {}) });
}

describe("viewer pages (open loopback server)", () => {
  test("specs → tasks → artifacts with sizes, versions, tags, age and expiry; landmarks and a CSP on every page", async () => {
    const app = await seeded();
    const home = await app.request("/ui");
    expect(home.status).toBe(200);
    expect(home.headers.get("content-security-policy")).toContain("script-src 'nonce-");
    const html = await home.text();
    expect(html).toStartWith("<!doctype html>");
    for (const landmark of ["<header", "<main", "<footer", 'href="#main"']) expect(html).toContain(landmark);
    expect(html).toContain('href="/ui/s/chat-app"');
    const task = await (await app.request("/ui/s/chat-app/1.1")).text();
    expect(task).toContain('<nav aria-label="Breadcrumb"');
    expect(task).toContain("v1");
    expect(task).toMatch(/<span>ci<\/span>/);
    expect(task).toContain("ago</time>");
    expect(task).toMatch(/in \d+ d<\/time>/); // expiry
    expect(task).toContain("1 errors");
  });

  test("a diff: file list with counts, per-file section, +/- rows with old and new line numbers, escaped content", async () => {
    const app = await seeded();
    const html = await (await app.request("/ui/s/chat-app/1.1/diff")).text();
    expect(html).toContain('<a href="#file-1">src/app.ts</a>');
    expect(html).toMatch(/<tr class="del"><td class="ln">11<\/td><td class="ln"><\/td>/);
    expect(html).toMatch(/<tr class="add"><td class="ln"><\/td><td class="ln">11<\/td>/);
    // Only the changed word is marked: the rest of the line is shared with the removed one.
    expect(html).toContain('const a = &#39;&lt;<mark class="wd">new</mark>&gt;&#39;;');
    expect(html).toContain('const a = &#39;&lt;<mark class="wd">old</mark>&gt;&#39;;');
    expect(html).not.toContain("<new>");
  });

  test("a log: numbered lines, search with highlighting, a jump to the first error, a window around a line", async () => {
    const app = await seeded();
    const page = await (await app.request("/ui/s/chat-app/1.1/log")).text();
    expect(page).toContain('id="L3"');
    expect(page).toContain('href="/ui/s/chat-app/1.1/log?version=1&amp;line=3#L3"');
    expect(page).toContain("ERROR: broke &lt;b&gt;here&lt;/b&gt;");
    const search = await (await app.request("/ui/s/chat-app/1.1/log?q=SLOW")).text();
    expect(search).toContain("<mark>slow</mark>");
    expect(search).toContain("1 line contain");
    expect(search).not.toContain('id="L1"');
    const around = await (await app.request("/ui/s/chat-app/1.1/log?line=3")).text();
    expect(around).toContain("Lines around line 3");
  });

  test("a large log opens at its tail (a Range read) with line numbers from the extracted count", async () => {
    current = await makeFsStore();
    const app = createApp({ store: current.store });
    const log = makeLog(40_000);
    await current.store.upload({ specName: "s", taskId: "t", type: "log", content: log });
    const html = await (await app.request("/ui/s/s/t/log")).text();
    expect(html).toContain("The last 256 KiB");
    expect(html).toContain('id="L40000"');
    expect(html).not.toContain('id="L1"');
    const head = await (await app.request("/ui/s/s/t/log?view=head")).text();
    expect(head).toContain('id="L1"');
  });

  test("test results: totals, a table, and filters by status and name that work without JavaScript", async () => {
    const app = await seeded();
    const all = await (await app.request("/ui/s/chat-app/1.1/test")).text();
    expect(all).toContain("4 tests match");
    const failed = await (await app.request("/ui/s/chat-app/1.1/test?status=failed")).text();
    expect(failed).toContain("1 test matches");
    expect(failed).toContain("fails &lt;here&gt;");
    expect(failed).not.toContain("top level");
    expect(failed).toContain("Expected: 3");
    const named = await (await app.request("/ui/s/chat-app/1.1/test?q=top")).text();
    expect(named).toContain("<mark>top</mark> level");
  });

  test("content search pages and raw downloads that never run uploaded HTML", async () => {
    const app = await seeded();
    const found = await (await app.request("/ui/search?failed_test=fails+%3Chere%3E")).text();
    expect(found).toContain("1 versions");
    expect(await (await app.request("/ui/search?touched=src%2F")).text()).toContain("chat-app / 1.1");
    const raw = await app.request("/ui/s/chat-app/1.1/log/raw");
    expect(raw.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(raw.headers.get("content-security-policy")).toContain("sandbox");
    expect((await app.request("/ui/s/chat-app/9.9/log")).status).toBe(404);
  });

  test("a live log: a snapshot of complete lines, polls for more, then points at the sealed version", async () => {
    current = await makeFsStore();
    const app = createApp({ store: current.store });
    await current.store.appendLog({ specName: "s", taskId: "t", seq: 1, content: "line 1\nline 2\npart" });
    const page = await (await app.request("/ui/s/s/t/log/live")).text();
    expect(page).toContain('data-end="14"');
    expect(page).toContain("line 2");
    expect(page).not.toContain(">part<");
    expect(await (await app.request("/ui/s/s/t/log")).status).toBe(303);
    await current.store.appendLog({ specName: "s", taskId: "t", seq: 2, content: "ial\n" });
    const poll = await (await app.request("/ui/s/s/t/log/live.json?offset=14")).json();
    expect(poll).toMatchObject({ sealed: false, text: "partial\n", nextOffset: 22, size: 22 });
    await current.store.sealLog({ specName: "s", taskId: "t" });
    expect(await (await app.request("/ui/s/s/t/log/live.json?offset=22")).json()).toMatchObject({
      sealed: true,
      version: 1,
    });
  });
});

describe("viewer auth", () => {
  const reader = "reader-secret-token-123";
  const limited = "billing-only-token-456";
  const writerOnly = "write-only-token-789";
  const tokens = async (): Promise<TokenConfig[]> => [
    { name: "reader", sha256: await sha256Hex(reader), scopes: ["read"] },
    { name: "billing", sha256: await sha256Hex(limited), scopes: ["read"], specs: ["billing"] },
    { name: "writer", sha256: await sha256Hex(writerOnly), scopes: ["write"] },
  ];

  test("without a token the viewer sends you to the login form; a wrong token is refused without being echoed", async () => {
    const app = await seeded(await tokens());
    const page = await app.request("/ui/s/chat-app/1.1/log?q=x");
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/ui/login?next=%2Fui%2Fs%2Fchat-app%2F1.1%2Flog%3Fq%3Dx");
    const form = await (await app.request("/ui/login")).text();
    expect(form).toContain('<label for="token">Token</label>');
    expect(form).toContain('type="password"');
    const wrong = await app.request("/ui/login", {
      method: "POST",
      body: new URLSearchParams({ token: "guess-me-not" }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain("guess-me-not");
    const writer = await app.request("/ui/login", { method: "POST", body: new URLSearchParams({ token: writerOnly }) });
    expect(writer.status).toBe(403);
    expect(await writer.text()).not.toContain(writerOnly);
  });

  test("login sets an HttpOnly, SameSite=Strict cookie for /ui only; it opens the viewer but not the API", async () => {
    const app = await seeded(await tokens());
    const login = await app.request("/ui/login", {
      method: "POST",
      body: new URLSearchParams({ token: reader, next: "/ui/s/chat-app" }),
    });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/ui/s/chat-app");
    const cookie = login.headers.get("set-cookie") ?? "";
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/ui");
    const jar = cookie.split(";")[0] as string;
    const page = await app.request("/ui/s/chat-app", { headers: { Cookie: jar } });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(reader);
    expect((await app.request("/v1/artifacts", { headers: { Cookie: jar } })).status).toBe(401);
    // An open redirect is not possible through next=.
    const away = await app.request("/ui/login", {
      method: "POST",
      body: new URLSearchParams({ token: reader, next: "//evil.example/" }),
    });
    expect(away.headers.get("location")).toBe("/ui");
    // The Authorization header works as well.
    expect((await app.request("/ui", { headers: { Authorization: `Bearer ${reader}` } })).status).toBe(200);
  });

  test("a spec-limited token sees only its spec", async () => {
    const app = await seeded(await tokens());
    const headers = { Authorization: `Bearer ${limited}` };
    const home = await (await app.request("/ui", { headers })).text();
    expect(home).toContain('href="/ui/s/billing"');
    expect(home).not.toContain('href="/ui/s/chat-app"');
    expect((await app.request("/ui/s/chat-app/1.1/log", { headers })).status).toBe(403);
    expect((await app.request("/ui/s/billing/9/log", { headers })).status).toBe(200);
  });
});

/**
 * Cross-site request forgery. A page of another origin (another port on this machine included)
 * can POST to any URL without a preflight; on a tokenless server that would be a write, and on
 * the viewer a login as the attacker. Every state-changing route refuses what a browser marks
 * as coming from elsewhere; tools that send no Origin are unaffected.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeFsStore, makeTempDir, sha256Hex, type TestStore } from "../helpers/store.ts";

const SELF = "http://127.0.0.1:8787";

/** Every state-changing route, with a body where it takes one. */
const WRITES: [method: string, path: string, body?: string][] = [
  ["PUT", "/v1/artifacts/alpha/t1/log", "replaced\n"],
  ["PATCH", "/v1/artifacts/alpha/t1/log?version=1", '{"pinned": true}'],
  ["DELETE", "/v1/artifacts/alpha/t1/log"],
  ["POST", "/v1/artifacts/alpha/t2/log:append", "injected\n"],
  ["POST", "/v1/artifacts/alpha/t3/log:seal"],
  ["DELETE", "/v1/artifacts/alpha/t3/log:live"],
  ["POST", "/v1/maintenance/cleanup"],
  ["POST", "/v1/maintenance/gc"],
  ["POST", "/v1/maintenance/verify"],
  ["POST", "/v1/maintenance/reindex"],
  ["POST", "/ui/login", "token=attackers-token&next=%2Fui"],
  ["POST", "/ui/logout"],
];

/** What browsers send from a page that is not this server's. */
const FROM_ELSEWHERE: Record<string, string>[] = [
  { Origin: "http://127.0.0.1:3000", "Sec-Fetch-Site": "same-site" },
  { Origin: "http://127.0.0.1:3000" },
  { Origin: "null" },
  { Origin: "null", "Sec-Fetch-Site": "cross-site" },
  { "Sec-Fetch-Site": "cross-site" },
  { "Sec-Fetch-Site": "same-site" },
  { Origin: "https://attacker.example" },
  { Origin: "http://127.0.0.1:8787.attacker.example" },
];

async function storeWithData(): Promise<TestStore> {
  const fixture = await makeFsStore();
  await fixture.store.upload({ specName: "alpha", taskId: "t1", type: "log", content: "original\n" });
  await fixture.store.appendLog({ specName: "alpha", taskId: "t3", content: "open log\n" });
  return fixture;
}

async function snapshot(fixture: TestStore) {
  const stat = await fixture.store.stat({ specName: "alpha", taskId: "t1", type: "log" });
  return {
    version: stat?.version,
    pinned: stat?.pinned,
    live: (await fixture.store.liveLogs()).map((log) => `${log.taskId}:${log.size}`),
  };
}

describe("a tokenless server", () => {
  let fixture: TestStore;
  beforeAll(async () => {
    fixture = await storeWithData();
  });
  afterAll(async () => fixture?.cleanup());

  test("refuses every state-changing request a page of another origin sends, and changes nothing", async () => {
    const app = createApp({ store: fixture.store });
    const before = await snapshot(fixture);
    for (const [method, path, body] of WRITES) {
      for (const headers of FROM_ELSEWHERE) {
        const response = await app.request(`${SELF}${path}`, {
          method,
          ...(body ? { body } : {}),
          headers: { Host: "127.0.0.1:8787", "Content-Type": "application/x-www-form-urlencoded", ...headers },
        });
        expect({ method, path, headers, status: response.status }).toEqual({ method, path, headers, status: 403 });
      }
    }
    expect(await snapshot(fixture)).toEqual(before);
  });

  test("takes the same writes from its own pages and from tools that send no Origin", async () => {
    const app = createApp({ store: fixture.store });
    const own = await app.request(`${SELF}/v1/artifacts/alpha/t2/log:append`, {
      method: "POST",
      body: "from its own page\n",
      headers: { Host: "127.0.0.1:8787", Origin: SELF, "Sec-Fetch-Site": "same-origin" },
    });
    expect(own.status).toBe(201);
    const tool = await app.request(`${SELF}/v1/maintenance/gc`, {
      method: "POST",
      headers: { Host: "127.0.0.1:8787" },
    });
    expect(tool.status).toBe(200);
    const typed = await app.request(`${SELF}/v1/artifacts/alpha/t2/log:append`, {
      method: "POST",
      body: "typed in the address bar\n",
      headers: { Host: "127.0.0.1:8787", "Sec-Fetch-Site": "none" },
    });
    expect(typed.status).toBe(201);
  });
});

describe("the viewer with tokens", () => {
  const TOKEN = "reader-token";
  let fixture: TestStore;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    fixture = await storeWithData();
    app = createApp({
      store: fixture.store,
      tokens: [{ name: "reader", sha256: await sha256Hex(TOKEN), scopes: ["read"] }],
    });
  });
  afterAll(async () => fixture?.cleanup());

  test("login and logout posted by another site's page are refused and set no cookie", async () => {
    for (const path of ["/ui/login", "/ui/logout"]) {
      for (const headers of FROM_ELSEWHERE) {
        const response = await app.request(`${SELF}${path}`, {
          method: "POST",
          body: `token=${TOKEN}&next=%2Fui`,
          headers: { Host: "127.0.0.1:8787", "Content-Type": "application/x-www-form-urlencoded", ...headers },
        });
        expect({ path, headers, status: response.status }).toEqual({ path, headers, status: 403 });
        expect(response.headers.get("set-cookie")).toBeNull();
      }
    }
  });

  test("the login form posted from the viewer's own page signs in", async () => {
    const response = await app.request(`${SELF}/ui/login`, {
      method: "POST",
      body: `token=${TOKEN}&next=%2Fui`,
      headers: {
        Host: "127.0.0.1:8787",
        "Content-Type": "application/x-www-form-urlencoded",
        Origin: SELF,
        "Sec-Fetch-Site": "same-origin",
      },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).toContain("artifact_store_token=");
  });
});

describe("in Chromium: a page on another loopback port", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let server: ServerProcess;
  let attacker: ReturnType<typeof Bun.serve>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    dir = await makeTempDir("cross-origin-browser");
    server = await startServerProcess({ runtime: "bun", basePath: dir.path });
    const target = server.url;
    const page = `<!doctype html><title>cat pictures</title><script>
      (async () => {
        const post = (path, body) => fetch("${target}" + path, { method: "POST", mode: "no-cors", body }).catch(() => {});
        await post("/v1/artifacts/alpha/t2/log:append", "injected\\n");
        await post("/v1/maintenance/gc");
        document.title = "done";
      })();
    </script>`;
    attacker = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(page, { headers: { "Content-Type": "text/html" } }),
    });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    attacker?.stop(true);
    await server?.stop();
    await dir?.cleanup();
  });

  test("its no-cors POSTs reach the server and are refused: no live log appears", async () => {
    const tab = await browser.context.newPage();
    await tab.goto(`http://127.0.0.1:${attacker.port}/`);
    await tab.waitForFunction(() => document.title === "done", undefined, { timeout: 30_000 });
    const live = (await (await fetch(`${server.url}/v1/live`)).json()) as { items: unknown[] };
    expect(live.items).toEqual([]);
    expect(server.output()).toMatch(/path=\/v1\/artifacts\/alpha\/t2\/log:append status=403/);
    expect(server.output()).toMatch(/path=\/v1\/maintenance\/gc status=403/);
  });
});

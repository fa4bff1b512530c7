/**
 * Two live logs in two specs: each one's size, chunk count, ranges, viewer and limits are its
 * own, and a token limited to one spec learns nothing about the other.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { makeFsStore, sha256Hex, type TestStore } from "../helpers/store.ts";

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

const ALPHA_TOKEN = "alpha-only-token";
const ADMIN_TOKEN = "admin-token";

async function twoLiveLogs(settings: Parameters<typeof makeFsStore>[0] = {}) {
  current = await makeFsStore(settings);
  const { store } = current;
  await store.appendLog({ specName: "alpha", taskId: "t1", content: "hello" });
  // beta's log passes the viewer's 256 KiB snapshot window on its own.
  const line = `${"beta work ".repeat(10)}\n`;
  for (let index = 0; index < 3; index++)
    await store.appendLog({ specName: "beta", taskId: "t2", content: line.repeat(1200) });
  const app = createApp({
    store,
    tokens: [
      { name: "alpha", sha256: await sha256Hex(ALPHA_TOKEN), scopes: ["read", "write"], specs: ["alpha"] },
      { name: "admin", sha256: await sha256Hex(ADMIN_TOKEN), scopes: ["admin"] },
    ],
  });
  const call = (path: string, token = ALPHA_TOKEN, init: RequestInit = {}) =>
    app.request(path, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  return { store, call, betaSize: line.length * 3600 };
}

describe("two live logs in two specs", () => {
  test("each log's X-Live-Size and X-Live-Chunks are its own", async () => {
    const { call, betaSize } = await twoLiveLogs();
    const alpha = await call("/v1/artifacts/alpha/t1/log:live");
    expect(alpha.status).toBe(200);
    expect(await alpha.text()).toBe("hello");
    expect(alpha.headers.get("x-live-size")).toBe("5");
    expect(alpha.headers.get("x-live-chunks")).toBe("1");
    const beta = await call("/v1/artifacts/beta/t2/log:live", ADMIN_TOKEN, { method: "HEAD" });
    expect(beta.headers.get("x-live-size")).toBe(String(betaSize));
    expect(beta.headers.get("x-live-chunks")).toBe("3");
  });

  test("a token limited to alpha sees alpha's size in /v1/live and nothing of beta", async () => {
    const { call, store, betaSize } = await twoLiveLogs();
    const listed = (await (await call("/v1/live")).json()) as { items: { specName: string; size: number }[] };
    expect(listed.items.map((item) => [item.specName, item.size])).toEqual([["alpha", 5]]);
    expect((await call("/v1/live?spec=beta")).status).toBe(403);
    expect((await store.liveLogs()).map((log) => [log.specName, log.size, log.chunks])).toEqual([
      ["alpha", 5, 1],
      ["beta", betaSize, 3],
    ]);
  });

  test("Range past a 5-byte log's end is 416, not an empty 206", async () => {
    const { call } = await twoLiveLogs();
    const past = await call("/v1/artifacts/alpha/t1/log:live", ALPHA_TOKEN, { headers: { Range: "bytes=50-" } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe("bytes */5");
    const inside = await call("/v1/artifacts/alpha/t1/log:live", ALPHA_TOKEN, { headers: { Range: "bytes=1-" } });
    expect(inside.status).toBe(206);
    expect(await inside.text()).toBe("ello");
  });

  test("the viewer's live page shows alpha's line while beta is past 256 KiB", async () => {
    const { call, store } = await twoLiveLogs();
    await store.appendLog({ specName: "alpha", taskId: "t1", content: " world\nnext" });
    const page = await call("/ui/s/alpha/t1/log/live");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("hello world");
    const poll = (await (await call("/ui/s/alpha/t1/log/live.json?offset=12")).json()) as { size: number };
    expect(poll.size).toBe(16);
  });

  test("the per-artifact size limit counts this log's bytes only", async () => {
    current = await makeFsStore({ maxArtifactBytes: 128 * 1024 });
    const { store } = current;
    await store.appendLog({ specName: "beta", taskId: "t2", content: "b".repeat(100 * 1024) });
    await store.appendLog({ specName: "alpha", taskId: "t1", content: "hello" });
    const appended = await store.appendLog({ specName: "alpha", taskId: "t1", content: "a".repeat(60 * 1024) });
    expect(appended.totalSize).toBe(5 + 60 * 1024);
    await expect(
      store.appendLog({ specName: "alpha", taskId: "t1", content: "a".repeat(70 * 1024) }),
    ).rejects.toMatchObject({ code: "E_TOO_LARGE" });
  });
});

describe("live logs are stored bytes: quota, idle expiry, gc", () => {
  const MB = 1_000_000;
  const quota = { storageQuota: { maxBytes: 2 * 1024 * 1024, warnThreshold: 0.8 } };

  test("chunks count against storage_quota: a chunk that would not fit is 507, usage shows them", async () => {
    current = await makeFsStore(quota);
    const { store } = current;
    await store.appendLog({ specName: "alpha", taskId: "t1", content: "a".repeat(1.5 * MB) });
    expect((await store.stats()).quota.usedBytes).toBe(1.5 * MB);
    await expect(store.appendLog({ specName: "alpha", taskId: "t1", content: "a".repeat(MB) })).rejects.toMatchObject({
      code: "E_QUOTA_EXCEEDED",
    });
    await expect(store.appendLog({ specName: "beta", taskId: "t2", content: "b".repeat(MB) })).rejects.toMatchObject({
      code: "E_QUOTA_EXCEEDED",
    });
    const app = createApp({ store });
    const refused = await app.request("/v1/artifacts/gamma/t3/log:append", { method: "POST", body: "c".repeat(MB) });
    expect(refused.status).toBe(507);
    expect((await store.stats()).quota.usedBytes).toBe(1.5 * MB);
    expect((await current.backend.list({ prefix: ".store/live/" })).objects).toHaveLength(1);
  });

  test("a log that fits can still be sealed: the version takes the chunks' room, usage drops to its size", async () => {
    current = await makeFsStore(quota);
    const { store } = current;
    await store.appendLog({ specName: "alpha", taskId: "t1", content: "line\n".repeat(0.3 * MB) });
    const sealed = await store.sealLog({ specName: "alpha", taskId: "t1" });
    expect(sealed.originalSize).toBe(1.5 * MB);
    expect((await store.stats()).quota.usedBytes).toBe(sealed.size);
  });

  test("gc discards a live log idle past live_log_idle_expiry, with its chunks and their usage; an active one stays", async () => {
    current = await makeFsStore({ liveLogIdleSeconds: 3600 });
    const { store, backend, clock } = current;
    await store.appendLog({ specName: "alpha", taskId: "abandoned", content: "started\n" });
    clock.now += 2 * 3600_000;
    await store.appendLog({ specName: "alpha", taskId: "active", content: "still going\n" });
    const dry = await store.gc({ dryRun: true });
    expect(dry.expiredLiveLogs).toEqual(["alpha/abandoned/log"]);
    expect((await store.liveLogs()).map((log) => log.taskId)).toEqual(["abandoned", "active"]);
    const report = await store.gc();
    expect(report.expiredLiveLogs).toEqual(["alpha/abandoned/log"]);
    expect((await store.liveLogs()).map((log) => log.taskId)).toEqual(["active"]);
    const keys = (await backend.list({ prefix: ".store/live/" })).objects.map((object) => object.key);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toStartWith(".store/live/alpha/active/log/");
    expect((await store.stats()).quota.usedBytes).toBe("still going\n".length);
  });

  test("gc removes chunk objects no live log owns once they are past the grace period", async () => {
    current = await makeFsStore();
    const { store, backend, clock } = current;
    await store.appendLog({ specName: "alpha", taskId: "t1", content: "kept\n" });
    // One under .store/live/, one under a previous release's .live/.
    const orphans = [
      ".store/live/alpha/t9/log/lost-session/0000000001-0123456789abcdef",
      ".live/alpha/t8/log/old-session/0000000001-0123456789abcdef",
    ];
    for (const orphan of orphans) await backend.put(orphan, new Blob(["lost\n"]).stream());
    expect((await store.gc()).orphanObjects).toEqual([]);
    clock.now += 2 * 3600_000;
    const report = await store.gc({ dryRun: false });
    expect(report.orphanObjects).toEqual(orphans);
    for (const orphan of orphans) expect(await backend.head(orphan)).toBeNull();
    expect((await backend.list({ prefix: ".store/live/alpha/t1/" })).objects).toHaveLength(1);
  });
});

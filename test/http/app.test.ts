import { afterEach, describe, expect, test } from "bun:test";
import { gunzipSync, gzipSync } from "fflate";
import type { TokenConfig } from "../../src/config/schema.ts";
import type { StoreSettings } from "../../src/core/settings.ts";
import { createApp } from "../../src/http/app.ts";
import { makeFsStore, makeLog, sha256Hex, type TestStore } from "../helpers/store.ts";

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

async function makeApp(
  options: {
    config?: Partial<StoreSettings>;
    tokens?: TokenConfig[];
    bodyLimit?: number;
    allowAnonymous?: boolean;
  } = {},
) {
  current = await makeFsStore({ versioningEnabled: true, ...options.config });
  const app = createApp({
    store: current.store,
    ...(options.tokens ? { tokens: options.tokens } : {}),
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
    ...(options.allowAnonymous === undefined ? {} : { allowAnonymous: options.allowAnonymous }),
  });
  return { app, fixture: current };
}

const base64Sha256 = async (bytes: Uint8Array | string) =>
  Buffer.from(await sha256Hex(bytes), "hex").toString("base64");

describe("artifact routes", () => {
  test("PUT stores the body and answers 201 with metadata and a Location; GET gives it back with ETag and Repr-Digest", async () => {
    const { app } = await makeApp();
    const log = makeLog(2000);
    const put = await app.request("/v1/artifacts/chat-app/1.1/log", { method: "PUT", body: log });
    expect(put.status).toBe(201);
    const stored = await put.json();
    expect(stored).toMatchObject({
      specName: "chat-app",
      taskId: "1.1",
      type: "log",
      version: 1,
      originalSize: log.length,
      warnings: [],
    });
    expect(put.headers.get("location")).toBe("/v1/artifacts/chat-app/1.1/log?version=1");

    const get = await app.request("/v1/artifacts/chat-app/1.1/log");
    expect(get.status).toBe(200);
    expect(await get.text()).toBe(log);
    expect(get.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(get.headers.get("content-length")).toBe(String(log.length));
    expect(get.headers.get("etag")).toBe(`"${stored.originalChecksum}"`);
    expect(get.headers.get("repr-digest")).toBe(`sha-256=:${await base64Sha256(log)}:`);
    expect(get.headers.get("vary")).toBe("Accept-Encoding");
    expect(get.headers.get("x-artifact-version")).toBe("1");
  });

  test("with Accept-Encoding: gzip the stored gzip is sent as it is, described by its own ETag and digest", async () => {
    const { app } = await makeApp();
    const log = makeLog(2000);
    const stored = await (await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: log })).json();
    const get = await app.request("/v1/artifacts/s/t/log", { headers: { "Accept-Encoding": "br, gzip;q=0.8" } });
    expect(get.headers.get("content-encoding")).toBe("gzip");
    const gz = new Uint8Array(await get.arrayBuffer());
    expect(gz.length).toBe(stored.size);
    expect(new TextDecoder().decode(gunzipSync(gz))).toBe(log);
    expect(get.headers.get("etag")).toBe(`"${stored.checksum}"`);
    expect(get.headers.get("repr-digest")).toBe(`sha-256=:${await base64Sha256(gz)}:`);
    const refused = await app.request("/v1/artifacts/s/t/log", {
      headers: { "Accept-Encoding": "gzip;q=0, identity" },
    });
    expect(refused.headers.get("content-encoding")).toBeNull();
    expect(await refused.text()).toBe(log);
  });

  test("Range gives 206 with Content-Range on the decoded content; past the end gives 416", async () => {
    const { app } = await makeApp();
    const log = makeLog(500);
    await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: log });
    const part = await app.request("/v1/artifacts/s/t/log", {
      headers: { Range: "bytes=100-199", "Accept-Encoding": "gzip" },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 100-199/${log.length}`);
    expect(part.headers.get("content-encoding")).toBeNull();
    expect(await part.text()).toBe(log.slice(100, 200));
    const tail = await app.request("/v1/artifacts/s/t/log", { headers: { Range: "bytes=-10" } });
    expect(await tail.text()).toBe(log.slice(-10));
    const beyond = await app.request("/v1/artifacts/s/t/log", { headers: { Range: `bytes=${log.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${log.length}`);
    expect((await beyond.json()).error.code).toBe("E_RANGE");
  });

  test("If-None-Match with the ETag gives 304; HEAD gives the headers without a body", async () => {
    const { app } = await makeApp();
    await app.request("/v1/artifacts/s/t/diff", { method: "PUT", body: "+added\n" });
    const first = await app.request("/v1/artifacts/s/t/diff?version=1");
    const etag = first.headers.get("etag") as string;
    expect(first.headers.get("cache-control")).toContain("immutable");
    const again = await app.request("/v1/artifacts/s/t/diff?version=1", { headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const head = await app.request("/v1/artifacts/s/t/diff", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("7");
    expect(head.headers.get("etag")).toBe(etag);
    expect(await head.text()).toBe("");
  });

  test("Content-Digest is verified before anything is published", async () => {
    const { app } = await makeApp();
    const body = "test output\n";
    const wrong = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body,
      headers: { "Content-Digest": `sha-256=:${await base64Sha256("something else")}:` },
    });
    expect(wrong.status).toBe(422);
    expect((await wrong.json()).error.code).toBe("E_CHECKSUM_MISMATCH");
    expect((await app.request("/v1/artifacts/s/t/log")).status).toBe(404);
    const right = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body,
      headers: { "Content-Digest": `sha-256=:${await base64Sha256(body)}:` },
    });
    expect(right.status).toBe(201);
    const malformed = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body,
      headers: { "Content-Digest": "sha-256=:abc:" },
    });
    expect(malformed.status).toBe(400);
  });

  test("a gzip body (Content-Encoding: gzip) is validated, stored without recompressing, and its digest covers the gzip bytes", async () => {
    const { app } = await makeApp();
    const log = makeLog(3000);
    const gz = gzipSync(new TextEncoder().encode(log), { level: 9 });
    const put = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: gz,
      headers: { "Content-Encoding": "gzip", "Content-Digest": `sha-256=:${await base64Sha256(gz)}:` },
    });
    expect(put.status).toBe(201);
    const stored = await put.json();
    expect(stored.checksum).toBe(await sha256Hex(gz));
    expect(stored.originalChecksum).toBe(await sha256Hex(log));
    expect(await (await app.request("/v1/artifacts/s/t/log")).text()).toBe(log);
    const notGzip = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: "plain",
      headers: { "Content-Encoding": "gzip" },
    });
    expect(notGzip.status).toBe(400);
    const brotli = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: "x",
      headers: { "Content-Encoding": "br" },
    });
    expect(brotli.status).toBe(400);
  });

  test("tags, metadata and Content-Type headers are kept; bad metadata JSON is refused", async () => {
    const { app } = await makeApp();
    const put = await app.request("/v1/artifacts/s/t/test", {
      method: "PUT",
      body: "<testsuite/>",
      headers: {
        "X-Artifact-Tags": "ci, nightly",
        "X-Artifact-Metadata": '{"runner":"gha-1"}',
        "Content-Type": "application/xml",
      },
    });
    expect(await put.json()).toMatchObject({
      tags: ["ci", "nightly"],
      metadata: { runner: "gha-1" },
      mimeType: "application/xml",
    });
    const curlDefault = await app.request("/v1/artifacts/s/t2/test", {
      method: "PUT",
      body: "{}",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect((await curlDefault.json()).mimeType).toBe("application/json");
    const bad = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: "x",
      headers: { "X-Artifact-Metadata": "{not json" },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: "E_INVALID_INPUT" });
  });

  test("PATCH pins and retags; DELETE removes one version or all", async () => {
    const { app } = await makeApp();
    await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: "one" });
    await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: "two" });
    const patched = await app.request("/v1/artifacts/s/t/log?version=1", {
      method: "PATCH",
      body: JSON.stringify({ pinned: true, addTags: ["keep"] }),
    });
    expect(await patched.json()).toMatchObject({ version: 1, pinned: true, tags: ["keep"], expiresAt: null });
    const unknownField = await app.request("/v1/artifacts/s/t/log", { method: "PATCH", body: '{"pin":true}' });
    expect(unknownField.status).toBe(400);
    expect(await (await app.request("/v1/artifacts/s/t/log?version=2", { method: "DELETE" })).json()).toEqual({
      deleted: 1,
    });
    expect(await (await app.request("/v1/artifacts/s/t/log")).text()).toBe("one");
    expect(await (await app.request("/v1/artifacts/s/t/log", { method: "DELETE" })).json()).toEqual({ deleted: 1 });
    expect((await app.request("/v1/artifacts/s/t/log", { method: "DELETE" })).status).toBe(404);
  });

  test("names in the path are checked, including encoded traversal", async () => {
    const { app, fixture } = await makeApp();
    for (const path of [
      "/v1/artifacts/s/..%2Fetc/log",
      "/v1/artifacts/.hidden/t/log",
      "/v1/artifacts/s/t%00/log",
      "/v1/artifacts/s/a%5Cb/log",
    ]) {
      const response = await app.request(path, { method: "PUT", body: "x" });
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("E_INVALID_NAME");
    }
    // A bare encoded ".." segment is resolved by URL parsing before routing: no route matches.
    const dotSegment = await app.request("/v1/artifacts/%2e%2e/t/log", { method: "PUT", body: "x" });
    expect(dotSegment.status).toBe(404);
    expect((await app.request("/v1/artifacts/s/t/coverage", { method: "PUT", body: "x" })).status).toBe(400);
    expect((await fixture.backend.list()).objects).toEqual([]);
  });

  test("bodies over the limit get 413, declared or streamed, and nothing is stored", async () => {
    const { app, fixture } = await makeApp({ bodyLimit: 1000 });
    const declared = await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: "x".repeat(2000) });
    expect(declared.status).toBe(413);
    const streamed = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: new Blob(["y".repeat(5000)]).stream(),
      // @ts-expect-error Bun's RequestInit accepts duplex for streamed bodies
      duplex: "half",
    });
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).error.code).toBe("E_TOO_LARGE");
    expect((await fixture.backend.list()).objects).toEqual([]);
  });
});

describe("search, maintenance and operations", () => {
  test("search filters and pages with a cursor", async () => {
    const { app } = await makeApp();
    for (let index = 0; index < 5; index++) {
      await app.request(`/v1/artifacts/s/t${index}/log`, {
        method: "PUT",
        body: `${index}`,
        headers: { "X-Artifact-Tags": index % 2 ? "odd" : "even" },
      });
    }
    const first = await (await app.request("/v1/artifacts?spec=s&limit=2")).json();
    expect(first.items.map((item: { taskId: string }) => item.taskId)).toEqual(["t4", "t3"]);
    const second = await (await app.request(`/v1/artifacts?spec=s&limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((item: { taskId: string }) => item.taskId)).toEqual(["t2", "t1"]);
    const odd = await (await app.request("/v1/artifacts?tag=odd")).json();
    expect(odd.items.map((item: { taskId: string }) => item.taskId)).toEqual(["t3", "t1"]);
    const unknown = await app.request("/v1/artifacts?specs=s");
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.message).toContain("unknown search parameter specs");
  });

  test("cleanup dry run lists, then the sweep deletes; stats report usage and quota", async () => {
    const { app, fixture } = await makeApp({ config: { storageQuota: { maxBytes: 1_000_000, warnThreshold: 0.8 } } });
    await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: "old" });
    fixture.clock.now += 8 * 86_400_000;
    const dry = await (await app.request("/v1/maintenance/cleanup?dry_run=1", { method: "POST" })).json();
    expect(dry).toMatchObject({ dryRun: true, deleted: 0, expiredTotal: 1 });
    expect(dry.candidates[0].reason).toContain("keeps log artifacts 7 days");
    const stats = await (await app.request("/v1/stats")).json();
    expect(stats).toMatchObject({ artifacts: 1, quota: { maxBytes: 1_000_000, warning: null } });
    const swept = await (await app.request("/v1/maintenance/cleanup", { method: "POST" })).json();
    expect(swept.deleted).toBe(1);
  });

  test("gc, verify and reindex are admin operations that report what they did", async () => {
    const { app, fixture } = await makeApp();
    const stored = await (await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: "content" })).json();
    const gc = await (await app.request("/v1/maintenance/gc?dry_run=1&grace=10m", { method: "POST" })).json();
    expect(gc).toMatchObject({ dryRun: true, stalePending: [], orphanObjects: [], scannedObjects: 3 }); // the blob, its task's metadata.json, metadata-index.json;
    const verify = await (await app.request("/v1/maintenance/verify?deep=1", { method: "POST" })).json();
    expect(verify).toMatchObject({ checked: 1, bytes: stored.size, corrupt: [] });
    const reindex = await (await app.request("/v1/maintenance/reindex", { method: "POST" })).json();
    expect(reindex).toMatchObject({ metadataFiles: 1, present: 1, restored: [] });
    expect((await app.request("/v1/maintenance/gc?grace=soon", { method: "POST" })).status).toBe(400);
    expect((await fixture.backend.list()).objects).toHaveLength(3);
  });

  test("healthz, metrics in Prometheus format, OpenAPI for every route, JSON 404 for unknown routes", async () => {
    const { app } = await makeApp();
    await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: "x" });
    await app.request("/v1/artifacts/s/t/log");
    await app.request("/v1/artifacts/s/missing/log");
    expect(await (await app.request("/healthz")).json()).toMatchObject({ status: "ok", backend: "fs" });
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain("# TYPE artifact_store_uploads_total counter");
    expect(metrics).toMatch(/^artifact_store_uploads_total 1$/m);
    expect(metrics).toMatch(/^artifact_store_downloads_total 1$/m);
    expect(metrics).toMatch(/^artifact_store_errors_total\{code="E_NOT_FOUND"\} 1$/m);
    expect(metrics).toMatch(/^artifact_store_quota_used_bytes \d+$/m);
    const openapi = await (await app.request("/openapi.json")).json();
    expect(Object.keys(openapi.paths).sort()).toEqual(
      [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/v1/artifacts",
        "/v1/artifacts/{spec}/{task}/{type}",
        "/v1/artifacts/{spec}/{task}/{type}:append",
        "/v1/artifacts/{spec}/{task}/{type}:live",
        "/v1/artifacts/{spec}/{task}/{type}:seal",
        "/v1/compare",
        "/v1/live",
        "/v1/maintenance/cleanup",
        "/v1/maintenance/gc",
        "/v1/maintenance/reindex",
        "/v1/maintenance/verify",
        "/v1/stats",
      ].sort(),
    );
    expect(openapi.components.schemas.Error.properties.error.properties.code.enum).toContain("E_QUOTA_EXCEEDED");
    const missing = await app.request("/v2/nothing");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: "E_NOT_FOUND", message: "no route GET /v2/nothing" } });
  });
});

describe("a server without tokens", () => {
  test("answers only requests addressed to a loopback name (no DNS rebinding)", async () => {
    const { app } = await makeApp();
    expect((await app.request("/v1/artifacts", { headers: { Host: "127.0.0.1:8787" } })).status).toBe(200);
    expect((await app.request("/v1/artifacts", { headers: { Host: "localhost:8787" } })).status).toBe(200);
    const rebound = await app.request("/v1/artifacts", { headers: { Host: "attacker.example:8787" } });
    expect(rebound.status).toBe(403);
    expect((await rebound.json()).error.code).toBe("E_FORBIDDEN");
    expect((await app.request("/v1/artifacts", { headers: { Host: "127.evil.example" } })).status).toBe(403);
  });

  test("refuses writes sent by other sites' pages, accepts them from the same machine", async () => {
    const { app } = await makeApp();
    const fromPage = await app.request("/v1/maintenance/gc", {
      method: "POST",
      headers: { Origin: "https://attacker.example" },
    });
    expect(fromPage.status).toBe(403);
    const crossSite = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: "x",
      headers: { "Sec-Fetch-Site": "cross-site" },
    });
    expect(crossSite.status).toBe(403);
    const local = await app.request("http://127.0.0.1:8787/v1/artifacts/s/t/log", {
      method: "PUT",
      body: "x",
      headers: { Origin: "http://127.0.0.1:8787" },
    });
    expect(local.status).toBe(201);
  });

  test("an uploaded HTML page is served so that no browser runs it", async () => {
    const { app } = await makeApp();
    await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: "<script>alert(1)</script>",
      headers: { "Content-Type": "text/html" },
    });
    const page = await app.request("/v1/artifacts/s/t/log");
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("content-security-policy")).toContain("sandbox");
  });
});

describe("auth", () => {
  const hash = (token: string) => new Bun.CryptoHasher("sha256").update(token).digest("hex");
  const tokens: TokenConfig[] = [
    { name: "reader", sha256: hash("read-token"), scopes: ["read"] },
    { name: "writer", sha256: hash("write-token"), scopes: ["read", "write"] },
    { name: "chat-writer", sha256: hash("chat-token"), scopes: ["read", "write"], specs: ["chat-app"] },
    { name: "ops", sha256: hash("admin-token"), scopes: ["admin"] },
  ];
  const as = (token: string, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: { ...(init.headers as Record<string, string>), Authorization: `Bearer ${token}` },
  });

  test("no token or an unknown token is 401 with WWW-Authenticate; health and OpenAPI stay public", async () => {
    const { app } = await makeApp({ tokens });
    const none = await app.request("/v1/artifacts/s/t/log");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await app.request("/v1/artifacts/s/t/log", as("guess"))).status).toBe(401);
    expect((await app.request("/metrics")).status).toBe(401);
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/openapi.json")).status).toBe(200);
  });

  test("scopes are enforced: read cannot write, write cannot sweep, admin can do all; 401 and 403 stay distinct", async () => {
    const { app } = await makeApp({ tokens });
    expect((await app.request("/v1/artifacts/s/t/log", as("read-token", { method: "PUT", body: "x" }))).status).toBe(
      403,
    );
    expect((await app.request("/v1/artifacts/s/t/log", as("write-token", { method: "PUT", body: "x" }))).status).toBe(
      201,
    );
    expect((await app.request("/v1/artifacts/s/t/log", as("read-token"))).status).toBe(200);
    expect((await app.request("/v1/artifacts/s/t/log", as("read-token", { method: "DELETE" }))).status).toBe(403);
    expect((await app.request("/v1/maintenance/cleanup", as("write-token", { method: "POST" }))).status).toBe(403);
    expect((await app.request("/v1/maintenance/cleanup", as("admin-token", { method: "POST" }))).status).toBe(200);
    expect((await app.request("/v1/artifacts/s/t/log", as("admin-token", { method: "DELETE" }))).status).toBe(200);
  });

  test("a spec-limited token touches only its spec, searches only it, and cannot see global stats", async () => {
    const { app } = await makeApp({ tokens });
    expect(
      (await app.request("/v1/artifacts/chat-app/t/log", as("chat-token", { method: "PUT", body: "x" }))).status,
    ).toBe(201);
    expect(
      (await app.request("/v1/artifacts/other/t/log", as("chat-token", { method: "PUT", body: "x" }))).status,
    ).toBe(403);
    expect(
      (await app.request("/v1/artifacts/other/t/log", as("write-token", { method: "PUT", body: "y" }))).status,
    ).toBe(201);
    expect((await app.request("/v1/artifacts/other/t/log", as("chat-token"))).status).toBe(403);
    const search = await (await app.request("/v1/artifacts", as("chat-token"))).json();
    expect(search.items.map((item: { specName: string }) => item.specName)).toEqual(["chat-app"]);
    expect((await app.request("/v1/artifacts?spec=other", as("chat-token"))).status).toBe(403);
    expect((await app.request("/v1/stats", as("chat-token"))).status).toBe(403);
  });

  test("errors never echo the token", async () => {
    const { app } = await makeApp({ tokens });
    const response = await app.request("/v1/artifacts/s/t/log", as("secret-token-value-123"));
    expect(await response.text()).not.toContain("secret-token-value-123");
  });

  test("with no tokens and anonymous access off (the edge entry), every request is refused", async () => {
    const { app } = await makeApp({ allowAnonymous: false });
    const response = await app.request("/v1/artifacts?spec=s");
    expect(response.status).toBe(401);
    expect((await response.json()).error.message).toContain("no tokens configured");
  });
});

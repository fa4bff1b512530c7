/**
 * A plain upload (`PUT /v1/artifacts/:spec/:task/:type`, no query) skips the router: every answer
 * it gets must be the router's, for every kind of request a caller can send — refused hosts and
 * origins, missing, unknown and under-scoped tokens, bad names, types, encodings, digests, tags,
 * metadata and sizes — nothing may be stored where the router stores nothing, and it is counted
 * and logged the same. The router's answer is taken by adding a query parameter the route
 * ignores (the shortcut takes none). Uploads that succeed go to two tasks, `d<n>` (the shortcut)
 * and `r<n>` (the router), and their answers are compared with the task names swapped.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import type { TokenConfig } from "../../src/config/schema.ts";
import { createApp } from "../../src/http/app.ts";
import { countRouterMatches, requestCounts, requestLines, TOKENS, tokenConfig } from "../helpers/direct-route.ts";
import { makeFsStore, makeLog, recordingLogger, sha256Hex, type TestStore } from "../helpers/store.ts";

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

const BODY_LIMIT = 64 * 1024;

/** An app over an empty store, with a 64 KiB body limit, and a counter of the router's matches. */
async function makeApp(tokens?: TokenConfig[]) {
  current = await makeFsStore({}, undefined, { inlineSmallUploads: true });
  const logs: TestStore["logs"] = [];
  const app = createApp({
    store: current.store,
    bodyLimit: BODY_LIMIT,
    ...(tokens ? { tokens } : {}),
    logger: recordingLogger(logs),
  });
  // Hono's router settles its own match on the first request: count after that one.
  expect((await app.request("/healthz")).status).toBe(200);
  logs.length = 0;
  return { app, logs, routed: countRouterMatches(app), store: current.store };
}

type Sent = { headers?: Record<string, string>; body?: string | Uint8Array<ArrayBuffer> };

/**
 * Status, headers and body of an answer, with `from` written as `to` (task names). The stored
 * bytes' checksum is set apart: the portable gzip writes the current second into its header.
 */
async function answer(response: Response, from: string, to: string) {
  const swap = (text: string) => text.replaceAll(from, to);
  const text = await response.text();
  const body = response.status === 201 ? { ...JSON.parse(swap(text)), checksum: "(stored bytes)" } : swap(text);
  return {
    status: response.status,
    headers: Object.fromEntries([...response.headers].map(([name, value]) => [name, swap(value)])),
    body,
  };
}

/**
 * `path` (with `{task}`) PUT as sent, to task `d<n>`, and with an ignored parameter added, to
 * task `r<n>`; whether each one left a version behind.
 */
async function bothWays(app: Awaited<ReturnType<typeof makeApp>>, path: string, sent: Sent, n: number) {
  const put = (url: string) =>
    app.app.request(url, { method: "PUT", headers: sent.headers ?? {}, body: sent.body ?? makeLog(40) });
  const routedBefore = app.routed.count;
  const direct = await answer(await put(`http://localhost${path.replace("{task}", `direct${n}`)}`), `direct${n}`, "T");
  const routedByDirect = app.routed.count - routedBefore;
  const separator = path.includes("?") ? "&" : "?";
  const routerPath = `${path.replace("{task}", `router${n}`)}${separator}via=router`;
  const viaRouter = await answer(await put(`http://localhost${routerPath}`), `router${n}`, "T");
  // The version the upload left, if any (or why the names cannot hold one).
  const stored = async (task: string) => {
    const [, , , spec, , type] = path.split(/[/?]/);
    if (!spec || !type || !path.includes("{task}")) return "n/a";
    return app.store.stat({ specName: spec, taskId: task, type }).then(
      (metadata) => metadata?.version ?? "none",
      (error: Error) => error.message,
    );
  };
  return {
    direct: { ...direct, stored: await stored(`direct${n}`) },
    viaRouter: { ...viaRouter, stored: await stored(`router${n}`) },
    routedByDirect,
  };
}

const PLAIN = "/v1/artifacts/chat-app/{task}/log";

describe("a plain upload answered without the router", () => {
  test("without tokens: the same answers as the router for every request, the same versions stored, and the router is not asked", async () => {
    const app = await makeApp();
    const log = makeLog(200);
    const cases: [string, Sent][] = [
      [PLAIN, {}],
      [PLAIN, { headers: { "Content-Type": "text/plain; charset=utf-8", "X-Artifact-Tags": "ci,nightly" } }],
      [PLAIN, { headers: { "X-Artifact-Metadata": '{"commit":"abc123"}' } }],
      [PLAIN, { headers: { "Content-Encoding": "gzip" }, body: new Uint8Array(gzipSync(log)) }],
      [PLAIN, { headers: { "Content-Encoding": "" }, body: log }],
      [
        PLAIN,
        {
          headers: { "Content-Digest": `sha-256=:${Buffer.from(await sha256Hex(log), "hex").toString("base64")}:` },
          body: log,
        },
      ],
      [PLAIN, { body: "" }],
      [PLAIN, { headers: { Host: "localhost:8787" } }],
      [PLAIN, { headers: { Host: "evil.example" } }],
      [PLAIN, { headers: { Host: "localhost.evil.example" } }],
      [PLAIN, { headers: { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" } }],
      [PLAIN, { headers: { Origin: "null" } }],
      [PLAIN, { headers: { "Content-Type": "multipart/form-data; boundary=x" } }],
      [PLAIN, { headers: { "Content-Encoding": "br" } }],
      [PLAIN, { headers: { "Content-Encoding": "gzip" }, body: "not gzip" }],
      [PLAIN, { headers: { "Content-Digest": `sha-256=:${Buffer.alloc(32).toString("base64")}:` } }],
      [PLAIN, { headers: { "Content-Digest": "sha-256=:AAAA:" } }],
      [PLAIN, { headers: { "X-Artifact-Tags": "Bad Tag!" } }],
      [PLAIN, { headers: { "X-Artifact-Metadata": "{not json" } }],
      [PLAIN, { headers: { "X-Artifact-Metadata": "[1,2]" } }],
      [PLAIN, { body: "x".repeat(BODY_LIMIT + 1) }],
      [`${PLAIN}?version=1`, {}],
      ["/v1/artifacts/chat-app/{task}/nope", {}],
      ["/v1/artifacts/.store/{task}/log", {}],
      ["/v1/artifacts/chat-app/{task}.../log", {}],
      ["/v1/artifacts/chat-app/{task}/-log", {}],
      [`/v1/artifacts/chat-app/{task}${"x".repeat(300)}/log`, {}],
    ];
    for (const [index, [path, sent]] of cases.entries()) {
      const { direct, viaRouter, routedByDirect } = await bothWays(app, path, sent, index);
      expect({ path, sent: sent.headers, ...direct }).toEqual({ path, sent: sent.headers, ...viaRouter });
      // A refused upload leaves no version (or its names could not hold one).
      expect({ path, status: direct.status, storedVersion: typeof direct.stored === "number" }).toEqual({
        path,
        status: direct.status,
        storedVersion: direct.status === 201,
      });
      expect({ path, sent: sent.headers, routedByDirect }).toEqual({
        path,
        sent: sent.headers,
        routedByDirect: path.includes("?") ? 1 : 0,
      });
    }
  });

  test("with tokens: no token, an unknown one, a read-only one or one limited to another spec get the router's refusal", async () => {
    const app = await makeApp(await tokenConfig("write"));
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [{ Authorization: "Basic dXNlcjpwYXNz" }, 401],
      [bearer("not-a-token"), 401],
      [bearer(TOKENS.reader), 403],
      [bearer(TOKENS.other), 403],
      [{ Authorization: `bearer ${TOKENS.writer}` }, 201],
      [{ Authorization: `Bearer  ${TOKENS.writer}` }, 201],
      [{ ...bearer(TOKENS.writer), Host: "evil.example" }, 201],
      [bearer(TOKENS.writer), 201],
    ];
    for (const [index, [headers, status]] of cases.entries()) {
      const { direct, viaRouter, routedByDirect } = await bothWays(app, PLAIN, { headers }, index);
      expect({ sent: headers, status: direct.status }).toEqual({ sent: headers, status });
      expect({ sent: headers, ...direct }).toEqual({ sent: headers, ...viaRouter });
      expect(routedByDirect).toBe(0);
    }
  });

  test("it is counted in the metrics and logged as the route's requests are", async () => {
    const app = await makeApp();
    const put = (path: string) => app.app.request(path, { method: "PUT", body: makeLog(10) });
    expect((await put("/v1/artifacts/chat-app/a/log")).status).toBe(201);
    expect((await put("/v1/artifacts/chat-app/b/log?via=router")).status).toBe(201);
    expect((await put("/v1/artifacts/chat-app/c/nope")).status).toBe(400);
    expect((await put("/v1/artifacts/chat-app/d/nope?via=router")).status).toBe(400);
    expect(requestLines(app.logs)).toEqual([
      { method: "PUT", path: "/v1/artifacts/chat-app/a/log", status: 201, ms: 0 },
      { method: "PUT", path: "/v1/artifacts/chat-app/b/log", status: 201, ms: 0 },
      { method: "PUT", path: "/v1/artifacts/chat-app/c/nope", status: 400, ms: 0 },
      { method: "PUT", path: "/v1/artifacts/chat-app/d/nope", status: 400, ms: 0 },
    ]);
    const metrics = await (await app.app.request("/metrics")).text();
    expect(metrics).toContain(
      'artifact_store_http_requests_total{method="PUT",route="/v1/artifacts/:spec/:task/:type",status="201"} 2',
    );
    expect(metrics).toContain(
      'artifact_store_http_requests_total{method="PUT",route="/v1/artifacts/:spec/:task/:type",status="400"} 2',
    );
    expect(metrics).toContain('artifact_store_errors_total{code="E_INVALID_INPUT"} 2');
  });

  test("a refused host or token is counted under the route label the router gives it", async () => {
    const tokens = await tokenConfig("write");
    const countedAfter = async (
      configured: TokenConfig[] | undefined,
      path: string,
      headers: Record<string, string>,
    ) => {
      const { app } = await makeApp(configured);
      await app.request(`http://localhost${path}`, { method: "PUT", headers, body: "x" });
      const counted = await requestCounts(app, configured && TOKENS.admin);
      await current?.cleanup();
      current = undefined;
      return counted;
    };
    const cases: [TokenConfig[] | undefined, Record<string, string>][] = [
      [undefined, { Host: "evil.example" }],
      [undefined, { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" }],
      [tokens, {}],
      [tokens, { Authorization: "Bearer not-a-token" }],
      [tokens, { Authorization: `Bearer ${TOKENS.reader}` }],
    ];
    for (const [configured, headers] of cases) {
      const direct = await countedAfter(configured, "/v1/artifacts/chat-app/t/log", headers);
      const viaRouter = await countedAfter(configured, "/v1/artifacts/chat-app/t/log?via=router", headers);
      expect({ sent: headers, counted: direct }).toEqual({ sent: headers, counted: viaRouter });
      expect(direct.length).toBeGreaterThan(0);
    }
  });
});

describe("hostile uploads near the shortcut's pattern", () => {
  test("each gets the router's answer, whether or not the shortcut takes it", async () => {
    const tokens = await tokenConfig("write");
    for (const configured of [undefined, tokens]) {
      const app = await makeApp(configured);
      const writer: Record<string, string> = configured ? { Authorization: `Bearer ${TOKENS.writer}` } : {};
      const cases: [string, Record<string, string>][] = [
        ["/v1/artifacts/../{task}/log", writer],
        ["/v1/artifacts/chat-app/../log", writer],
        ["/v1/artifacts/chat-app/./log", writer],
        ["/v1/artifacts/chat-app/{task}/..", writer],
        ["/v1/artifacts/chat-app/{task}/log/", writer],
        ["/v1/artifacts/chat-app//log", writer],
        ["/V1/artifacts/chat-app/{task}/log", writer],
        ["/v1/artifacts/chat-app/{task}/LOG", writer],
        ["/v1/artifacts/chat-app/{task}/log?version=", writer],
        ["/v1/artifacts/chat-app/{task}/log?version=1&version=2", writer],
        ["/v1/artifacts/chat-app/{task}/log?", writer],
        ["/v1/artifacts/chat-app/{task}/log%2F..", writer],
        ["/v1/artifacts/chat-app/{task}/%2e%2e", writer],
        ["/v1/artifacts/chat-app/{task}/l%C3%B6g", writer],
        ["/v1/artifacts/chat-app/{task}%20x/log", writer],
        ["/v1/artifacts/chat-app/{task}/log", { ...writer, Host: "LOCALHOST" }],
        ["/v1/artifacts/chat-app/{task}/log", { ...writer, Host: "[::1]:8787" }],
        ["/v1/artifacts/chat-app/{task}/log", { ...writer, Host: "127.0.0.1.evil.example" }],
        ["/v1/artifacts/chat-app/{task}/log", { ...writer, "Sec-Fetch-Site": "same-site" }],
        ["/v1/artifacts/chat-app/{task}/log", { ...writer, "Content-Length": "99999999999" }],
      ];
      for (const [index, [path, headers]] of cases.entries()) {
        const { direct, viaRouter } = await bothWays(app, path, { headers }, index);
        expect({ path, sent: headers, ...direct }).toEqual({ path, sent: headers, ...viaRouter });
      }
      await current?.cleanup();
      current = undefined;
    }
  });
});

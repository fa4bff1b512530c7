/**
 * A plain download (`GET /v1/artifacts/:spec/:task/:type[?version=N]`) skips the router: every
 * answer it gets must be the router's, for every kind of request a caller can send — refused
 * hosts, missing, unknown and under-scoped tokens, bad names and versions, ranges, conditional
 * and gzip requests — and it is counted and logged the same. The router's answer is taken by
 * adding a query parameter the route ignores (the shortcut takes only `version`).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { TokenConfig } from "../../src/config/schema.ts";
import { createApp } from "../../src/http/app.ts";
import { countRouterMatches, requestCounts, requestLines, TOKENS, tokenConfig } from "../helpers/direct-route.ts";
import { makeFsStore, makeLog, recordingLogger, type TestStore } from "../helpers/store.ts";

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

/** An app over a store holding two versions of chat-app/1.1/log, and a counter of the router's matches. */
async function makeApp(tokens?: TokenConfig[]) {
  current = await makeFsStore({ versioningEnabled: true });
  const logs: TestStore["logs"] = [];
  const app = createApp({ store: current.store, ...(tokens ? { tokens } : {}), logger: recordingLogger(logs) });
  for (const text of [makeLog(3000), makeLog(5000)]) {
    const put = await app.request("/v1/artifacts/chat-app/1.1/log", {
      method: "PUT",
      body: text,
      headers: { "Content-Type": "text/plain", ...(tokens ? { Authorization: `Bearer ${TOKENS.admin}` } : {}) },
    });
    expect(put.status).toBe(201);
  }
  return { app, logs, routed: countRouterMatches(app) };
}

/** Status, headers and body of an answer. */
async function answer(response: Response) {
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: Buffer.from(await response.arrayBuffer()).toString("base64"),
  };
}

/** The answer to `path` as sent (the shortcut) and with an ignored parameter added (the router). */
async function bothWays(app: Awaited<ReturnType<typeof makeApp>>, path: string, headers: Record<string, string> = {}) {
  const routedBefore = app.routed.count;
  const direct = await answer(await app.app.request(`http://localhost${path}`, { headers }));
  const routedByDirect = app.routed.count - routedBefore;
  const separator = path.includes("?") ? "&" : "?";
  const viaRouter = await answer(await app.app.request(`http://localhost${path}${separator}via=router`, { headers }));
  return { direct, viaRouter, routedByDirect };
}

const PLAIN = "/v1/artifacts/chat-app/1.1/log";

describe("a plain download answered without the router", () => {
  test("without tokens: the same answers as the router for every request, and the router is not asked", async () => {
    const app = await makeApp();
    const cases: [string, Record<string, string>][] = [
      [PLAIN, {}],
      [`${PLAIN}?version=1`, {}],
      [`${PLAIN}?version=2`, { "Accept-Encoding": "gzip" }],
      [PLAIN, { Range: "bytes=10-99" }],
      [PLAIN, { Range: "bytes=999999-" }],
      [PLAIN, { Host: "localhost:8787" }],
      [PLAIN, { Host: "127.0.0.1" }],
      [PLAIN, { Host: "evil.example" }],
      [PLAIN, { Host: "localhost.evil.example" }],
      [PLAIN, { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" }],
      [`${PLAIN}?version=3`, {}],
      [`${PLAIN}?version=0`, {}],
      [`${PLAIN}?version=0001`, {}],
      [`${PLAIN}?version=1234567890123456`, {}],
      ["/v1/artifacts/chat-app/1.1/nope", {}],
      ["/v1/artifacts/no-such-spec/1.1/log", {}],
      ["/v1/artifacts/.store/1.1/log", {}],
      ["/v1/artifacts/chat-app/.../log", {}],
      ["/v1/artifacts/chat-app/1.1/-log", {}],
      [`/v1/artifacts/chat-app/${"x".repeat(300)}/log`, {}],
    ];
    for (const [path, headers] of cases) {
      const { direct, viaRouter, routedByDirect } = await bothWays(app, path, headers);
      expect({ path, sent: headers, ...direct }).toEqual({ path, sent: headers, ...viaRouter });
      expect({ path, routedByDirect }).toEqual({ path, routedByDirect: 0 });
    }
    const etag = (await app.app.request(PLAIN)).headers.get("etag") as string;
    const { direct, viaRouter } = await bothWays(app, PLAIN, { "If-None-Match": etag });
    expect(direct.status).toBe(304);
    expect(direct).toEqual(viaRouter);
  });

  test("with tokens: no token, an unknown one, one without read scope or limited to another spec get the router's refusal", async () => {
    const app = await makeApp(await tokenConfig("read"));
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    const cases: [string, Record<string, string>, number][] = [
      [PLAIN, {}, 401],
      [PLAIN, { Authorization: "Basic dXNlcjpwYXNz" }, 401],
      [PLAIN, bearer("not-a-token"), 401],
      [PLAIN, bearer(TOKENS.writer), 403],
      [PLAIN, bearer(TOKENS.other), 403],
      [`${PLAIN}?version=1`, bearer(TOKENS.other), 403],
      [PLAIN, bearer(TOKENS.reader), 200],
      [PLAIN, { ...bearer(TOKENS.reader), Host: "evil.example" }, 200],
      [`${PLAIN}?version=2`, bearer(TOKENS.admin), 200],
      ["/v1/artifacts/.store/1.1/log", bearer(TOKENS.reader), 400],
    ];
    for (const [path, headers, status] of cases) {
      const { direct, viaRouter, routedByDirect } = await bothWays(app, path, headers);
      expect({ path, sent: headers, status: direct.status }).toEqual({ path, sent: headers, status });
      expect({ path, sent: headers, ...direct }).toEqual({ path, sent: headers, ...viaRouter });
      expect(routedByDirect).toBe(0);
    }
  });

  test("it is counted in the metrics and logged as the route's requests are", async () => {
    const app = await makeApp();
    app.logs.length = 0;
    await app.app.request(PLAIN);
    await app.app.request(`${PLAIN}?via=router`);
    await app.app.request("/v1/artifacts/chat-app/1.1/nope");
    expect(requestLines(app.logs)).toEqual([
      { method: "GET", path: PLAIN, status: 200, ms: 0 },
      { method: "GET", path: PLAIN, status: 200, ms: 0 },
      { method: "GET", path: "/v1/artifacts/chat-app/1.1/nope", status: 404, ms: 0 },
    ]);
    const metrics = await (await app.app.request("/metrics")).text();
    expect(metrics).toContain(
      'artifact_store_http_requests_total{method="GET",route="/v1/artifacts/:spec/:task/:type",status="200"} 2',
    );
    expect(metrics).toContain(
      'artifact_store_http_requests_total{method="GET",route="/v1/artifacts/:spec/:task/:type",status="404"} 1',
    );
    expect(metrics).toContain('artifact_store_errors_total{code="E_NOT_FOUND"} 1');
  });
});

describe("refusals before the route", () => {
  /** The request-count lines of /metrics after `path` was sent once with `headers`. */
  async function countedAfter(tokens: TokenConfig[] | undefined, path: string, headers: Record<string, string>) {
    const { app } = await makeApp(tokens);
    await app.request(`http://localhost${path}`, { headers });
    const counted = await requestCounts(app, tokens && TOKENS.admin);
    await current?.cleanup();
    current = undefined;
    // The two uploads that set the store up are not this request's.
    return counted.filter((line) => !line.includes('status="201"'));
  }

  test("a refused host or token is counted under the route label the router gives it", async () => {
    const tokens = await tokenConfig("read");
    const cases: [TokenConfig[] | undefined, Record<string, string>][] = [
      [undefined, { Host: "evil.example" }],
      [undefined, { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" }],
      [tokens, {}],
      [tokens, { Authorization: "Bearer not-a-token" }],
      [tokens, { Authorization: `Bearer ${TOKENS.writer}` }],
    ];
    for (const [configured, headers] of cases) {
      const direct = await countedAfter(configured, PLAIN, headers);
      const viaRouter = await countedAfter(configured, `${PLAIN}?via=router`, headers);
      expect({ sent: headers, counted: direct }).toEqual({ sent: headers, counted: viaRouter });
      expect(direct.length).toBeGreaterThan(0);
    }
  });
});

describe("hostile requests near the shortcut's pattern", () => {
  test("each gets the router's answer, whether or not the shortcut takes it", async () => {
    const tokens = await tokenConfig("read");
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    for (const configured of [undefined, tokens]) {
      const app = await makeApp(configured);
      const reader = configured ? bearer(TOKENS.reader) : {};
      const cases: [string, Record<string, string>][] = [
        ["/v1/artifacts/../1.1/log", reader],
        ["/v1/artifacts/chat-app/../log", reader],
        ["/v1/artifacts/chat-app/./log", reader],
        ["/v1/artifacts/chat-app/1.1/..", reader],
        ["/v1/artifacts/chat-app/1.1/log/", reader],
        ["/v1/artifacts/chat-app//log", reader],
        ["/V1/artifacts/chat-app/1.1/log", reader],
        ["/v1/artifacts/chat-app/1.1/LOG", reader],
        ["/v1/artifacts/chat-app/1.1/log?version=", reader],
        ["/v1/artifacts/chat-app/1.1/log?version=-1", reader],
        ["/v1/artifacts/chat-app/1.1/log?version=1.0", reader],
        ["/v1/artifacts/chat-app/1.1/log?version=99999999999999999999999", reader],
        ["/v1/artifacts/chat-app/1.1/log?version=1&version=2", reader],
        ["/v1/artifacts/chat-app/1.1/log?Version=1", reader],
        ["/v1/artifacts/chat-app/1.1/log?", reader],
        ["/v1/artifacts/chat-app/1.1/log%2F..", reader],
        ["/v1/artifacts/chat-app/1.1/%2e%2e", reader],
        ["/v1/artifacts/chat-app/1.1/l%C3%B6g", reader],
        ["/v1/artifacts/chat-app/1.1/log:live", reader],
        [PLAIN, { ...reader, Host: "LOCALHOST" }],
        [PLAIN, { ...reader, Host: "localhost." }],
        [PLAIN, { ...reader, Host: "[::1]:8787" }],
        [PLAIN, { ...reader, Host: "127.0.0.1.evil.example" }],
        [PLAIN, { ...reader, Origin: "null" }],
        [PLAIN, { ...reader, "Sec-Fetch-Site": "same-site" }],
        [PLAIN, { ...reader, Range: "bytes=5-1" }],
        [PLAIN, { ...reader, Range: "bytes=0-0,5-9" }],
        [PLAIN, { ...reader, "If-Range": '"nope"', Range: "bytes=0-9" }],
        [PLAIN, { ...reader, "If-None-Match": "*" }],
        [PLAIN, { ...reader, "Accept-Encoding": "gzip;q=0" }],
        [PLAIN, { Authorization: `bearer ${TOKENS.reader}` }],
        [PLAIN, { Authorization: `Bearer  ${TOKENS.reader}` }],
        [PLAIN, { Authorization: `Bearer ${TOKENS.reader} ` }],
        [PLAIN, { Authorization: "Bearer" }],
      ];
      for (const [path, headers] of cases) {
        const { direct, viaRouter } = await bothWays(app, path, headers);
        expect({ path, sent: headers, ...direct }).toEqual({ path, sent: headers, ...viaRouter });
      }
      await current?.cleanup();
      current = undefined;
    }
  });
});

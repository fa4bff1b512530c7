/**
 * The edge entry (src/runtime/worker.ts) as deployed: the bundle `npm run build:worker` makes,
 * run by workerd through Miniflare, configured by bindings, with blobs on the S3 server and
 * metadata on sqld (JWT auth), both outside workerd. Requests go over real HTTP, so what
 * workerd does to responses (it compresses bodies marked Content-Encoding unless told not to)
 * is part of the test.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { gunzipSync, gzipSync } from "fflate";
import { configFromBindings } from "../../src/runtime/worker.ts";
import { startEdge } from "../helpers/edge.ts";
import { startGcsEmulator } from "../helpers/gcs-emulator.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { startSqld } from "../helpers/sqld.ts";
import { makeLog, sha256Hex } from "../helpers/store.ts";

const ADMIN = "edge-admin-token-0123456789";
const READER = "edge-reader-token-0123456789";
const tokens = [
  { name: "admin", sha256: await sha256Hex(ADMIN), scopes: ["admin"] },
  { name: "reader", sha256: await sha256Hex(READER), scopes: ["read"], specs: ["chat-app"] },
];

const edge = await startEdge("worker-entry", tokens);
const { sqld } = edge;
const bindings = edge.bindings;
const start = edge.start;

afterAll(() => edge.dispose());

const as = (token: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), Authorization: `Bearer ${token}` },
});

describe("edge entry on workerd", () => {
  test("with no tokens configured every request is refused, health included, without opening the store", async () => {
    // An unreachable metadata URL: had the store been opened, the answer would be a 5xx.
    const worker = await start({
      ARTIFACT_STORE_SERVER__TOKENS: undefined,
      ARTIFACT_STORE_METADATA__URL: "http://127.0.0.1:9",
    });
    for (const [method, path] of [
      ["GET", "/healthz"],
      ["GET", "/openapi.json"],
      ["PUT", "/v1/artifacts/s/t/log"],
      ["GET", "/v1/artifacts"],
    ] as const) {
      const response = await fetch(new URL(path, worker.url), { method, ...(method === "PUT" ? { body: "x" } : {}) });
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("E_UNAUTHORIZED");
    }
  });

  test("a backend Workers cannot serve answers 500 E_CONFIG naming the setting and the fix", async () => {
    const worker = await start({ ARTIFACT_STORE_BACKEND_TYPE: "filesystem" });
    const response = await fetch(new URL("/v1/stats", worker.url), as(ADMIN));
    expect(response.status).toBe(500);
    const { error } = await response.json();
    expect(error).toMatchObject({ code: "E_CONFIG", details: { settings: ["ARTIFACT_STORE_BACKEND_TYPE"] } });
    expect(error.message).toContain("ARTIFACT_STORE_BACKEND_TYPE must be s3 (AWS S3, R2, MinIO…) or gcs on Workers");
    expect(worker.logs.join("\n")).toContain("ARTIFACT_STORE_BACKEND_TYPE must be s3");
  });

  test("a missing secret or a refused metadata token is named, and no configured value is repeated", async () => {
    const noKeys = await start({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    const keys = await (await fetch(new URL("/v1/stats", noKeys.url), as(ADMIN))).json();
    expect(keys.error.details.settings).toEqual([
      "ARTIFACT_STORE_S3__ACCESS_KEY_ID",
      "ARTIFACT_STORE_S3__SECRET_ACCESS_KEY",
    ]);
    // Said at start-up too, before any request.
    expect(noKeys.logs.join("\n")).toContain(
      "this Worker is misconfigured: [s3] Workers have no default credential chain",
    );

    const noToken = await start({ ARTIFACT_STORE_METADATA__AUTH_TOKEN: undefined });
    const token = await fetch(new URL("/v1/stats", noToken.url), as(ADMIN));
    expect(token.status).toBe(500);
    const text = await token.text();
    expect(JSON.parse(text).error.details.settings).toEqual(["ARTIFACT_STORE_METADATA__AUTH_TOKEN"]);
    expect(text).not.toContain(sqld.url);

    const badType = await start({ ARTIFACT_STORE_STORAGE_QUOTA__MAX_SIZE_GB: "lots-of-secret-gb" });
    const typeText = await (await fetch(new URL("/v1/stats", badType.url), as(ADMIN))).text();
    expect(JSON.parse(typeText).error.details.settings).toEqual(["ARTIFACT_STORE_STORAGE_QUOTA__MAX_SIZE_GB"]);
    expect(typeText).not.toContain("lots-of-secret-gb");
  });

  test("libsql:// to a local sqld (HTTPS to a plain port) is named with the forms that work; ?tls=0 works", async () => {
    const plain = await start({ ARTIFACT_STORE_METADATA__URL: sqld.libsqlUrl.replace("?tls=0", "") });
    const response = await fetch(new URL("/v1/stats", plain.url), as(ADMIN));
    expect(response.status).toBe(500);
    const { error } = await response.json();
    expect(error.details.settings).toEqual(["ARTIFACT_STORE_METADATA__URL"]);
    expect(error.message).toContain("use http://127.0.0.1:PORT or libsql://127.0.0.1:PORT?tls=0");

    const tls0 = await start({ ARTIFACT_STORE_METADATA__URL: sqld.libsqlUrl });
    expect((await fetch(new URL("/v1/stats", tls0.url), as(ADMIN))).status).toBe(200);
  });

  test("on S3 and sqld: upload, download, stored gzip sent as stored, Range, search, scopes, delete", async () => {
    const worker = await start();
    const url = (path: string) => new URL(path, worker.url);
    const log = makeLog(3000);
    const put = await fetch(url("/v1/artifacts/chat-app/1.1/log"), as(ADMIN, { method: "PUT", body: log }));
    expect(put.status).toBe(201);
    const stored = await put.json();
    expect(stored).toMatchObject({ uri: expect.stringMatching(/^s3:\/\/edge\//), version: 1, compressed: true });

    expect(await (await fetch(url("/v1/artifacts/chat-app/1.1/log"), as(READER))).text()).toBe(log);
    // A client asking no encoding (curl without --compressed) gets the log, as HEAD says.
    const plain = await rawRequest(url("/v1/artifacts/chat-app/1.1/log"), {
      headers: { Authorization: `Bearer ${READER}` },
    });
    expect(plain.headers["content-encoding"]).toBe("identity");
    expect(new TextDecoder().decode(plain.body)).toBe(log);
    const plainHead = await rawRequest(url("/v1/artifacts/chat-app/1.1/log"), {
      method: "HEAD",
      headers: { Authorization: `Bearer ${READER}` },
    });
    expect(Number(plainHead.headers["content-length"])).toBe(plain.body.length);
    // Stored gzip passes through once: exactly the stored bytes, not gzip of gzip.
    const passthrough = await fetch(
      url("/v1/artifacts/chat-app/1.1/log"),
      as(READER, { headers: { "Accept-Encoding": "gzip" }, decompress: false } as RequestInit),
    );
    expect(passthrough.headers.get("content-encoding")).toBe("gzip");
    const gz = new Uint8Array(await passthrough.arrayBuffer());
    expect(gz.length).toBe(stored.size);
    expect(await sha256Hex(gz)).toBe(stored.checksum);
    expect(new TextDecoder().decode(gunzipSync(gz))).toBe(log);

    const range = await fetch(url("/v1/artifacts/chat-app/1.1/log"), as(READER, { headers: { Range: "bytes=-20" } }));
    expect(range.status).toBe(206);
    expect(await range.text()).toBe(log.slice(-20));

    const gzipBody = gzipSync(new TextEncoder().encode("sent as gzip\n"));
    const gzipPut = await fetch(
      url("/v1/artifacts/chat-app/1.2/test"),
      as(ADMIN, { method: "PUT", body: gzipBody, headers: { "Content-Encoding": "gzip" } }),
    );
    expect(gzipPut.status).toBe(201);
    expect(await (await fetch(url("/v1/artifacts/chat-app/1.2/test"), as(READER))).text()).toBe("sent as gzip\n");

    const search = await (await fetch(url("/v1/artifacts?spec=chat-app"), as(READER))).json();
    expect(search.items.map((item: { taskId: string }) => item.taskId)).toEqual(["1.2", "1.1"]);

    expect((await fetch(url("/v1/artifacts/chat-app/1.1/log"))).status).toBe(401);
    expect((await fetch(url("/v1/artifacts/chat-app/1.1/log"), as(READER, { method: "DELETE" }))).status).toBe(403);
    expect((await fetch(url("/v1/artifacts/other/1/log"), as(READER))).status).toBe(403);
    expect((await fetch(url("/v1/artifacts/chat-app/1.1/log"), as(ADMIN, { method: "DELETE" }))).status).toBe(200);
    expect((await fetch(url("/v1/artifacts/chat-app/1.1/log"), as(READER))).status).toBe(404);
    expect((await (await fetch(url("/healthz"))).json()).status).toBe("ok");
  });

  test("on Google Cloud Storage (its emulator): upload, download, search, delete", async () => {
    const gcs = await startGcsEmulator();
    try {
      await gcs.ensureBucket("edge-gcs");
      const worker = await start({
        ARTIFACT_STORE_BACKEND_TYPE: "gcs",
        ARTIFACT_STORE_GCS__BUCKET: "edge-gcs",
        ARTIFACT_STORE_GCS__PREFIX: `run-${crypto.randomUUID()}/`,
        STORAGE_EMULATOR_HOST: gcs.host,
      });
      const url = (path: string) => new URL(path, worker.url);
      const log = makeLog(500);
      const put = await fetch(url("/v1/artifacts/gcs-spec/1/log"), as(ADMIN, { method: "PUT", body: log }));
      expect(put.status).toBe(201);
      expect((await put.json()).uri).toMatch(/^gs:\/\/edge-gcs\//);
      expect(await (await fetch(url("/v1/artifacts/gcs-spec/1/log"), as(ADMIN))).text()).toBe(log);
      const search = await (await fetch(url("/v1/artifacts?spec=gcs-spec"), as(ADMIN))).json();
      expect(search.items).toHaveLength(1);
      expect((await fetch(url("/v1/artifacts/gcs-spec/1/log"), as(ADMIN, { method: "DELETE" }))).status).toBe(200);
    } finally {
      await gcs.stop();
    }
  });

  test("a ws:// metadata URL keeps working from request to request", async () => {
    // workerd ties a WebSocket to the request that opened it; the isolate's store uses the same
    // address over HTTP instead.
    const worker = await start({ ARTIFACT_STORE_METADATA__URL: sqld.wsUrl });
    for (let index = 1; index <= 3; index++) {
      const put = await fetch(
        new URL(`/v1/artifacts/ws-spec/t/log`, worker.url),
        as(ADMIN, { method: "PUT", body: `upload ${index}` }),
      );
      expect(put.status).toBe(201);
      expect((await fetch(new URL("/v1/artifacts/ws-spec/t/log", worker.url), as(ADMIN))).status).toBe(200);
    }
  });

  test("scheduled() runs the retention sweep and logs how many versions it deleted", async () => {
    // A database of its own: retention follows the current policy, so with logs kept for
    // 0.000001 days (86 ms) every log in the database expires, the other tests' too.
    const own = await startSqld({ auth: true });
    try {
      const worker = await start({
        ARTIFACT_STORE_RETENTION_POLICY__LOG: "0.000001",
        ARTIFACT_STORE_METADATA__URL: own.url,
        ARTIFACT_STORE_METADATA__AUTH_TOKEN: own.authToken,
      });
      const put = await fetch(
        new URL("/v1/artifacts/sweep/t/log", worker.url),
        as(ADMIN, { method: "PUT", body: "short-lived" }),
      );
      const { expiresAt } = await put.json();
      await Bun.sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 50);
      expect((await worker.scheduled("0 3 * * *")).outcome).toBe("ok");
      const sweep = worker.logs.map((line) => line.match(/\{.*"message":"retention sweep".*\}/)?.[0]).find(Boolean);
      expect(sweep).toBeDefined();
      expect(JSON.parse(sweep as string)).toMatchObject({ cron: "0 3 * * *", deleted: 1 });
      expect((await fetch(new URL("/v1/artifacts/sweep/t/log", worker.url), as(ADMIN))).status).toBe(404);
    } finally {
      await own.stop();
    }
  });
});

describe("edge configuration from bindings", () => {
  test("strings and JSON [vars] are read with the config schema", () => {
    const config = configFromBindings({
      ...bindings(),
      ARTIFACT_STORE_SERVER__TOKENS: tokens,
      ARTIFACT_STORE_VERSIONING_ENABLED: "true",
      ARTIFACT_STORE_STORAGE_QUOTA__MAX_SIZE_GB: 2,
      OTHER_BINDING: { not: "config" },
    });
    expect(config.server.tokens.map((token) => token.name)).toEqual(["admin", "reader"]);
    expect(config.versioningEnabled).toBe(true);
    expect(config.storageQuota.maxBytes).toBe(2 * 1024 ** 3);
    expect(config.s3).toMatchObject({ bucket: "edge", forcePathStyle: true });
  });

  test("wrangler.toml's <placeholders> left in are named, their values are not repeated", () => {
    let thrown: unknown;
    try {
      configFromBindings(
        bindings({
          ARTIFACT_STORE_S3__ENDPOINT: "https://<ACCOUNT_ID>.r2.cloudflarestorage.com",
          ARTIFACT_STORE_SERVER__TOKENS: [{ name: "ci", sha256: "<sha256 of the CI token>", scopes: ["read"] }],
        }),
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      code: "E_CONFIG",
      details: { settings: ["ARTIFACT_STORE_S3__ENDPOINT", "ARTIFACT_STORE_SERVER__TOKENS"] },
    });
    expect(String((thrown as Error).message)).not.toMatch(/ACCOUNT_ID|cloudflarestorage|sha256 of/);
  });

  test("what Workers cannot do is refused with the key and the fix", () => {
    expect(() => configFromBindings(bindings({ ARTIFACT_STORE_METADATA__URL: "file:/tmp/x.db" }))).toThrow(
      /ARTIFACT_STORE_METADATA__URL must be the libsql:\/\/, https:\/\/ or wss:\/\/ URL/,
    );
    expect(() => configFromBindings(bindings({ ARTIFACT_STORE_METADATA__SYNC_URL: sqld.url }))).toThrow(
      /sync_url \(an embedded replica\)/,
    );
    expect(() => configFromBindings(bindings({ ARTIFACT_STORE_S3__BUKET: "x" }))).toThrow(/artifact_store\.s3\.buket/);
  });
});

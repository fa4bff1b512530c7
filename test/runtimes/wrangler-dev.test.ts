/**
 * The README's local recipe for the edge, run as written: the repository's own wrangler.toml,
 * `npm run build:worker`'s bundle at dist/worker/worker.js, the README's own `.dev.vars` (its
 * ports swapped for this test's s3rver and sqld) and `wrangler dev --local`. wrangler dev treats
 * requests as Cloudflare does (it replaces `Accept-Encoding` with `br, gzip` and keeps the
 * client's in `request.cf.clientAcceptEncoding`), so this is where a Worker that negotiates with
 * the platform's header instead of the client's fails. Every process is started here and
 * stopped by PID.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { gunzipSync } from "fflate";
import { buildWorkerBundle } from "../../scripts/build-worker.ts";
import { createHttpClient } from "../../src/client/http-client.ts";
import { type RawResponse, rawRequest } from "../helpers/raw-http.ts";
import { type S3TestServer, startS3Server } from "../helpers/s3-servers.ts";
import { repoRoot } from "../helpers/server-process.ts";
import { type SqldServer, startSqld } from "../helpers/sqld.ts";
import { makeLog, makeTempDir, sha256Hex } from "../helpers/store.ts";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler-dev.ts";

const TOKEN = "local-dev-token-0123456789";
const BUCKET = "ci-artifacts";

let directory: Awaited<ReturnType<typeof makeTempDir>>;
let s3: S3TestServer;
let sqld: SqldServer;
let worker: WranglerDev;

/** A project directory as a clone has it: wrangler.toml and the built bundle; `.dev.vars` as given. */
async function projectDirectory(name: string, devVars: string): Promise<string> {
  const project = join(directory.path, name);
  await mkdir(project, { recursive: true });
  await copyFile(join(repoRoot, "wrangler.toml"), join(project, "wrangler.toml"));
  await buildWorkerBundle({ outfile: join(project, "dist", "worker", "worker.js") });
  await writeFile(join(project, ".dev.vars"), devVars);
  return project;
}

/** The `.dev.vars` heredoc of the README's "Run it locally", with this test's ports and token. */
async function readmeDevVars(): Promise<string> {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const block = /cat > \.dev\.vars <<VARS\n([\s\S]*?)\nVARS\n/.exec(readme)?.[1];
  if (!block) throw new Error("README.md has no `cat > .dev.vars <<VARS` block");
  expect(block).toContain(`ARTIFACT_STORE_S3__BUCKET=${BUCKET}`);
  return block
    .replace("http://127.0.0.1:4568", s3.endpoint)
    .replace("http://127.0.0.1:8080", sqld.url)
    .replace(`$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)`, await sha256Hex(TOKEN));
}

beforeAll(async () => {
  directory = await makeTempDir("wrangler-dev");
  s3 = await startS3Server("s3rver");
  await s3.createBucket(BUCKET);
  sqld = await startSqld();
  // The .dev.vars the README's recipe writes, pointed at this test's ports (plus one short
  // retention for the sweep).
  const devVars = `${await readmeDevVars()}\nARTIFACT_STORE_RETENTION_POLICY__DIFF=0.000001\n`;
  worker = await startWranglerDev(await projectDirectory("clone", devVars));
});

afterAll(async () => {
  await worker?.stop();
  await sqld?.stop();
  await s3?.dispose();
  await directory?.cleanup();
});

const auth = { Authorization: `Bearer ${TOKEN}` };
const url = (path: string) => new URL(path, worker.url);

/** wrangler dev now and then answers a request 503 "worker restarted mid-request": ask again. */
async function send(path: string, options: Parameters<typeof rawRequest>[1] = {}, attempts = 3): Promise<RawResponse> {
  const response = await rawRequest(url(path), { ...options, headers: { ...auth, ...options.headers } });
  if (response.status === 503 && attempts > 1) return send(path, options, attempts - 1);
  return response;
}

const digestOf = (hex: string) => `sha-256=:${Buffer.from(hex, "hex").toString("base64")}:`;

describe("wrangler dev, from the README's recipe", () => {
  const log = makeLog(4000);
  let stored: { size: number; checksum: string; originalSize: number; originalChecksum: string; compressed: boolean };

  test("an upload lands in s3rver's bucket and sqld's rows", async () => {
    const put = await send("/v1/artifacts/chat-app/1.1/log", { method: "PUT", body: log });
    expect(put.status).toBe(201);
    stored = JSON.parse(new TextDecoder().decode(put.body));
    expect(stored.compressed).toBe(true);
    expect(await s3.listObjects(BUCKET)).toContainEqual({ key: "chat-app/1.1/log.txt.gz", size: stored.size });
    const rows = await createClient({ url: sqld.url }).execute("SELECT state, size FROM artifacts");
    expect(rows.rows.map((row) => [row.state, row.size])).toEqual([["committed", stored.size]]);
  });

  test("a client that asks for no encoding (plain curl) gets the log itself, and HEAD says the same length", async () => {
    const get = await send("/v1/artifacts/chat-app/1.1/log");
    expect(get.status).toBe(200);
    expect(get.headers["content-encoding"]).toBe("identity");
    expect(new TextDecoder().decode(get.body)).toBe(log);
    expect(get.body.length).toBe(stored.originalSize);
    expect(Number(get.headers["content-length"])).toBe(get.body.length);
    expect(get.headers.etag).toBe(`"${stored.originalChecksum}"`);
    expect(get.headers["repr-digest"]).toBe(digestOf(await sha256Hex(get.body)));

    const head = await send("/v1/artifacts/chat-app/1.1/log", { method: "HEAD" });
    expect(head.headers["content-encoding"]).toBe("identity");
    expect(Number(head.headers["content-length"])).toBe(get.body.length);
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.headers["repr-digest"]).toBe(get.headers["repr-digest"]);

    const range = await send("/v1/artifacts/chat-app/1.1/log", {
      headers: { Range: "bytes=-20", "Accept-Encoding": "gzip" },
    });
    expect(range.status).toBe(206);
    // Not re-encoded by the platform on its way to a client that accepts gzip.
    expect(range.headers["content-encoding"]).toBe("identity");
    expect(new TextDecoder().decode(range.body)).toBe(log.slice(-20));
    expect(range.headers["content-length"]).toBe("20");

    const identity = await send("/v1/artifacts/chat-app/1.1/log", { headers: { "Accept-Encoding": "identity" } });
    expect(identity.headers["content-encoding"]).toBe("identity");
    expect(identity.body.length).toBe(stored.originalSize);
  });

  test("the project's HTTP client sees the log's size and bytes (stat, open)", async () => {
    const client = createHttpClient({ url: worker.url.origin, token: TOKEN });
    const ref = { specName: "chat-app", taskId: "1.1", type: "log" };
    expect((await client.stat(ref))?.size).toBe(stored.originalSize);
    const opened = await client.open(ref);
    expect(opened.length).toBe(stored.originalSize);
    expect(await new Response(opened.body).text()).toBe(log);
  });

  test("a client that accepts gzip (curl --compressed) gets the stored gzip once, described as such", async () => {
    const headers = { "Accept-Encoding": "deflate, gzip, br, zstd" };
    const get = await send("/v1/artifacts/chat-app/1.1/log", { headers });
    expect(get.headers["content-encoding"]).toBe("gzip");
    expect(get.body.length).toBe(stored.size);
    expect(Number(get.headers["content-length"])).toBe(get.body.length);
    expect(await sha256Hex(get.body)).toBe(stored.checksum);
    expect(get.headers.etag).toBe(`"${stored.checksum}"`);
    expect(get.headers["repr-digest"]).toBe(digestOf(stored.checksum));
    expect(new TextDecoder().decode(gunzipSync(get.body))).toBe(log);

    const head = await send("/v1/artifacts/chat-app/1.1/log", { method: "HEAD", headers });
    expect(head.headers["content-encoding"]).toBe("gzip");
    expect(Number(head.headers["content-length"])).toBe(get.body.length);
    expect(head.headers["repr-digest"]).toBe(get.headers["repr-digest"]);
  });

  test("a download sets last_accessed_at in sqld after the response (the batching timer is waited for)", async () => {
    const metadata = createClient({ url: sqld.url });
    const lastAccess = async () =>
      (await metadata.execute("SELECT last_accessed_at FROM artifacts WHERE type = 'log'")).rows[0]?.last_accessed_at;
    const deadline = Date.now() + 10_000;
    while ((await lastAccess()) === null && Date.now() < deadline) await Bun.sleep(200);
    expect(await lastAccess()).not.toBeNull();
  });

  test("/favicon.ico answers without a token, and not 401", async () => {
    const favicon = await rawRequest(url("/favicon.ico"));
    expect(favicon.status).toBe(204);
  });

  test("/cdn-cgi/handler/scheduled runs the retention sweep, which deletes what expired", async () => {
    const put = await send("/v1/artifacts/chat-app/1.1/diff", { method: "PUT", body: "--- a\n+++ b\n" });
    expect(put.status).toBe(201);
    const { expiresAt } = JSON.parse(new TextDecoder().decode(put.body));
    await Bun.sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 50);
    const trigger = await rawRequest(url("/cdn-cgi/handler/scheduled?cron=17+*+*+*+*"));
    expect(trigger.status).toBe(200);
    expect((await send("/v1/artifacts/chat-app/1.1/diff")).status).toBe(404);
    // wrangler passes the worker's console lines on through its own output a moment later.
    const sweepLogged = /"message":"retention sweep".*"deleted":1/;
    const deadline = Date.now() + 10_000;
    while (!sweepLogged.test(worker.output()) && Date.now() < deadline) await Bun.sleep(100);
    expect(worker.output()).toMatch(sweepLogged);
    // The log (kept 7 days) is still there.
    expect((await send("/v1/artifacts/chat-app/1.1/log", { method: "HEAD" })).status).toBe(200);
  });
});

describe("wrangler dev with wrangler.toml's placeholders left in", () => {
  test("the start-up output and every request name the settings to fix, without their values", async () => {
    // Only the secrets are set: the S3 endpoint and the tokens are still wrangler.toml's <placeholders>.
    const project = await projectDirectory(
      "placeholders",
      `ARTIFACT_STORE_S3__ACCESS_KEY_ID=${s3.accessKeyId}\nARTIFACT_STORE_S3__SECRET_ACCESS_KEY=${s3.secretAccessKey}\n`,
    );
    const misconfigured = await startWranglerDev(project);
    try {
      const response = await rawRequest(new URL("/v1/artifacts", misconfigured.url), { headers: auth });
      expect(response.status).toBe(500);
      const body = JSON.parse(new TextDecoder().decode(response.body));
      expect(body.error.code).toBe("E_CONFIG");
      expect(body.error.details.settings).toEqual([
        "ARTIFACT_STORE_METADATA__URL",
        "ARTIFACT_STORE_S3__ENDPOINT",
        "ARTIFACT_STORE_SERVER__TOKENS",
      ]);
      expect(body.error.message).toContain("ARTIFACT_STORE_S3__ENDPOINT");
      expect(body.error.message).not.toContain("ACCOUNT_ID");
      expect(body.error.message).not.toContain("r2.cloudflarestorage.com");
      // Said once at start-up, before any request.
      const startup = misconfigured
        .output()
        .split("\n")
        .find((line) => line.includes("misconfigured"));
      expect(startup).toContain("ARTIFACT_STORE_S3__ENDPOINT");
      expect(startup).not.toContain("<ACCOUNT_ID>");
    } finally {
      await misconfigured.stop();
    }
  });
});

/**
 * Redaction through HTTP: the API (plain and gzip PUT, Content-Digest of the bytes sent, 422
 * E_SECRET_DETECTED, search by has_secrets and secret_rule, /metrics by rule), the viewer
 * (findings listed, markers highlighted), live appends; and the Bun and Node servers as
 * started by the CLI, configured by environment variables. No answer, log line or metric
 * carries a secret.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "fflate";
import type { RedactionConfig } from "../../src/core/redaction/settings.ts";
import { DEFAULT_REDACTION } from "../../src/core/redaction/settings.ts";
import { createApp } from "../../src/http/app.ts";
import { createRandom, FAKE_SECRET_MAKERS, type FakeSecret } from "../helpers/fake-secrets.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeFsStore, makeTempDir, sha256Hex, type TestStore } from "../helpers/store.ts";

const random = createRandom(2026);
const fake = (rule: string): FakeSecret => (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
const github = fake("github-token");
const key = fake("private-key");
const jwt = fake("jwt");
const LOG = `build started\nexport GITHUB_TOKEN=${github.text}\ncurl -H "x-token: ${jwt.text}"\n${key.text}\nbuild done\n`;
const SECRETS = [github.secret, key.secret.split("\n")[1] as string, jwt.secret];

function expectClean(text: string) {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

let fixture: TestStore | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

async function makeApp(redaction: Partial<RedactionConfig> = {}) {
  fixture = await makeFsStore({ redaction: { ...DEFAULT_REDACTION, ...redaction } });
  return { app: createApp({ store: fixture.store }), store: fixture };
}

const base64Sha256 = async (bytes: Uint8Array | string) =>
  Buffer.from(await sha256Hex(bytes), "hex").toString("base64");

describe("redaction over the HTTP API", () => {
  test("PUT masks, answers with the findings, checks Content-Digest on the bytes sent; GET serves the masked text", async () => {
    const { app } = await makeApp();
    const put = await app.request("/v1/artifacts/ci/1/log", {
      method: "PUT",
      body: LOG,
      headers: { "Content-Digest": `sha-256=:${await base64Sha256(LOG)}:` },
    });
    expect(put.status).toBe(201);
    const answer = await put.text();
    expectClean(answer);
    const metadata = JSON.parse(answer);
    expect(metadata.secrets).toEqual({
      mode: "mask",
      findings: [
        { rule: "github-token", count: 1, lines: [2] },
        { rule: "jwt", count: 1, lines: [3] },
        { rule: "private-key", count: 1, lines: [4] },
      ],
    });
    const get = await app.request("/v1/artifacts/ci/1/log");
    const served = await get.text();
    expect(served).toBe(
      'build started\nexport GITHUB_TOKEN=[REDACTED:github-token]\ncurl -H "x-token: [REDACTED:jwt]"\n[REDACTED:private-key]\nbuild done\n',
    );
    expect(metadata.originalChecksum).toBe(await sha256Hex(served));
    const wrongDigest = await app.request("/v1/artifacts/ci/2/log", {
      method: "PUT",
      body: LOG,
      headers: { "Content-Digest": `sha-256=:${await base64Sha256(served)}:` },
    });
    expect(wrongDigest.status).toBe(422);
    expect((await wrongDigest.json()).error.code).toBe("E_CHECKSUM_MISMATCH");
  });

  test("a gzip body is masked too, and its Content-Digest covers the gzip bytes as sent", async () => {
    const { app } = await makeApp();
    const body = gzipSync(new TextEncoder().encode(LOG));
    const put = await app.request("/v1/artifacts/ci/gz/log", {
      method: "PUT",
      body,
      headers: { "Content-Encoding": "gzip", "Content-Digest": `sha-256=:${await base64Sha256(body)}:` },
    });
    expect(put.status).toBe(201);
    const served = await (await app.request("/v1/artifacts/ci/gz/log")).text();
    expectClean(served);
    expect(served).toContain("[REDACTED:private-key]");
  });

  test("reject answers 422 E_SECRET_DETECTED naming rule and line, never the value; nothing is stored", async () => {
    const { app, store } = await makeApp({ types: { diff: "reject" } });
    const put = await app.request("/v1/artifacts/ci/1/diff", { method: "PUT", body: `+ok\n+token ${github.text}\n` });
    expect(put.status).toBe(422);
    const text = await put.text();
    expectClean(text);
    expect(JSON.parse(text).error).toMatchObject({
      code: "E_SECRET_DETECTED",
      details: { rule: "github-token", line: 2 },
    });
    expect((await app.request("/v1/artifacts/ci/1/diff")).status).toBe(404);
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain('artifact_store_secrets_rejected_total{rule="github-token"} 1');
    expectClean(JSON.stringify(store.logs));
  });

  test("search finds versions with secrets, by rule; /metrics counts them by rule; no value anywhere", async () => {
    const { app, store } = await makeApp({ types: { test: "flag" } });
    await app.request("/v1/artifacts/ci/a/log", { method: "PUT", body: LOG });
    await app.request("/v1/artifacts/ci/b/test", { method: "PUT", body: JSON.stringify({ out: jwt.text }) });
    await app.request("/v1/artifacts/ci/c/log", { method: "PUT", body: "nothing to see\n" });
    const taskIds = async (query: string) =>
      (await (await app.request(`/v1/artifacts?${query}`)).json()).items.map((item: { taskId: string }) => item.taskId);
    expect((await taskIds("spec=ci&has_secrets=1")).sort()).toEqual(["a", "b"]);
    expect(await taskIds("spec=ci&has_secrets=0")).toEqual(["c"]);
    expect((await taskIds("spec=ci&secret_rule=jwt")).sort()).toEqual(["a", "b"]);
    expect(await taskIds("spec=ci&secret_rule=private-key")).toEqual(["a"]);
    const search = await (await app.request("/v1/artifacts?spec=ci")).text();
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toContain('artifact_store_secrets_found_total{rule="jwt"} 2');
    expect(metrics).toContain('artifact_store_secrets_found_total{rule="github-token"} 1');
    // A flagged version is served as sent (that is what flag means), but never echoed elsewhere.
    expectClean(search + metrics + JSON.stringify(store.logs));
  });

  test("the viewer lists the findings and highlights the markers", async () => {
    const { app } = await makeApp();
    await app.request("/v1/artifacts/ci/1/log", { method: "PUT", body: LOG });
    const page = await (await app.request("/ui/s/ci/1/log")).text();
    expectClean(page);
    expect(page).toContain("secrets masked");
    expect(page).toContain('href="#L2"');
    expect(page).toMatch(/<mark class="redacted"[^>]*>\[REDACTED:github-token\]<\/mark>/);
  });

  test("the diff viewer highlights the markers too", async () => {
    const { app } = await makeApp();
    const diff = `diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n@@ -1 +1,2 @@\n APP=demo\n+GITHUB_TOKEN=${github.text}\n`;
    expect((await app.request("/v1/artifacts/ci/1/diff", { method: "PUT", body: diff })).status).toBe(201);
    const page = await (await app.request("/ui/s/ci/1/diff")).text();
    expectClean(page);
    expect(page).toMatch(/<mark class="redacted"[^>]*>\[REDACTED:github-token\]<\/mark>/);
  });

  test("live appends are masked before a follower reads them", async () => {
    const { app } = await makeApp();
    const append = await app.request("/v1/artifacts/ci/1/log:append", {
      method: "POST",
      body: `step\n${github.text}\n`,
    });
    expect(append.status).toBeLessThan(300);
    const followed = await (await app.request("/v1/artifacts/ci/1/log:live")).text();
    expect(followed).toBe("step\n[REDACTED:github-token]\n");
  });

  test("reject refuses a live append holding a secret and keeps nothing of it", async () => {
    const { app } = await makeApp({ mode: "reject" });
    const append = await app.request("/v1/artifacts/ci/2/log:append", { method: "POST", body: `ok\n${github.text}\n` });
    expect(append.status).toBe(422);
    expectClean(await append.text());
    expect((await app.request("/v1/artifacts/ci/2/log:live")).status).toBe(404);
    expect(await (await app.request("/metrics")).text()).toContain(
      'artifact_store_secrets_rejected_total{rule="github-token"} 1',
    );
  });
});

describe("the Bun and Node servers mask with settings from the environment", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    dir = await makeTempDir("redaction-servers");
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await dir.cleanup();
  });

  for (const runtime of ["bun", "node"] as const) {
    test(`${runtime}: values_from_env and the rules; reject for one type`, async () => {
      const server = await startServerProcess({
        runtime,
        basePath: `${dir.path}/${runtime}`,
        env: {
          DEPLOY_KEY: "dk-server-side-value-0123",
          ARTIFACT_STORE_REDACTION__VALUES_FROM_ENV: '["DEPLOY_KEY"]',
          ARTIFACT_STORE_REDACTION__TYPES__DIFF: "reject",
        },
      });
      servers.push(server);
      const url = (path: string) => new URL(path, server.url);
      const put = await fetch(url("/v1/artifacts/ci/1/log"), {
        method: "PUT",
        body: `${LOG}deploy dk-server-side-value-0123\n`,
      });
      expect(put.status).toBe(201);
      const served = await (await fetch(url("/v1/artifacts/ci/1/log"))).text();
      expectClean(served);
      expect(served).not.toContain("dk-server-side-value-0123");
      expect(served).toContain("deploy [REDACTED:env:DEPLOY_KEY]");
      const refused = await fetch(url("/v1/artifacts/ci/1/diff"), { method: "PUT", body: `+${github.text}\n` });
      expect(refused.status).toBe(422);
      expectClean(await refused.text());
      expectClean(server.output());
      expect(server.output()).not.toContain("dk-server-side-value-0123");
    });
  }
});

/**
 * The Worker runs the same redaction: the deployed bundle on workerd (Miniflare), configured by
 * bindings (values from env are bindings there), blobs on S3 (fauxqs), metadata on sqld.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { gzipSync } from "fflate";
import { buildWorkerBundle } from "../../scripts/build-worker.ts";
import { createRandom, FAKE_SECRET_MAKERS, type FakeSecret } from "../helpers/fake-secrets.ts";
import { startS3Server } from "../helpers/s3-servers.ts";
import { startSqld } from "../helpers/sqld.ts";
import { makeTempDir, sha256Hex } from "../helpers/store.ts";
import { type RunningWorker, startWorker } from "../helpers/workerd.ts";

const directory = await makeTempDir("redaction-edge");
const bundle = await buildWorkerBundle({ outfile: join(directory.path, "worker.js") });
const sqld = await startSqld({ auth: true });
const s3 = await startS3Server("fauxqs");
await s3.createBucket("edge");

const TOKEN = "edge-redaction-token-0123456789";
const random = createRandom(19);
const fake = (rule: string): FakeSecret => (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
const slack = fake("slack-token");
const pem = fake("private-key");
const DEPLOY_KEY = "dk-edge-binding-value-0123";
const LOG = `start ✓ café\nSLACK=${slack.text}\n${pem.text}\nkey ${DEPLOY_KEY}\nend\n`;

const workers: RunningWorker[] = [];
async function start(extra: Record<string, unknown> = {}): Promise<RunningWorker> {
  const worker = await startWorker({
    scriptPath: bundle.outfile,
    bindings: {
      ARTIFACT_STORE_BACKEND_TYPE: "s3",
      ARTIFACT_STORE_S3__BUCKET: "edge",
      ARTIFACT_STORE_S3__PREFIX: `run-${crypto.randomUUID()}/`,
      ARTIFACT_STORE_S3__ENDPOINT: s3.endpoint,
      ARTIFACT_STORE_S3__FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      ARTIFACT_STORE_METADATA__URL: sqld.url,
      ARTIFACT_STORE_METADATA__AUTH_TOKEN: sqld.authToken,
      ARTIFACT_STORE_SERVER__TOKENS: JSON.stringify([
        { name: "ci", sha256: await sha256Hex(TOKEN), scopes: ["admin"] },
      ]),
      ARTIFACT_STORE_REDACTION__VALUES_FROM_ENV: '["DEPLOY_KEY"]',
      DEPLOY_KEY,
      ...extra,
    },
  });
  workers.push(worker);
  return worker;
}

afterAll(async () => {
  for (const worker of workers) await worker.dispose();
  await sqld.stop();
  await s3.dispose();
  await directory.cleanup();
});

const auth = { Authorization: `Bearer ${TOKEN}` };
const pemLine = pem.secret.split("\n")[1] as string;

describe("redaction on the Worker", () => {
  test("plain and gzip uploads are masked with the same rules; a value from a binding too", async () => {
    const worker = await start();
    const url = (path: string) => new URL(path, worker.url);
    for (const [task, init] of [
      ["plain", { body: LOG }],
      ["gzip", { body: gzipSync(new TextEncoder().encode(LOG)), headers: { "Content-Encoding": "gzip" } }],
    ] as const) {
      const put = await fetch(url(`/v1/artifacts/edge/${task}/log`), {
        method: "PUT",
        ...init,
        headers: { ...auth, ...("headers" in init ? init.headers : {}) },
      });
      expect(put.status).toBe(201);
      const metadata = await put.json();
      expect(metadata.secrets.findings.map((finding: { rule: string }) => finding.rule)).toEqual([
        "slack-token",
        "private-key",
        "env:DEPLOY_KEY",
      ]);
      const served = await (
        await fetch(url(`/v1/artifacts/edge/${task}/log`), { headers: { ...auth, "Accept-Encoding": "identity" } })
      ).text();
      expect(served).toBe(
        "start ✓ café\nSLACK=[REDACTED:slack-token]\n[REDACTED:private-key]\nkey [REDACTED:env:DEPLOY_KEY]\nend\n",
      );
    }
    expect(worker.logs.join("\n")).not.toContain(pemLine);
  });

  test("reject refuses with 422 naming the rule and line, never the value", async () => {
    const worker = await start({ ARTIFACT_STORE_REDACTION__MODE: "reject" });
    const put = await fetch(new URL("/v1/artifacts/edge/refused/log", worker.url), {
      method: "PUT",
      body: LOG,
      headers: auth,
    });
    expect(put.status).toBe(422);
    const text = await put.text();
    expect(JSON.parse(text).error).toMatchObject({
      code: "E_SECRET_DETECTED",
      details: { rule: "slack-token", line: 2 },
    });
    for (const secret of [slack.secret, pemLine, DEPLOY_KEY]) {
      expect(text).not.toContain(secret);
      expect(worker.logs.join("\n")).not.toContain(secret);
    }
  });
});

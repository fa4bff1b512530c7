/**
 * The Worker runs the same redaction: the deployed bundle on workerd (Miniflare), configured by
 * bindings (values from env are bindings there), blobs on S3 (fauxqs), metadata on sqld.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { gzipSync } from "fflate";
import { startEdge } from "../helpers/edge.ts";
import { createRandom, FAKE_SECRET_MAKERS, type FakeSecret } from "../helpers/fake-secrets.ts";
import { sha256Hex } from "../helpers/store.ts";
import type { RunningWorker } from "../helpers/workerd.ts";

const TOKEN = "edge-redaction-token-0123456789";
const random = createRandom(19);
const fake = (rule: string): FakeSecret => (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
const slack = fake("slack-token");
const pem = fake("private-key");
const DEPLOY_KEY = "dk-edge-binding-value-0123";
const LOG = `start ✓ café\nSLACK=${slack.text}\n${pem.text}\nkey ${DEPLOY_KEY}\nend\n`;

const edge = await startEdge("redaction-edge", [{ name: "ci", sha256: await sha256Hex(TOKEN), scopes: ["admin"] }]);
/** A Worker that also masks the value of its DEPLOY_KEY binding. */
const start = (extra: Record<string, unknown> = {}): Promise<RunningWorker> =>
  edge.start({ ARTIFACT_STORE_REDACTION__VALUES_FROM_ENV: '["DEPLOY_KEY"]', DEPLOY_KEY, ...extra });

afterAll(() => edge.dispose());

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

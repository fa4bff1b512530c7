/**
 * Redaction as a stage of every upload path: streamed and in-memory uploads, client gzip
 * (secrets split across gzip members and blocks), live-log appends and their seal; on the fs
 * backend and on S3 (fauxqs) through `openArtifactStore`; findings in metadata and search;
 * checksums; and no secret value through any side door (errors, logs, findings, metrics).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { DEFAULT_REDACTION, type RedactionConfig } from "../../src/core/redaction/settings.ts";
import type { ArtifactStore } from "../../src/core/store.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { openArtifactStore } from "../../src/runtime/local.ts";
import {
  createRandom,
  FAKE_SECRET_MAKERS,
  type FakeSecret,
  FIXED_SHAPE_RULES,
  logLine,
  plant,
} from "../helpers/fake-secrets.ts";
import { type S3TestServer, startS3Server } from "../helpers/s3-servers.ts";
import { freshStorePerTest, makeTempDir, sha256Hex } from "../helpers/store.ts";

const redaction = (change: Partial<RedactionConfig> = {}): RedactionConfig => ({ ...DEFAULT_REDACTION, ...change });

/** A log of `lines` lines with one secret of every fixed-shape rule planted every 50 lines. */
function plantedLog(seed: number, lines: number) {
  const random = createRandom(seed);
  const planted: FakeSecret[] = [];
  const out: string[] = [];
  for (let index = 0; out.length < lines; index++) {
    if (index % 50 === 25) {
      const rule = FIXED_SHAPE_RULES[planted.length % FIXED_SHAPE_RULES.length] as string;
      const secret = (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
      planted.push(secret);
      out.push(plant(random, secret));
    } else out.push(logLine(random));
  }
  return { text: `${out.join("\n")}\n`, planted };
}

/** The error an upload fails with (a stored upload fails the test). */
async function failure(upload: Promise<unknown>): Promise<{ code?: string; message?: string; details?: unknown }> {
  try {
    await upload;
  } catch (error) {
    return error as { code?: string; message?: string; details?: unknown };
  }
  throw new Error("the upload was stored; expected it to fail");
}

function streamOf(bytes: Uint8Array, chunk = 65536): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

function expectNoSecrets(text: string, planted: FakeSecret[]) {
  const leaked = planted.filter((secret) => text.includes(secret.secret) || text.includes(secret.secret.slice(0, 24)));
  expect(leaked.map((secret) => secret.rule)).toEqual([]);
}

function countsOf(findings: { rule: string; count: number }[] | undefined) {
  return Object.fromEntries((findings ?? []).map((finding) => [finding.rule, finding.count]));
}

function expectedCounts(planted: FakeSecret[]) {
  const counts: Record<string, number> = {};
  for (const secret of planted) counts[secret.rule] = (counts[secret.rule] ?? 0) + 1;
  return counts;
}

/** The checks every backend must pass: the same store behaviour on fs and S3. */
function describeRedactedUploads(name: string, open: (config: RedactionConfig) => Promise<ArtifactStore>) {
  describe(`redaction on upload (${name})`, () => {
    test("a streamed log: secrets masked in what readers get, findings recorded, checksums honest", async () => {
      const store = await open(redaction());
      const { text, planted } = plantedLog(1, 30_000); // ~2 MiB: the streamed path, many 64 KiB chunks
      const sent = new TextEncoder().encode(text);
      const result = await store.upload({
        specName: "ci",
        taskId: "stream",
        type: "log",
        content: streamOf(sent),
        expectedChecksum: await sha256Hex(sent),
      });
      const stored = await store.downloadText(result.uri);
      expectNoSecrets(stored, planted);
      expect(stored).toContain("[REDACTED:github-token]");
      expect(result.secrets?.mode).toBe("mask");
      expect(countsOf(result.secrets?.findings)).toEqual(expectedCounts(planted));
      // originalChecksum describes the content as stored and served (after masking).
      expect(result.originalChecksum).toBe(await sha256Hex(stored));
      expect(result.originalSize).toBe(new TextEncoder().encode(stored).length);
      expect(JSON.stringify(result)).not.toContain(planted[0]?.secret ?? "-");
    });

    test("a client checksum is checked on the bytes it sent, before masking", async () => {
      const store = await open(redaction());
      const { text } = plantedLog(2, 3000);
      const error = await failure(
        store.upload({
          specName: "ci",
          taskId: "digest",
          type: "log",
          content: text,
          expectedChecksum: "0".repeat(64),
        }),
      );
      expect(error.code).toBe("E_CHECKSUM_MISMATCH");
      expect(await store.search({ specName: "ci", taskId: "digest" })).toEqual([]);
    });

    test("a small upload in memory is masked the same way", async () => {
      const store = await open(redaction());
      const random = createRandom(3);
      const secret = (FAKE_SECRET_MAKERS["aws-access-key-id"] as (r: typeof random) => FakeSecret)(random);
      const result = await store.upload({
        specName: "ci",
        taskId: "small",
        type: "diff",
        content: `+AWS_ACCESS_KEY_ID=${secret.text}\n`,
        expectedChecksum: await sha256Hex(`+AWS_ACCESS_KEY_ID=${secret.text}\n`),
      });
      expect(await store.downloadText(result.uri)).toBe("+AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key-id]\n");
      expect(result.secrets).toEqual({ mode: "mask", findings: [{ rule: "aws-access-key-id", count: 1, lines: [1] }] });
    });

    test("a gzip body: secrets split across gzip members and deflate blocks are masked", async () => {
      const store = await open(redaction());
      const { text, planted } = plantedLog(4, 20_000);
      const bytes = new TextEncoder().encode(text);
      // Cut the body into gzip members at places that fall inside secrets.
      const cuts = planted.filter((_, index) => index % 5 === 0).map((secret) => text.indexOf(secret.text) + 7);
      const members: Uint8Array[] = [];
      let from = 0;
      for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
        members.push(gzipSync(bytes.subarray(from, cut), { level: 1 }));
        from = cut;
      }
      const body = new Uint8Array(members.reduce((sum, member) => sum + member.length, 0));
      let offset = 0;
      for (const member of members) {
        body.set(member, offset);
        offset += member.length;
      }
      const result = await store.upload({
        specName: "ci",
        taskId: "gzip",
        type: "log",
        content: streamOf(body, 4096),
        contentEncoding: "gzip",
        expectedChecksum: await sha256Hex(bytes),
        expectedEncodedChecksum: await sha256Hex(body),
      });
      const stored = await store.downloadText(result.uri);
      expectNoSecrets(stored, planted);
      expect(countsOf(result.secrets?.findings)).toEqual(expectedCounts(planted));
      const opened = await store.open(result.uri, { acceptEncoding: "gzip" });
      expect(opened.contentEncoding).toBe("gzip");
      const served = new TextDecoder().decode(
        gunzipSync(new Uint8Array(await new Response(opened.body).arrayBuffer())),
      );
      expect(served).toBe(stored);
    });

    test("flag stores the content as sent and records the findings; search finds them by rule", async () => {
      const store = await open(redaction({ types: { test: "flag" } }));
      const random = createRandom(5);
      const secret = (FAKE_SECRET_MAKERS.jwt as (r: typeof random) => FakeSecret)(random);
      const content = JSON.stringify({ tests: [{ name: "login", output: `token ${secret.text}` }] });
      const result = await store.upload({ specName: "ci", taskId: "flag", type: "test", content });
      expect(await store.downloadText(result.uri)).toBe(content);
      expect(result.originalChecksum).toBe(await sha256Hex(content));
      expect(result.secrets).toEqual({ mode: "flag", findings: [{ rule: "jwt", count: 1, lines: [1] }] });
      await store.upload({ specName: "ci", taskId: "clean", type: "log", content: "all good\n" });
      const flagged = await store.search({ specName: "ci", hasSecrets: true });
      expect(flagged.map((item: { taskId: string }) => item.taskId)).toEqual(["flag"]);
      expect(
        (await store.search({ specName: "ci", secretRule: "jwt" })).map((item: { taskId: string }) => item.taskId),
      ).toEqual(["flag"]);
      expect(await store.search({ specName: "ci", secretRule: "npm-token" })).toEqual([]);
      const clean = await store.search({ specName: "ci", hasSecrets: false });
      expect(clean.map((item: { taskId: string }) => item.taskId)).toEqual(["clean"]);
      expect(JSON.stringify(flagged)).not.toContain(secret.secret);
    });

    test("reject refuses the upload naming rule and line, never the value, and stores nothing", async () => {
      const store = await open(redaction({ mode: "reject" }));
      const { text, planted } = plantedLog(6, 5000);
      const gzipped = gzipSync(new TextEncoder().encode(text));
      for (const [content, encoding] of [
        [text, "identity"],
        [streamOf(new TextEncoder().encode(text), 1000), "identity"],
        [streamOf(gzipped, 1000), "gzip"],
      ] as const) {
        const error = await failure(
          store.upload({ specName: "ci", taskId: "reject", type: "log", content, contentEncoding: encoding }),
        );
        expect(error.code).toBe("E_SECRET_DETECTED");
        expect(error.message).toContain(`rule ${planted[0]?.rule}`);
        expect(error.message).toContain("line 26");
        expectNoSecrets(JSON.stringify({ message: error.message, details: error.details }), planted);
      }
      expect(await store.search({ specName: "ci" })).toEqual([]);
    });

    test("live appends are masked before followers read them; the seal keeps the findings", async () => {
      const store = await open(redaction());
      const random = createRandom(7);
      const secret = (FAKE_SECRET_MAKERS["slack-token"] as (r: typeof random) => FakeSecret)(random);
      const chunk = `step 1\nexport SLACK_TOKEN=${secret.text}\n`;
      const appended = await store.appendLog({ specName: "ci", taskId: "live", content: chunk });
      // A retry of the same bytes is recognised although the kept bytes differ from those sent.
      expect((await store.appendLog({ specName: "ci", taskId: "live", content: chunk, seq: 1 })).duplicate).toBe(true);
      expect(appended.checksum).not.toBe(await sha256Hex(chunk));
      const live = await store.readLiveLog({ specName: "ci", taskId: "live" });
      const followed = await new Response(live?.body).text();
      expect(followed).toBe("step 1\nexport SLACK_TOKEN=[REDACTED:slack-token]\n");
      await store.appendLog({ specName: "ci", taskId: "live", content: "done\n" });
      const sealed = await store.sealLog({ specName: "ci", taskId: "live" });
      expect(await store.downloadText(sealed.uri)).toBe(`${followed}done\n`);
      expect(sealed.secrets).toEqual({ mode: "mask", findings: [{ rule: "slack-token", count: 1, lines: [2] }] });
    });
  });
}

const openFs = freshStorePerTest();
describeRedactedUploads("fs", async (config) => (await openFs({ redaction: config })).store);

describe("side doors (fs)", () => {
  test("logs, errors, findings and metrics carry no secret value", async () => {
    const fixture = await openFs({ redaction: redaction({ types: { diff: "reject" } }) });
    const { text, planted } = plantedLog(8, 4000);
    await fixture.store.upload({ specName: "ci", taskId: "a", type: "log", content: text });
    await fixture.store.upload({ specName: "ci", taskId: "a", type: "diff", content: text }).catch(() => {});
    await fixture.store
      .upload({ specName: "ci", taskId: "b", type: "log", content: text, expectedChecksum: "f".repeat(64) })
      .catch(() => {});
    const found = await fixture.store.search({ specName: "ci" });
    const everything = JSON.stringify({
      logs: fixture.logs,
      found,
      stats: await fixture.store.stats(),
      metrics: fixture.store.metrics(),
    });
    expectNoSecrets(everything, planted);
    expect(fixture.store.metrics().secretsFound).toMatchObject({ "github-token": expect.any(Number) });
  });
});

describe("reindex (fs)", () => {
  test("the findings come back from the sidecar when the database is rebuilt", async () => {
    const fixture = await openFs({ redaction: redaction() });
    const { text } = plantedLog(9, 600);
    const uploaded = await fixture.store.upload({ specName: "ci", taskId: "re", type: "log", content: text });
    await fixture.store.close();
    const databasePath = join(fixture.root, ".store", "metadata.db");
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${databasePath}${suffix}`, { force: true });
    const store = createArtifactStore({
      backend: fixture.backend,
      metadata: await openLocalMetadata({ url: databasePath }),
    });
    await store.reindex();
    const [restored] = await store.search({ specName: "ci", secretRule: "aws-access-key-id" });
    expect(restored?.secrets).toEqual(uploaded.secrets);
    await store.close();
  });
});

describe("on S3 through openArtifactStore (fauxqs)", () => {
  let server: S3TestServer;
  let dir: { path: string; cleanup(): Promise<void> };
  const opened: ArtifactStore[] = [];
  beforeAll(async () => {
    server = await startS3Server("fauxqs");
    dir = await makeTempDir("redaction-s3");
  });
  afterAll(async () => {
    for (const store of opened) await store.close().catch(() => {});
    await server.dispose();
    await dir.cleanup();
  });
  let bucket = 0;
  describeRedactedUploads("s3", async (config) => {
    const name = `redaction-${++bucket}`;
    await server.createBucket(name);
    const store = await openArtifactStore({
      path: null,
      env: { ...server.storeEnv(name), DEPLOY_KEY: "dk-value-from-env-0123" },
      overrides: {
        base_path: `${dir.path}/${name}`,
        redaction: {
          mode: config.mode,
          types: config.types,
          values_from_env: ["DEPLOY_KEY"],
        },
      },
    });
    opened.push(store);
    return store;
  });

  test("values from env and the store's own S3 secret key are masked by value", async () => {
    const name = "redaction-values";
    await server.createBucket(name);
    const store = await openArtifactStore({
      path: null,
      env: { ...server.storeEnv(name), DEPLOY_KEY: "dk-value-from-env-0123" },
      overrides: { base_path: `${dir.path}/${name}`, redaction: { values_from_env: ["DEPLOY_KEY"] } },
    });
    opened.push(store);
    const content = `deploying with dk-value-from-env-0123 to ${server.endpoint} as ${server.secretAccessKey}\n`;
    const result = await store.upload({ specName: "ci", taskId: "values", type: "log", content });
    const stored = await store.downloadText(result.uri);
    expect(stored).not.toContain("dk-value-from-env-0123");
    expect(stored).toContain("[REDACTED:env:DEPLOY_KEY]");
    if (server.secretAccessKey.length >= 8) {
      expect(stored).not.toContain(server.secretAccessKey);
      expect(stored).toContain("[REDACTED:store-credential]");
    }
  });
});

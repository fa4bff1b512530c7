/**
 * The conformance suite: what a user of the library and of the HTTP API sees, written once and
 * run unchanged on Bun, Node (against `dist/`), Deno and workerd. No test framework here: each
 * case is a plain async function that throws on failure; every runtime has a small runner that
 * turns the list into its own tests (`bun.test.ts`, `node-runner.mjs`, `deno-runner.ts`,
 * `worker-runner.ts`).
 *
 * The library is reached only through `context.library` and the combination's store, so this
 * file imports nothing of it at run time (types only) and Node can run it against the build.
 */
import { Gunzip, gunzipSync, gzipSync } from "fflate";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import type { ArtifactMetadata } from "../../src/contracts/types.ts";
import type { StoreSettings } from "../../src/core/settings.ts";
import type { ArtifactStore } from "../../src/core/store.ts";
import { makeLog, randomBytes } from "../helpers/content.ts";
import {
  assert,
  assertBytesEqual,
  assertEqual,
  assertRejects,
  assertRejectsWithCode,
  describeError,
} from "./assert.ts";
import { type ConformanceCase, dropAllTables, type OpenedStore, type StoreCombination } from "./context.ts";

const DAY = 86_400_000;

export const cases: ConformanceCase[] = [
  {
    name: "text round-trips through the object and positional forms, with checksums and a URI naming the backend",
    scope: "combination",
    async run(_context, combination) {
      await withStore(combination, { versioningEnabled: true }, async ({ store, backend }) => {
        const log = makeLog(3000);
        const result = await store.upload({
          specName: "chat-app",
          taskId: "1.1",
          type: "log",
          content: log,
          tags: ["ci", "nightly"],
          metadata: { runner: "gha-7" },
        });
        assertEqual(result.version, 1, "first version");
        assertEqual(result.originalSize, new TextEncoder().encode(log).length, "original size");
        assertEqual(result.originalChecksum, await sha256Hex(log), "original checksum");
        assertEqual(result.compressed, true, "stored compressed");
        assert(
          result.size < result.originalSize,
          `gzip should shrink a log (${result.size} >= ${result.originalSize})`,
        );
        // Versioning on: an upload's metadata names its own version; the seed path names the current one.
        assertEqual(result.uri, `${backend.uriFor("chat-app/1.1/log.txt.gz")}?version=1`, "URI (the version's form)");
        assertEqual(result.tags, ["ci", "nightly"], "tags");
        assertEqual(result.metadata, { runner: "gha-7" }, "metadata");
        assertEqual(await store.downloadText(result.uri), log, "download by URI");
        assertEqual(
          await store.downloadText(backend.uriFor("chat-app/1.1/log.txt.gz")),
          log,
          "download by the seed path's URI (the current version)",
        );

        const uri = await store.upload("1.2", "chat-app", "diff", "--- a\n+++ b\n");
        assertEqual(uri, backend.uriFor("chat-app/1.2/diff.txt.gz"), "positional upload returns the URI");
        assertEqual(
          await store.downloadText({ specName: "chat-app", taskId: "1.2", type: "diff" }),
          "--- a\n+++ b\n",
          "download by ref",
        );
        const stored = await backend.get("chat-app/1.1/log.txt.gz");
        assert(stored, "the blob is where DESIGN.md puts it");
        const gz = await readAll(stored.body);
        assertEqual(await sha256Hex(gz), result.checksum, "checksum describes the stored gzip");
        assertEqual(new TextDecoder().decode(gunzipSync(gz)), log, "the stored blob is plain gzip");
        const taskFile = await backend.get("chat-app/1.1/metadata.json");
        assert(taskFile, "the task's metadata.json is stored next to the blob");
        const described = JSON.parse(new TextDecoder().decode(await readAll(taskFile.body)));
        assertEqual(described.artifacts[0]?.version, 1, "metadata.json lists the version");
        assertEqual(described.artifacts[0]?.original_checksum, result.originalChecksum, "with the seed's field names");
      });
    },
  },

  {
    name: "a 9 MiB binary artifact streams up and down with matching SHA-256",
    scope: "combination",
    async run(_context, combination) {
      await withStore(combination, {}, async ({ store }) => {
        const content = randomBytes(9 * 1024 * 1024);
        const checksum = await sha256Hex(content);
        const result = await store.upload({
          specName: "big",
          taskId: "t",
          type: "log",
          content: streamOf(content, 1024 * 1024),
          expectedChecksum: checksum,
        });
        assertEqual(result.originalChecksum, checksum, "original checksum");
        const opened = await store.open(result.uri);
        assertEqual(opened.verified, true, "download verified while streaming");
        const received = await readAll(opened.body);
        assertBytesEqual(received, content, "downloaded bytes");
      });
    },
  },

  {
    name: "a wrong expected checksum stores nothing; a flipped byte in the stored blob fails the download and flags the version corrupt",
    scope: "combination",
    async run(_context, combination) {
      await withStore(combination, {}, async ({ store, backend }) => {
        await assertRejectsWithCode(
          store.upload({ specName: "s", taskId: "t", type: "log", content: "x", expectedChecksum: "0".repeat(64) }),
          "E_CHECKSUM_MISMATCH",
          "upload with a wrong expected checksum",
        );
        assertEqual(await store.search({}), [], "nothing stored after a checksum mismatch");

        const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: makeLog(20_000) });
        const key = blobKeyOf(store, result);
        await flipByte(backend, key);
        await assertRejectsWithCode(store.download(result.uri), "E_CORRUPT", "download of a damaged blob");
        assertEqual((await store.stat(result.uri))?.integrity, "corrupt", "integrity after the failed download");
        await assertRejectsWithCode(
          store.download(result.uri, { verifyChecksum: false }),
          "E_CORRUPT",
          "a corrupt version is refused even without verification",
        );
      });
    },
  },

  {
    name: "search filters by spec, task, type, tags and time, newest first, and pages with a cursor",
    scope: "combination",
    async run(_context, combination) {
      const clock = { now: Date.parse("2026-11-01T00:00:00Z") };
      await withStore(
        combination,
        { versioningEnabled: true },
        async ({ store }) => {
          for (let index = 0; index < 5; index++) {
            await store.upload({
              specName: "alpha",
              taskId: `t${index}`,
              type: index % 2 === 0 ? "log" : "diff",
              content: `artifact ${index}`,
              tags: index < 3 ? ["early"] : ["late"],
            });
            clock.now += DAY;
          }
          await store.upload({ specName: "beta", taskId: "t0", type: "log", content: "other spec" });

          const alpha = await store.search({ specName: "alpha" });
          assertEqual(
            alpha.map((item) => item.taskId),
            ["t4", "t3", "t2", "t1", "t0"],
            "spec filter, newest first",
          );
          assertEqual(
            (await store.search({ specName: "alpha", type: "log" })).map((item) => item.taskId),
            ["t4", "t2", "t0"],
            "type filter",
          );
          assertEqual(
            (await store.search({ tags: ["late"] })).map((item) => item.taskId),
            ["t4", "t3"],
            "tag filter",
          );
          assertEqual(
            (await store.search({ specName: "alpha", since: "2026-11-03T00:00:00Z" })).map((item) => item.taskId),
            ["t4", "t3", "t2"],
            "since filter",
          );
          assertEqual((await store.search({ taskId: "t0" })).length, 2, "task filter spans specs");

          const first = await store.searchPage({ specName: "alpha", limit: 2 });
          assertEqual(
            first.items.map((item) => item.taskId),
            ["t4", "t3"],
            "first page",
          );
          assert(first.nextCursor, "a cursor for the next page");
          const second = await store.searchPage({ specName: "alpha", limit: 2, cursor: first.nextCursor });
          const third = await store.searchPage({ specName: "alpha", limit: 2, cursor: second.nextCursor ?? "" });
          assertEqual(
            [...second.items, ...third.items].map((item) => item.taskId),
            ["t2", "t1", "t0"],
            "later pages",
          );
          assertEqual(third.nextCursor, null, "no cursor after the last page");
        },
        clock,
      );
    },
  },

  {
    name: "delete removes one version or every version with its blob and metadata.json entry; deleting again is harmless",
    scope: "combination",
    async run(_context, combination) {
      await withStore(combination, { versioningEnabled: true }, async ({ store, backend }) => {
        const versions: ArtifactMetadata[] = [];
        for (const content of ["one", "two", "three"]) {
          versions.push(await store.upload({ specName: "s", taskId: "t", type: "log", content }));
        }
        const [first, second] = versions as [ArtifactMetadata, ArtifactMetadata, ArtifactMetadata];
        assertEqual(await store.delete(second.uri), 1, "deleting one version");
        assertEqual(await backend.head("s/t/versions/v2/log.txt.gz"), null, "its blob is gone");
        assertEqual(await store.downloadText(first.uri), "one", "other versions stay");
        assertEqual(await store.delete(second.uri), 0, "deleting it again");
        assertEqual(await store.delete({ specName: "s", taskId: "t", type: "log" }), 2, "deleting every version");
        assertEqual(await store.search({}), [], "nothing left to find");
        assertEqual((await backend.list()).objects, [], "nothing left in the backend");
        await assertRejectsWithCode(store.download(first.uri), "E_NOT_FOUND", "download after delete");
        assertEqual((await store.stats()).quota.usedBytes, 0, "quota usage after delete");
      });
    },
  },

  {
    name: "the retention sweep deletes expired, unpinned versions by the injected clock; a dry run lists them with reasons",
    scope: "combination",
    async run(_context, combination) {
      const clock = { now: Date.parse("2026-11-01T00:00:00Z") };
      await withStore(
        combination,
        { versioningEnabled: true },
        async ({ store, backend }) => {
          const log = await store.upload({ specName: "s", taskId: "t", type: "log", content: "old log" });
          const pinned = await store.upload({ specName: "s", taskId: "p", type: "log", content: "pinned log" });
          await store.upload({ specName: "s", taskId: "t", type: "diff", content: "diff kept 30 days" });
          assertEqual(log.expiresAt, new Date(clock.now + 7 * DAY).toISOString(), "logs expire after 7 days");
          assertEqual(
            (await store.update(pinned.uri, { pinned: true })).expiresAt,
            null,
            "pinned versions never expire",
          );

          clock.now += 8 * DAY;
          const dryRun = await store.cleanup({ dryRun: true });
          assertEqual(dryRun.deleted, 0, "a dry run deletes nothing");
          assertEqual(
            dryRun.candidates.map((candidate) => candidate.uri),
            [log.uri],
            "the dry run lists the expired log",
          );
          assertEqual(dryRun.candidates[0]?.rule, "retention_policy.log", "the rule that made it expire");
          assert(
            dryRun.candidates[0]?.reason.includes("retention_policy.log (current config) keeps log artifacts 7 days"),
            `the reason names the current policy's rule (${dryRun.candidates[0]?.reason})`,
          );
          assert(await store.stat(log.uri), "still there after the dry run");

          assertEqual(await store.cleanupExpired(), 1, "versions deleted by the sweep");
          assertEqual(await store.stat(log.uri), null, "the expired log is gone");
          assertEqual(await backend.head(blobKeyOf(store, log)), null, "with its blob");
          assertEqual(await store.downloadText(pinned.uri), "pinned log", "the pinned log stays");
          assertEqual(
            (await store.search({})).map((item) => item.type).sort(),
            ["diff", "log"],
            "the diff and the pinned log are left",
          );
          assertEqual(await store.cleanupExpired(), 0, "a second sweep finds nothing");
        },
        clock,
      );
    },
  },

  {
    name: "quota: uploads above the warning threshold carry a warning; one that would exceed it stores nothing",
    scope: "combination",
    async run(_context, combination) {
      const settings = { compressionEnabled: false, storageQuota: { maxBytes: 10_000, warnThreshold: 0.5 } };
      await withStore(combination, settings, async ({ store, backend }) => {
        const small = await store.upload({ specName: "q", taskId: "a", type: "log", content: new Uint8Array(1000) });
        assertEqual(small.warnings, [], "no warning below the threshold");
        assertEqual(small.uri, backend.uriFor("q/a/log.txt"), "uncompressed blobs have no .gz");
        const big = await store.upload({ specName: "q", taskId: "b", type: "log", content: new Uint8Array(5000) });
        assert(big.warnings[0]?.includes("60.0% used"), `a warning above the threshold (${big.warnings})`);
        await assertRejectsWithCode(
          store.upload({ specName: "q", taskId: "c", type: "log", content: new Uint8Array(5000) }),
          "E_QUOTA_EXCEEDED",
          "an upload past the quota",
        );
        assertEqual((await backend.list({ prefix: "q/c/" })).objects, [], "nothing stored for the refused upload");
        const stats = await store.stats();
        assertEqual(stats.quota.usedBytes, 6000, "used bytes");
        assertEqual(stats.quota.maxBytes, 10_000, "quota");
        assert(stats.quota.warning?.includes("60.0%"), `stats carry the warning (${stats.quota.warning})`);
        await store.upload({ specName: "q", taskId: "d", type: "log", content: new Uint8Array(4000) });
        assertEqual((await store.quota()).usedBytes, 10_000, "what still fits, fits");
      });
    },
  },

  {
    name: "versioning: on keeps every version readable; off replaces the previous version once the new one commits",
    scope: "combination",
    async run(_context, combination) {
      await withStore(combination, { versioningEnabled: true }, async ({ store }) => {
        for (const content of ["a", "b", "c"]) await store.upload({ specName: "s", taskId: "t", type: "log", content });
        assertEqual(
          (await store.search({ type: "log" })).map((item) => item.version),
          [3, 2, 1],
          "versions count up",
        );
        assertEqual(
          await store.downloadText({ specName: "s", taskId: "t", type: "log", version: 2 }),
          "b",
          "an older version stays readable",
        );
        assertEqual(await store.downloadText({ specName: "s", taskId: "t", type: "log" }), "c", "latest");
      });
      await withStore(combination, { versioningEnabled: false }, async ({ store, backend }) => {
        const first = await store.upload({ specName: "s", taskId: "t", type: "log", content: "first" });
        const second = await store.upload({ specName: "s", taskId: "t", type: "log", content: "second" });
        assertEqual(second.version, 2, "the new version number");
        assertEqual(second.uri, first.uri, "the seed's URI names the artifact, not the version");
        assertEqual(await store.downloadText(first.uri), "second", "the first URI gives the new version");
        assertEqual(
          await store.stat({ specName: "s", taskId: "t", type: "log", version: 1 }),
          null,
          "the previous version is gone",
        );
        assertEqual(
          (await backend.list({ prefix: "s/" })).objects.map((object) => object.key).sort(),
          ["s/t/log.txt.gz", "s/t/metadata.json"],
          "only the new version's objects remain",
        );
        assertEqual(await store.downloadText({ specName: "s", taskId: "t", type: "log" }), "second", "latest");
      });
    },
  },

  {
    name: "HTTP: PUT stores a streamed body (tags, metadata, Content-Digest); GET gives it back with ETag and Repr-Digest",
    scope: "combination",
    async run(context, combination) {
      await withStore(combination, { versioningEnabled: true }, async ({ store }) => {
        const app = context.library.createApp({ store });
        const log = makeLog(2000);
        const put = await app.request("/v1/artifacts/chat-app/1.1/log", {
          method: "PUT",
          // Bytes, not a string: a string body gets a runtime-chosen Content-Type (Node's
          // `text/plain;charset=UTF-8`), which the store would keep as the MIME type.
          body: new TextEncoder().encode(log),
          headers: {
            "X-Artifact-Tags": "ci,pr-42",
            "X-Artifact-Metadata": '{"runner":"gha-7"}',
            "Content-Digest": `sha-256=:${await sha256Base64(log)}:`,
          },
        });
        assertEqual(put.status, 201, `PUT status (${await bodyText(put)})`);
        const stored = (await put.json()) as ArtifactMetadata;
        assertEqual(stored.tags, ["ci", "pr-42"], "tags from the header");
        assertEqual(stored.metadata, { runner: "gha-7" }, "metadata from the header");
        assertEqual(put.headers.get("location"), "/v1/artifacts/chat-app/1.1/log?version=1", "Location");

        const get = await app.request("/v1/artifacts/chat-app/1.1/log");
        assertEqual(get.status, 200, "GET status");
        assertEqual(await get.text(), log, "GET body");
        assertEqual(get.headers.get("etag"), `"${stored.originalChecksum}"`, "ETag");
        assertEqual(get.headers.get("repr-digest"), `sha-256=:${await sha256Base64(log)}:`, "Repr-Digest");
        assertEqual(get.headers.get("content-type"), "text/plain; charset=utf-8", "Content-Type");
        const notModified = await app.request("/v1/artifacts/chat-app/1.1/log", {
          headers: { "If-None-Match": `"${stored.originalChecksum}"` },
        });
        assertEqual(notModified.status, 304, "If-None-Match with the ETag");

        const wrongDigest = await app.request("/v1/artifacts/chat-app/1.1/log", {
          method: "PUT",
          body: "other",
          headers: { "Content-Digest": `sha-256=:${await sha256Base64("something else")}:` },
        });
        assertEqual(wrongDigest.status, 422, "a body that does not match its Content-Digest");
        assertEqual(await errorCode(wrongDigest), "E_CHECKSUM_MISMATCH", "its error code");

        const search = await app.request("/v1/artifacts?spec=chat-app&tag=ci");
        const page = (await search.json()) as { items: ArtifactMetadata[] };
        assertEqual(
          page.items.map((item) => item.version),
          [1],
          "search over HTTP",
        );
        const deleted = await app.request("/v1/artifacts/chat-app/1.1/log?version=1", { method: "DELETE" });
        assertEqual(deleted.status, 200, "DELETE status");
        assertEqual((await app.request("/v1/artifacts/chat-app/1.1/log")).status, 404, "GET after DELETE");
        assertEqual((await app.request("/v1/artifacts/..%2Fetc/1/log")).status, 400, "a bad spec name");
      });
    },
  },

  {
    name: "HTTP: stored gzip passes through to clients that accept it; a gzip body (even multi-member) is stored as one member",
    scope: "combination",
    async run(context, combination) {
      await withStore(combination, {}, async ({ store }) => {
        const app = context.library.createApp({ store });
        const log = makeLog(2000);
        const stored = (await (
          await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: log })
        ).json()) as ArtifactMetadata;
        const passthrough = await app.request("/v1/artifacts/s/t/log", {
          headers: { "Accept-Encoding": "br, gzip;q=0.8" },
        });
        assertEqual(passthrough.headers.get("content-encoding"), "gzip", "Content-Encoding");
        assertEqual(passthrough.headers.get("vary"), "Accept-Encoding", "Vary");
        const gz = new Uint8Array(await passthrough.arrayBuffer());
        assertEqual(gz.length, stored.size, "the stored bytes are sent as they are");
        assertEqual(new TextDecoder().decode(gunzipSync(gz)), log, "they gunzip to the content");
        assertEqual(passthrough.headers.get("etag"), `"${stored.checksum}"`, "ETag of the gzip bytes");
        const identity = await app.request("/v1/artifacts/s/t/log", {
          headers: { "Accept-Encoding": "gzip;q=0, identity" },
        });
        assertEqual(identity.headers.get("content-encoding"), null, "no gzip when refused");
        assertEqual(await identity.text(), log, "decoded content");

        const encoder = new TextEncoder();
        const twoMembers = concat([gzipSync(encoder.encode("first member\n")), gzipSync(encoder.encode("second\n"))]);
        const put = await app.request("/v1/artifacts/s/gz/log", {
          method: "PUT",
          body: twoMembers,
          headers: { "Content-Encoding": "gzip" },
        });
        assertEqual(put.status, 201, `gzip PUT status (${await bodyText(put)})`);
        const gzStored = (await put.json()) as ArtifactMetadata;
        assertEqual(gzStored.originalSize, "first member\nsecond\n".length, "original size of a gzip body");
        const blob = await store.backend.get(blobKeyOf(store, gzStored));
        assert(blob, "the gzip body's blob");
        assertEqual(countGzipMembers(await readAll(blob.body)), 1, "stored as a single gzip member");
        assertEqual(await store.downloadText(gzStored.uri), "first member\nsecond\n", "decoded content");

        const bomb = await app.request("/v1/artifacts/s/bad/log", {
          method: "PUT",
          body: encoder.encode("this is not gzip"),
          headers: { "Content-Encoding": "gzip" },
        });
        assertEqual(bomb.status, 400, "a body that is not gzip");
        assertEqual((await store.search({ taskId: "bad" })).length, 0, "nothing stored for it");
      });
    },
  },

  {
    name: "HTTP: Range gives 206 with Content-Range on the decoded content, suffix ranges work, past the end is 416",
    scope: "combination",
    async run(context, combination) {
      await withStore(combination, {}, async ({ store }) => {
        const app = context.library.createApp({ store });
        const log = makeLog(500);
        await app.request("/v1/artifacts/s/t/log", { method: "PUT", body: log });
        const part = await app.request("/v1/artifacts/s/t/log", {
          headers: { Range: "bytes=100-199", "Accept-Encoding": "gzip" },
        });
        assertEqual(part.status, 206, "range status");
        assertEqual(part.headers.get("content-range"), `bytes 100-199/${log.length}`, "Content-Range");
        assertEqual(part.headers.get("content-encoding"), null, "ranges are of the decoded content");
        assertEqual(await part.text(), log.slice(100, 200), "range body");
        const tail = await app.request("/v1/artifacts/s/t/log", { headers: { Range: "bytes=-10" } });
        assertEqual(await tail.text(), log.slice(-10), "suffix range");
        const beyond = await app.request("/v1/artifacts/s/t/log", { headers: { Range: `bytes=${log.length}-` } });
        assertEqual(beyond.status, 416, "range past the end");
        assertEqual(beyond.headers.get("content-range"), `bytes */${log.length}`, "416 Content-Range");
        assertEqual(await errorCode(beyond), "E_RANGE", "416 error code");
        const library = await store.open({ specName: "s", taskId: "t", type: "log" }, { range: { suffixLength: 5 } });
        assertEqual(new TextDecoder().decode(await readAll(library.body)), log.slice(-5), "range through the library");
      });
    },
  },

  {
    name: "HTTP auth: no or unknown token is 401, a missing scope or another spec is 403, the right token passes",
    scope: "combination",
    async run(context, combination) {
      const tokens = {
        reader: "reader-token-0123456789",
        writer: "writer-token-0123456789",
        admin: "admin-token-0123456789",
      };
      await withStore(combination, {}, async ({ store }) => {
        const app = context.library.createApp({
          store,
          tokens: [
            { name: "reader", sha256: await sha256Hex(tokens.reader), scopes: ["read"] },
            { name: "writer", sha256: await sha256Hex(tokens.writer), scopes: ["read", "write"], specs: ["chat-app"] },
            { name: "admin", sha256: await sha256Hex(tokens.admin), scopes: ["admin"] },
          ],
        });
        const as = (token: string | undefined, init: RequestInit = {}) => ({
          ...init,
          headers: {
            ...(init.headers as Record<string, string>),
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
          },
        });
        const path = "/v1/artifacts/chat-app/1.1/log";
        const anonymous = await app.request(path, as(undefined, { method: "PUT", body: "x" }));
        assertEqual(anonymous.status, 401, "no token");
        assertEqual(await errorCode(anonymous), "E_UNAUTHORIZED", "no token: code");
        assert(anonymous.headers.get("www-authenticate")?.startsWith("Bearer"), "401 says how to authenticate");
        assertEqual((await app.request(path, as("not-a-token"))).status, 401, "unknown token");
        const readerPut = await app.request(path, as(tokens.reader, { method: "PUT", body: "x" }));
        assertEqual(readerPut.status, 403, "read-only token writing");
        assertEqual(await errorCode(readerPut), "E_FORBIDDEN", "read-only token writing: code");
        assertEqual(
          (await app.request("/v1/artifacts/other/1/log", as(tokens.writer, { method: "PUT", body: "x" }))).status,
          403,
          "spec-limited token on another spec",
        );
        assertEqual((await app.request(path, as(tokens.writer, { method: "PUT", body: "x" }))).status, 201, "writer");
        assertEqual((await app.request(path, as(tokens.reader))).status, 200, "reader reading");
        assertEqual(
          (await app.request("/v1/maintenance/cleanup", as(tokens.writer, { method: "POST" }))).status,
          403,
          "cleanup needs admin",
        );
        assertEqual(
          (await app.request("/v1/maintenance/cleanup?dry_run=1", as(tokens.admin, { method: "POST" }))).status,
          200,
          "admin runs cleanup",
        );
        const closed = context.library.createApp({ store, allowAnonymous: false });
        assertEqual((await closed.request(path)).status, 401, "no tokens and no anonymous access refuses everything");
      });
    },
  },

  {
    name: "engines: the injected gzip writes one standard member at levels 1, 6 and 9, gunzip reads concatenated members and refuses damage, SHA-256 is standard",
    scope: "runtime",
    async run(context) {
      const { engines } = context;
      const content = new TextEncoder().encode(makeLog(20_000));
      for (const level of [1, 6, 9]) {
        const gz = await readAll(streamOf(content, 100_000).pipeThrough(engines.createGzip(level)));
        assertEqual(countGzipMembers(gz), 1, `level ${level}: one gzip member`);
        assertBytesEqual(gunzipSync(gz), content, `level ${level}: decodes to the content`);
      }
      const joined = concat([
        gzipSync(new TextEncoder().encode("first\n")),
        gzipSync(new TextEncoder().encode("second\n")),
      ]);
      assertEqual(
        new TextDecoder().decode(await readAll(streamOf(joined).pipeThrough(engines.createGunzip()))),
        "first\nsecond\n",
        "concatenated members",
      );
      await assertRejects(
        readAll(streamOf(gzipSync(content).subarray(0, 1000)).pipeThrough(engines.createGunzip())),
        "truncated gzip",
      );
      await assertRejects(
        readAll(streamOf(new TextEncoder().encode("not gzip")).pipeThrough(engines.createGunzip())),
        "not gzip at all",
      );
      const hasher = engines.createSha256();
      for (let offset = 0; offset < content.length; offset += 7919)
        hasher.update(content.subarray(offset, offset + 7919));
      assertEqual(toHex(hasher.digest()), await sha256Hex(content), "SHA-256 fed in uneven chunks");
    },
  },

  {
    name: "remote metadata: http://, ws:// and libsql:// URLs carry the auth token, and the server refuses clients without it",
    scope: "runtime",
    async run(context) {
      const { library, services } = context;
      const { sqld } = services;
      for (const url of [sqld.url, sqld.wsUrl, sqld.libsqlUrl]) {
        const client = library.createWebClient({ url, authToken: sqld.authToken });
        try {
          const result = await client.execute("SELECT 41 + 1 AS answer");
          assertEqual(Number((result.rows[0] as unknown as { answer: number }).answer), 42, `query over ${url}`);
        } finally {
          client.close();
        }
        for (const authToken of [undefined, "not-a-valid-jwt"]) {
          const refused = library.createWebClient({ url, ...(authToken ? { authToken } : {}) });
          try {
            const error = await assertRejects(refused.execute("SELECT 1"), `${url} without a valid token`);
            // The same URL with the token worked just before, so the refusal is the token's doing.
            // Over HTTP the 401 shows in the message, except that workerd may report only a lost
            // connection (sqld answers 401 and closes before it has read the request). A refused
            // WebSocket upgrade reaches the client only as an abnormal close (1006), so ws:// is
            // checked by the refusal alone.
            if (!url.startsWith("ws:")) {
              assert(
                /401|unauthori[sz]ed|connection lost/i.test(describeError(error)),
                `${url}: the refusal is about auth (${describeError(error)})`,
              );
            }
          } finally {
            refused.close();
          }
        }
      }
      // A whole store over WebSocket with the token: migrations, writes, reads.
      // Right after the refused upgrades above, workerd on a loaded machine now and then loses the
      // next WebSocket before its first statement ("Network connection lost", seen in 3 of ~10 full
      // runs, never twice in a row): that first connection gets one more try with a new client.
      let client = library.createWebClient({ url: sqld.wsUrl, authToken: sqld.authToken });
      try {
        await dropAllTables(client);
      } catch (error) {
        if (!/connection lost/i.test(describeError(error))) throw error;
        client.close();
        client = library.createWebClient({ url: sqld.wsUrl, authToken: sqld.authToken });
        await dropAllTables(client);
      }
      const store = library.createArtifactStore({
        backend: library.createMemoryBackend(),
        metadata: await library.createLibsqlMetadata({ client: client as never }),
        codecs: context.engines,
      });
      try {
        const uri = await store.upload("t", "s", "log", "over ws");
        assertEqual(await store.downloadText(uri), "over ws", "a store on ws:// metadata");
      } finally {
        await store.close();
      }
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Helpers: Web APIs only (crypto.subtle, streams, TextEncoder), so they run everywhere.

async function withStore(
  combination: StoreCombination | undefined,
  settings: Partial<StoreSettings>,
  body: (opened: OpenedStore) => Promise<void>,
  clock?: { now: number },
): Promise<void> {
  if (!combination) throw new Error("this case needs a store combination");
  const opened = await combination.open({ settings, ...(clock ? { now: () => clock.now } : {}) });
  try {
    await body(opened);
  } finally {
    await opened.close();
  }
}

/** The object key of a version's blob, as DESIGN.md lays it out. */
/** The key of an artifact's current version: the seed path. */
function blobKeyOf(store: ArtifactStore, item: ArtifactMetadata): string {
  const fileName = store.types.find((type) => type.name === item.type)?.fileName;
  return `${item.specName}/${item.taskId}/${fileName}${item.compressed ? ".gz" : ""}`;
}

/** Rewrites a stored object with one bit flipped in its middle: silent damage the checksums must catch. */
async function flipByte(backend: StorageBackend, key: string): Promise<void> {
  const object = await backend.get(key);
  assert(object, `object ${key} to damage`);
  const bytes = (await readAll(object.body)).slice();
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  await backend.put(key, streamOf(bytes), { contentLength: bytes.length });
}

function streamOf(bytes: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return concat(chunks);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Gzip members in `bytes` (fflate reports the start of each member after the first). */
function countGzipMembers(bytes: Uint8Array): number {
  let members = 1;
  const gunzip = new Gunzip(() => {});
  gunzip.onmember = () => members++;
  gunzip.push(bytes, true);
  return members;
}

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  return toHex(await sha256(data));
}

async function sha256Base64(data: Uint8Array | string): Promise<string> {
  let binary = "";
  for (const byte of await sha256(data)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { error?: { code?: string } };
  return body.error?.code;
}

async function bodyText(response: Response): Promise<string> {
  return response.status >= 400 ? await response.clone().text() : "ok";
}

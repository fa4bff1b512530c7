import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "fflate";
import { collectBytes } from "../../src/codec/streams.ts";
import { ArtifactStoreError } from "../../src/contracts/errors.ts";
import { freshStorePerTest, makeLog, randomBytes, sha256Hex } from "../helpers/store.ts";

const open = freshStorePerTest();

describe("upload and download", () => {
  test("the seed's positional upload returns a file URI that downloads the same bytes", async () => {
    const { store, root } = await open();
    const log = makeLog(2000);
    const uri = await store.upload("1.1", "chat-app", "log", log, { runner: "gha-7" });
    expect(uri).toBe(`file://${root}/chat-app/1.1/log.txt.gz`);
    expect(await store.downloadText(uri)).toBe(log);
    const metadata = await store.stat(uri);
    expect(metadata?.metadata).toEqual({ runner: "gha-7" });
    expect(metadata?.originalChecksum).toBe(await sha256Hex(log));
  });

  test("the object form returns full metadata: sizes, both checksums, MIME type, tags, expiry", async () => {
    const { store, clock } = await open();
    const diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n".repeat(50);
    const result = await store.upload({
      specName: "chat-app",
      taskId: "1.2",
      type: "diff",
      content: diff,
      tags: ["ci", "pr-12", "ci"],
    });
    expect(result).toMatchObject({
      specName: "chat-app",
      taskId: "1.2",
      type: "diff",
      version: 1,
      compressed: true,
      mimeType: "text/x-diff",
      originalSize: diff.length,
      originalChecksum: await sha256Hex(diff),
      tags: ["ci", "pr-12"],
      state: "committed",
      integrity: "ok",
      pinned: false,
      warnings: [],
    });
    expect(result.size).toBeLessThan(diff.length);
    expect(result.expiresAt).toBe(new Date(clock.now + 30 * 86_400_000).toISOString());
    const stored = await readFile(new URL(result.uri));
    expect(result.checksum).toBe(await sha256Hex(stored));
    expect(stored.length).toBe(result.size);
  });

  test("content may be a string, Uint8Array, ArrayBuffer, Blob or ReadableStream", async () => {
    const { store } = await open({ versioningEnabled: true });
    const bytes = randomBytes(50_000);
    const inputs = {
      string: "text content ✓",
      uint8array: bytes,
      arraybuffer: bytes.slice().buffer,
      blob: new Blob([bytes]),
      stream: new Blob([bytes]).stream(),
    };
    for (const [taskId, content] of Object.entries(inputs)) {
      const result = await store.upload({ specName: "inputs", taskId, type: "log", content });
      const expected = typeof content === "string" ? new TextEncoder().encode(content) : bytes;
      expect(await store.download(result.uri)).toEqual(expected);
    }
  });

  test("a stream of strings is refused with a clear error and stores nothing", async () => {
    const { store } = await open();
    const strings = new ReadableStream({
      start(controller) {
        controller.enqueue("not bytes");
        controller.close();
      },
    }) as unknown as ReadableStream<Uint8Array>;
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: strings })
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(ArtifactStoreError);
    expect(error.message).toContain("Uint8Array");
    expect(await store.search({})).toEqual([]);
  });

  test("stored files are single-member gzip that gzip -t and zcat accept, in the seed's tree with metadata.json", async () => {
    const { store, root } = await open({ versioningEnabled: true });
    const log = makeLog(5000);
    await store.upload({ specName: "chat-app", taskId: "1.1", type: "log", content: log });
    await store.upload({ specName: "chat-app", taskId: "1.1", type: "log", content: `${log}more\n` });
    await store.upload({ specName: "chat-app", taskId: "1.1", type: "test", content: '{"passed":3}' });
    // The current version of each type at the seed path; older ones under versions/v<N>/.
    expect((await readdir(join(root, "chat-app", "1.1"))).sort()).toEqual([
      "log.txt.gz",
      "metadata.json",
      "test-result.json.gz",
      "versions",
    ]);
    expect(await readdir(join(root, "chat-app", "1.1", "versions", "v1"))).toEqual(["log.txt.gz"]);
    const current = join(root, "chat-app", "1.1", "log.txt.gz");
    expect(spawnSync("gzip", ["-t", current]).status).toBe(0);
    expect(spawnSync("zcat", [current], { maxBuffer: 1 << 26 }).stdout.toString()).toBe(`${log}more\n`);
    const older = join(root, "chat-app", "1.1", "versions", "v1", "log.txt.gz");
    expect(spawnSync("zcat", [older], { maxBuffer: 1 << 26 }).stdout.toString()).toBe(log);
    const task = JSON.parse(await readFile(join(root, "chat-app", "1.1", "metadata.json"), "utf8"));
    expect(task.format_version).toBe(1);
    expect(task.artifacts).toHaveLength(3);
    expect(task.artifacts[0]).toMatchObject({
      spec_name: "chat-app",
      task_id: "1.1",
      type: "log",
      version: 1,
      original_checksum: await sha256Hex(log),
      location: "chat-app/1.1/versions/v1/log.txt.gz",
    });
    expect(Object.keys(task.artifacts[0]).slice(0, 13)).toEqual([
      "uri",
      "task_id",
      "spec_name",
      "type",
      "size",
      "checksum",
      "created_at",
      "compressed",
      "original_size",
      "mime_type",
      "tags",
      "version",
      "metadata",
    ]);
  });

  test("with compression off the content is stored as it is, without .gz", async () => {
    const { store, root } = await open({ compressionEnabled: false });
    const result = await store.upload({ specName: "plain", taskId: "t1", type: "test", content: '{"ok":true}' });
    expect(result.uri.endsWith("/plain/t1/test-result.json")).toBe(true);
    expect(result.compressed).toBe(false);
    expect(result.checksum).toBe(result.originalChecksum);
    expect(await readFile(join(root, "plain", "t1", "test-result.json"), "utf8")).toBe('{"ok":true}');
  });

  test("download by (spec, task, type) gives the latest version, or the one asked for", async () => {
    const { store } = await open({ versioningEnabled: true });
    await store.upload({ specName: "s", taskId: "t", type: "log", content: "one" });
    await store.upload({ specName: "s", taskId: "t", type: "log", content: "two" });
    expect(await store.downloadText({ specName: "s", taskId: "t", type: "log" })).toBe("two");
    expect(await store.downloadText({ specName: "s", taskId: "t", type: "log", version: 1 })).toBe("one");
    const missing = await store
      .download({ specName: "s", taskId: "t", type: "log", version: 9 })
      .catch((error) => error);
    expect(missing.code).toBe("E_NOT_FOUND");
  });

  test("open() streams the decoded content, or passes stored gzip through with its own checksum", async () => {
    const { store } = await open();
    const log = makeLog(3000);
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: log });
    const decoded = await store.open(result.uri);
    expect(decoded.contentEncoding).toBe("identity");
    expect(decoded.length).toBe(log.length);
    expect(decoded.checksum).toBe(result.originalChecksum);
    expect(new TextDecoder().decode(await collectBytes(decoded.body))).toBe(log);
    const raw = await store.open(result.uri, { acceptEncoding: "gzip" });
    expect(raw.contentEncoding).toBe("gzip");
    expect(raw.length).toBe(result.size);
    expect(raw.checksum).toBe(result.checksum);
    const gz = await collectBytes(raw.body);
    expect(await sha256Hex(gz)).toBe(result.checksum);
  });

  test("range reads cut the decoded content, for compressed and uncompressed versions", async () => {
    const { store } = await open({ versioningEnabled: true });
    const text = makeLog(1000);
    const compressed = await store.upload({ specName: "s", taskId: "t", type: "log", content: text });
    const middle = await store.open(compressed.uri, { range: { offset: 100, length: 50 } });
    expect(middle.range).toEqual({ start: 100, end: 149, size: text.length });
    expect(new TextDecoder().decode(await collectBytes(middle.body))).toBe(text.slice(100, 150));
    const tail = await store.open(compressed.uri, { range: { suffixLength: 20 } });
    expect(new TextDecoder().decode(await collectBytes(tail.body))).toBe(text.slice(-20));
    const beyond = await store.open(compressed.uri, { range: { offset: text.length } }).catch((error) => error);
    expect(beyond.code).toBe("E_RANGE");
  });

  test("an upload sent as gzip is checked, hashed as decoded content and stored byte for byte", async () => {
    const { store } = await open();
    const log = makeLog(4000);
    const gz = gzipSync(new TextEncoder().encode(log), { level: 9 });
    const result = await store.upload({
      specName: "s",
      taskId: "t",
      type: "log",
      content: gz,
      contentEncoding: "gzip",
    });
    expect(result.originalChecksum).toBe(await sha256Hex(log));
    expect(result.originalSize).toBe(log.length);
    expect(result.checksum).toBe(await sha256Hex(gz));
    expect(await readFile(new URL(result.uri))).toEqual(Buffer.from(gz));
    expect(await store.downloadText(result.uri)).toBe(log);
  });

  test("a gzip upload of several members is stored as one member", async () => {
    const { store, root } = await open();
    const first = gzipSync(new TextEncoder().encode("first part\n"));
    const second = gzipSync(new TextEncoder().encode("second part\n"));
    const joined = new Uint8Array([...first, ...second]);
    const result = await store.upload({
      specName: "s",
      taskId: "t",
      type: "log",
      content: joined,
      contentEncoding: "gzip",
    });
    expect(await store.downloadText(result.uri)).toBe("first part\nsecond part\n");
    const stored = await readFile(join(root, "s", "t", "log.txt.gz"));
    expect(stored.length).toBe(result.size);
    expect(result.checksum).toBe(await sha256Hex(stored));
    // One member: the trailer's size field covers the whole content.
    expect(stored.readUInt32LE(stored.length - 4)).toBe("first part\nsecond part\n".length);
  });

  test("a body claiming gzip that is not gzip is refused and nothing is stored", async () => {
    const { store, backend } = await open();
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: "plain text, not gzip", contentEncoding: "gzip" })
      .catch((caught) => caught);
    expect(error.code).toBe("E_INVALID_INPUT");
    expect((await backend.list()).objects).toEqual([]);
    expect((await store.stats()).pendingUploads).toBe(0);
  });

  test("a gzip bomb is refused by its expansion ratio", async () => {
    const { store, backend } = await open({ gzipMaxRatio: 100 });
    const bomb = gzipSync(new Uint8Array(20 * 1024 * 1024), { level: 9 });
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: bomb, contentEncoding: "gzip" })
      .catch((caught) => caught);
    expect(error.code).toBe("E_INVALID_INPUT");
    expect(error.message).toContain("gzip bomb");
    expect((await backend.list()).objects).toEqual([]);
  });

  test("content over the size limit is refused with E_TOO_LARGE and nothing is stored", async () => {
    const { store, backend } = await open({ maxArtifactBytes: 1000 });
    const known = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: new Uint8Array(1001) })
      .catch((error) => error);
    expect(known.code).toBe("E_TOO_LARGE");
    const streamed = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: new Blob([new Uint8Array(5000)]).stream() })
      .catch((error) => error);
    expect(streamed.code).toBe("E_TOO_LARGE");
    expect((await backend.list()).objects).toEqual([]);
  });

  test("an unknown type is refused before any I/O, naming the known types", async () => {
    const { store } = await open();
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "coverage", content: "x" })
      .catch((caught) => caught);
    expect(error.code).toBe("E_INVALID_INPUT");
    expect(error.message).toContain("diff, log, test");
  });

  test("config-declared types are stored under their own file name and MIME type", async () => {
    const { store } = await open({
      types: [
        { name: "diff", fileName: "diff.txt", mimeType: "text/x-diff", retentionDays: 30 },
        { name: "coverage", fileName: "coverage.json", mimeType: "application/json", retentionDays: null },
      ],
    });
    const result = await store.upload({ specName: "s", taskId: "t", type: "coverage", content: "{}" });
    expect(result.uri.endsWith("/s/t/coverage.json.gz")).toBe(true);
    expect(result.mimeType).toBe("application/json");
    expect(result.expiresAt).toBeNull();
  });

  test("progress is reported as content is read", async () => {
    const { store } = await open();
    const seen: number[] = [];
    await store.upload({
      specName: "s",
      taskId: "t",
      type: "log",
      content: randomBytes(3_000_000),
      onProgress: (bytes) => seen.push(bytes),
    });
    expect(seen.at(-1)).toBe(3_000_000);
    expect(seen.length).toBeGreaterThan(1);
  });

  test("a fresh version on disk is durable: file and metadata row exist before upload resolves", async () => {
    const { store, metadata } = await open();
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: "durable" });
    expect((await stat(new URL(result.uri))).isFile()).toBe(true);
    expect((await metadata.findVersion({ specName: "s", taskId: "t", type: "log" }))?.state).toBe("committed");
  });
});

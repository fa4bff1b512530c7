/**
 * Small first versions committed inline (`inlineSmallUploads`, on in the servers): the upload
 * resolves once its row and bytes are in the database, the bytes are served from there until a
 * background pass writes them at the seed path with the task's `metadata.json`, and every other
 * turn of the task (a replacement, a delete), `gc` and `close()` write them first.
 */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createFsBackend } from "../../src/backends/fs.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { openFileClient } from "../../src/metadata/file-client.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { freshStorePerTest } from "../helpers/store.ts";

const open = freshStorePerTest();
/** The background pass held back, so what a test sees before it runs is certain. */
const HELD = { inlineSmallUploads: { delayMs: 600_000 } };

const taskFile = async (root: string, specName: string, taskId: string) =>
  JSON.parse(await readFile(join(root, specName, taskId, "metadata.json"), "utf8")) as {
    artifacts: { version: number; type: string }[];
  };

test("an inline version is read at once from the database, whole, gzip, by range and by stat; close() writes it at its seed path", async () => {
  const { store, root } = await open({}, undefined, HELD);
  const content = `${"build step ok\n".repeat(200)}ERROR: link failed\n`;
  const result = await store.upload({ specName: "chat-app", taskId: "1.1", type: "log", content, tags: ["ci"] });
  expect(result.version).toBe(1);
  const seedPath = join(root, "chat-app", "1.1", "log.txt.gz");
  // Nothing on disk yet: the bytes are in the database only.
  expect(existsSync(seedPath)).toBe(false);
  expect(existsSync(join(root, "chat-app", "1.1", "metadata.json"))).toBe(false);

  expect(await store.downloadText(result.uri)).toBe(content);
  const gzip = await store.open(result.uri, { acceptEncoding: "gzip" });
  expect(gzip.contentEncoding).toBe("gzip");
  expect(gunzipSync(new Uint8Array(await new Response(gzip.body).arrayBuffer())).toString()).toBe(content);
  const range = await store.open(result.uri, { range: { offset: 6, length: 4 } });
  expect(await new Response(range.body).text()).toBe("step");
  expect((await store.stat(result.uri))?.summary).toMatchObject({ kind: "log", errors: 1 });

  await store.close();
  expect(gunzipSync(await readFile(seedPath)).toString()).toBe(content);
  expect((await taskFile(root, "chat-app", "1.1")).artifacts.map((entry) => entry.version)).toEqual([1]);
});

test("gc writes inline versions at their seed paths and lists them in metadata.json", async () => {
  const { store, root, metadata } = await open({}, undefined, HELD);
  await store.upload({ specName: "chat-app", taskId: "1.1", type: "log", content: "one\n" });
  await store.upload({ specName: "chat-app", taskId: "1.1", type: "test", content: '{"passed":1}' });
  await store.upload({ specName: "chat-app", taskId: "1.2", type: "diff", content: "diff --git a/x b/x\n" });
  expect(await metadata.inlineTasks?.(10)).toHaveLength(2);
  await store.gc();
  expect(await metadata.inlineTasks?.(10)).toEqual([]);
  expect(existsSync(join(root, "chat-app", "1.1", "log.txt.gz"))).toBe(true);
  expect(existsSync(join(root, "chat-app", "1.1", "test-result.json.gz"))).toBe(true);
  expect(existsSync(join(root, "chat-app", "1.2", "diff.txt.gz"))).toBe(true);
  expect((await taskFile(root, "chat-app", "1.1")).artifacts.map((entry) => entry.type).sort()).toEqual([
    "log",
    "test",
  ]);
  expect(await store.downloadText({ specName: "chat-app", taskId: "1.2", type: "diff" })).toBe("diff --git a/x b/x\n");
});

test("a replacement of an inline version writes it first: both versions keep their bytes (versioning on), or the new one replaces it (off)", async () => {
  for (const versioningEnabled of [true, false]) {
    const { store, root } = await open({ versioningEnabled }, undefined, HELD);
    const first = await store.upload({ specName: "s", taskId: "t", type: "log", content: "first\n" });
    expect(existsSync(join(root, "s", "t", "log.txt.gz"))).toBe(false);
    const second = await store.upload({ specName: "s", taskId: "t", type: "log", content: "second\n" });
    expect(second.version).toBe(2);
    expect(await store.downloadText({ specName: "s", taskId: "t", type: "log" })).toBe("second\n");
    expect(gunzipSync(await readFile(join(root, "s", "t", "log.txt.gz"))).toString()).toBe("second\n");
    const listed = (await taskFile(root, "s", "t")).artifacts.map((entry) => entry.version).sort();
    if (versioningEnabled) {
      expect(await store.downloadText(first.uri)).toBe("first\n");
      expect(gunzipSync(await readFile(join(root, "s", "t", "versions", "v1", "log.txt.gz"))).toString()).toBe(
        "first\n",
      );
      expect(listed).toEqual([1, 2]);
    } else {
      expect(await store.stat({ specName: "s", taskId: "t", type: "log", version: 1 })).toBeNull();
      expect(listed).toEqual([2]);
    }
    expect((await store.verify()).corrupt).toEqual([]);
    await store.close();
  }
});

test("a deleted inline version leaves nothing: no bytes in the database, no file after close", async () => {
  const { store, root } = await open({}, undefined, HELD);
  const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: "gone soon\n" });
  await store.upload({ specName: "s", taskId: "t", type: "test", content: '{"passed":2}' });
  await store.delete(result.uri);
  expect(await store.stat(result.uri)).toBeNull();
  await store.close();
  expect(existsSync(join(root, "s", "t", "log.txt.gz"))).toBe(false);
  expect(existsSync(join(root, "s", "t", "test-result.json.gz"))).toBe(true);
  const raw = openFileClient(join(root, ".store", "metadata.db"));
  expect((await raw.execute("SELECT count(*) AS n FROM artifact_inline")).rows[0]?.n).toBe(0);
  raw.close();
});

test("damaged inline bytes are caught by a download (E_CORRUPT, flagged) and by verify", async () => {
  const { store, root } = await open({}, undefined, HELD);
  const a = await store.upload({ specName: "s", taskId: "a", type: "log", content: "alpha\n".repeat(100) });
  await store.upload({ specName: "s", taskId: "b", type: "log", content: "beta\n".repeat(100) });
  const raw = openFileClient(join(root, ".store", "metadata.db"));
  // One byte flipped in each version's stored gzip (inside the deflate data).
  for (const task of ["a", "b"]) {
    const id = `(SELECT id FROM artifacts WHERE spec_name = 's' AND task_id = '${task}')`;
    const stored = (await raw.execute(`SELECT bytes FROM artifact_inline WHERE artifact_id = ${id}`)).rows[0]?.bytes;
    const bytes = new Uint8Array(stored as ArrayBuffer).slice();
    bytes[12] = (bytes[12] as number) ^ 0x10;
    await raw.execute({ sql: `UPDATE artifact_inline SET bytes = ? WHERE artifact_id = ${id}`, args: [bytes] });
  }
  raw.close();
  await expect(store.downloadText(a.uri)).rejects.toMatchObject({ code: "E_CORRUPT" });
  expect((await store.stat(a.uri))?.integrity).toBe("corrupt");
  const report = await store.verify();
  expect(report.corrupt.map((entry) => entry.uri).sort()).toEqual(
    [a.uri, (await store.stat({ specName: "s", taskId: "b", type: "log" }))?.uri as string].sort(),
  );
});

test("reads racing the background pass never fail and always return the version's bytes", async () => {
  const { store, root } = await open({}, undefined, { inlineSmallUploads: true });
  let servedInline = 0;
  let servedFromFile = 0;
  await Promise.all(
    Array.from({ length: 120 }, async (_, index) => {
      const content = `task ${index}\n`.repeat(1 + (index % 50));
      const result = await store.upload({ specName: "race", taskId: `t${index}`, type: "log", content });
      // Reads from before the pass until the file has been seen twice (the race's window in between).
      for (let read = 0, seen = 0; seen < 2 && read < 400; read++) {
        const onDisk = existsSync(join(root, "race", `t${index}`, "log.txt.gz"));
        expect(await store.downloadText(result.uri)).toBe(content);
        if (onDisk) {
          servedFromFile++;
          seen++;
        } else servedInline++;
        await Bun.sleep(read % 4);
      }
    }),
  );
  // Both sides of the race were exercised.
  expect(servedInline).toBeGreaterThan(0);
  expect(servedFromFile).toBeGreaterThan(0);
  await store.close();
  for (let index = 0; index < 120; index++) {
    expect(existsSync(join(root, "race", `t${index}`, "log.txt.gz"))).toBe(true);
  }
});

test("the quota holds for inline versions: a warning once it is nearly used up, E_QUOTA_EXCEEDED past it", async () => {
  const { store, root } = await open({ storageQuota: { maxBytes: 400, warnThreshold: 0.05 } }, undefined, HELD);
  const result = await store.upload({ specName: "s", taskId: "a", type: "log", content: "small\n" });
  expect(result.warnings).toHaveLength(1);
  expect(result.warnings[0]).toContain("storage quota");
  const noise = crypto.getRandomValues(new Uint8Array(600));
  await expect(store.upload({ specName: "s", taskId: "b", type: "log", content: noise })).rejects.toMatchObject({
    code: "E_QUOTA_EXCEEDED",
  });
  expect(await store.stat({ specName: "s", taskId: "b", type: "log" })).toBeNull();
  await store.close();
  expect(existsSync(join(root, "s", "b"))).toBe(false);
});

test("a version this process committed inline is read from the database without a look for its file; once written, or written by another process, from the file", async () => {
  const lookedFor: string[] = [];
  const { store, root, metadata } = await open(
    {},
    (backend) => ({
      ...backend,
      get: (key, options) => {
        if (key.endsWith("/log.txt.gz")) lookedFor.push(key);
        return backend.get(key, options);
      },
    }),
    HELD,
  );
  const content = "step ok\n".repeat(300);
  const first = await store.upload({ specName: "s", taskId: "mine", type: "log", content });
  expect(await store.downloadText(first.uri)).toBe(content);
  const gzip = await store.open(first.uri, { acceptEncoding: "gzip" });
  expect(gunzipSync(new Uint8Array(await new Response(gzip.body).arrayBuffer())).toString()).toBe(content);
  const range = await store.open(first.uri, { range: { offset: 5, length: 2 } });
  expect(await new Response(range.body).text()).toBe("ok");
  // Three reads, and not one look for a file that is not written yet.
  expect(lookedFor).toEqual([]);

  // Written by this process: read from the file, with no database read first.
  await store.gc();
  let inlineReads = 0;
  const readInline = metadata.readInline?.bind(metadata);
  metadata.readInline = (id) => {
    inlineReads++;
    return readInline?.(id) ?? Promise.resolve(null);
  };
  expect(existsSync(join(root, "s", "mine", "log.txt.gz"))).toBe(true);
  expect(await store.downloadText(first.uri)).toBe(content);
  expect(lookedFor).toEqual(["s/mine/log.txt.gz"]);
  expect(inlineReads).toBe(0);

  // Written by another process on the same root and database (the CLI's gc): this process
  // still lists it as unwritten, finds no bytes in the database, and reads the file.
  const second = await store.upload({ specName: "s", taskId: "other", type: "log", content: `${content}more\n` });
  const other = createArtifactStore({
    backend: createFsBackend({ root }),
    metadata: await openLocalMetadata({ url: join(root, ".store", "metadata.db") }),
    config: {},
  });
  await other.gc();
  await other.close();
  expect(existsSync(join(root, "s", "other", "log.txt.gz"))).toBe(true);
  expect(await store.downloadText(second.uri)).toBe(`${content}more\n`);
  expect(lookedFor).toEqual(["s/mine/log.txt.gz", "s/other/log.txt.gz"]);
  expect(inlineReads).toBe(1);
  // Found written: later reads take the file first, with no database read.
  expect(await store.downloadText(second.uri)).toBe(`${content}more\n`);
  expect(inlineReads).toBe(1);
});

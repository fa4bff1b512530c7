/**
 * What strict durability promises on the upload path, where it now waits less: the pending row
 * is answered before the WAL fsync (the publish's commit waits for one, and the log is written
 * in order), and a version number a power failure hands out again is not blocked by the lost
 * upload's leftover under `.store/uploads/`.
 */
import { expect, test } from "bun:test";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { freshStorePerTest, makeLog, makeTempDir } from "../helpers/store.ts";

const open = freshStorePerTest();

test("a leftover upload of a lost reservation does not block the version number handed out again", async () => {
  const { store, root } = await open({ versioningEnabled: true });
  await store.upload({ specName: "chat-app", taskId: "1.1", type: "log", content: "first\n" });
  // What a power failure leaves when v2's pending row was lost but its upload file was not.
  const uploads = join(root, ".store", "uploads", "chat-app", "1.1");
  await mkdir(uploads, { recursive: true });
  await writeFile(join(uploads, "v2.keep.log.txt.gz"), "bytes of an upload nobody was answered for");

  const log = makeLog(300);
  const second = await store.upload({ specName: "chat-app", taskId: "1.1", type: "log", content: log });
  expect(second.version).toBe(2);
  expect(await store.downloadText({ specName: "chat-app", taskId: "1.1", type: "log" })).toBe(log);
  expect(await store.downloadText({ specName: "chat-app", taskId: "1.1", type: "log", version: 1 })).toBe("first\n");
  expect(await readdir(uploads).catch(() => [])).toEqual([]);
});

test("a pending row is answered before the WAL fsync; a publish only after it", async () => {
  const dir = await makeTempDir("upload-durability");
  const client = createClient({ url: `file:${join(dir.path, "metadata.db")}` });
  let fsyncs = 0;
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const metadata = await createLibsqlMetadata({
    client,
    afterCommit: async () => {
      fsyncs++;
      await gate;
    },
  });
  try {
    gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = fsyncs;
    const pending = await metadata.reserveVersion({
      specName: "chat-app",
      taskId: "1.1",
      type: "log",
      compressed: true,
      mimeType: "text/plain",
      metadata: {},
      createdAt: Date.now(),
      retentionDays: null,
      location: { keyPrefix: ".store/uploads/chat-app/1.1/v", keySuffix: ".replace.log.txt.gz", uriPrefix: "" },
      reserveBytes: 10,
      maxBytes: null,
    });
    // Answered with the fsync still held back, and without asking for one.
    expect(pending.version).toBe(1);
    expect(fsyncs).toBe(before);

    let published = false;
    const publishing = metadata
      .beginPublish(pending, {
        size: 10,
        checksum: "a".repeat(64),
        originalSize: 4,
        originalChecksum: "b".repeat(64),
        tags: [],
      })
      .then((outcome) => {
        published = true;
        return outcome;
      });
    await Bun.sleep(50);
    expect(published).toBe(false);
    release();
    expect(await publishing).toBe("ok");
    expect(fsyncs).toBe(before + 1);
  } finally {
    release();
    await metadata.close();
    await dir.cleanup();
  }
});

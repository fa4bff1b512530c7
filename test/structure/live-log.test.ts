/** Live logs: numbered, checksummed appends; idempotent retries; a seal that is an ordinary upload. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdir, readdir, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createClient } from "@libsql/client";
import { createApp } from "../../src/http/app.ts";
import { makeFsStore, sha256Hex, type TestStore } from "../helpers/store.ts";

/** Makes the folders of `key` under `root`; returns its path. */
async function placeFor(root: string, key: string): Promise<string> {
  await mkdir(dirname(join(root, key)), { recursive: true });
  return join(root, key);
}

let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

const ref = { specName: "agent", taskId: "run-7" };
const base64Sha256 = async (text: string) => Buffer.from(await sha256Hex(text), "hex").toString("base64");

describe("live logs in the library", () => {
  test("appends are numbered and checksummed; a retried chunk is a no-op; gaps and rewrites are refused", async () => {
    current = await makeFsStore();
    const { store } = current;
    const first = await store.appendLog({ ...ref, seq: 1, content: "step 1\n" });
    expect(first).toMatchObject({ seq: 1, offset: 0, size: 7, totalSize: 7, duplicate: false });
    expect(first.checksum).toBe(await sha256Hex("step 1\n"));
    expect(await store.appendLog({ ...ref, seq: 2, content: "step 2\n" })).toMatchObject({ offset: 7, totalSize: 14 });
    // The same chunk again (a retry after a lost response) changes nothing.
    expect(await store.appendLog({ ...ref, seq: 2, content: "step 2\n" })).toMatchObject({
      duplicate: true,
      totalSize: 14,
    });
    await expect(store.appendLog({ ...ref, seq: 2, content: "other\n" })).rejects.toMatchObject({ code: "E_CONFLICT" });
    await expect(store.appendLog({ ...ref, seq: 4, content: "ahead\n" })).rejects.toMatchObject({
      code: "E_CONFLICT",
      details: { nextSeq: 3 },
    });
    await expect(
      store.appendLog({ ...ref, seq: 3, content: "step 3\n", expectedChecksum: "0".repeat(64) }),
    ).rejects.toMatchObject({ code: "E_CHECKSUM_MISMATCH" });
    expect(await store.appendLog({ ...ref, content: "step 3\n" })).toMatchObject({ seq: 3, offset: 14 });
    const read = await store.readLiveLog(ref, { offset: 7 });
    expect(await new Response(read?.body).text()).toBe("step 2\nstep 3\n");
    expect(read?.status).toMatchObject({ size: 21, chunks: 3, state: "open" });
    expect((await store.liveLogs()).map((log) => log.taskId)).toEqual(["run-7"]);
  });

  test("seal commits an ordinary version (checksum, gzip, summary, tags) and removes the chunks", async () => {
    current = await makeFsStore();
    const { store, backend } = current;
    const lines = ["boot\n", "WARN slow disk\n", "ERROR: test failed\n", "done\n"];
    for (const [index, line] of lines.entries()) await store.appendLog({ ...ref, seq: index + 1, content: line });
    expect((await backend.list({ prefix: ".store/live/" })).objects).toHaveLength(4);
    const whole = lines.join("");
    const sealed = await store.sealLog({ ...ref, tags: ["live"], expectedChecksum: await sha256Hex(whole) });
    const uploaded = await store.upload({ ...ref, taskId: "uploaded", type: "log", content: whole, tags: ["live"] });
    // The stored gzip may differ in its header's timestamp; the content and everything else must not.
    const comparable = ({
      uri: _uri,
      taskId: _task,
      createdAt: _created,
      expiresAt: _expires,
      checksum: _storedChecksum,
      ...rest
    }: typeof sealed) => rest;
    expect(comparable(sealed)).toEqual(comparable(uploaded));
    expect(sealed).toMatchObject({ version: 1, compressed: true, originalSize: whole.length, tags: ["live"] });
    expect(sealed.summary).toMatchObject({ kind: "log", lines: 4, errors: 1, warnings: 1 });
    expect(await store.downloadText(sealed.uri)).toBe(whole);
    expect((await backend.list({ prefix: ".store/live/" })).objects).toEqual([]);
    expect(await store.readLiveLog(ref)).toBeNull();
    // gc leaves live chunks alone and finds nothing to remove after a seal.
    await store.appendLog({ ...ref, seq: 1, content: "next run\n" });
    const gc = await store.gc({ graceMs: 0 });
    expect(gc.orphanObjects).toEqual([]);
    expect((await backend.list({ prefix: ".store/live/" })).objects).toHaveLength(1);
  });

  test("chunks are the store's own files (.store/live/), never in a task folder; a log an earlier release left under .live/ is read, sealed and removed", async () => {
    current = await makeFsStore();
    const { store, backend, root } = current;
    await store.appendLog({ ...ref, seq: 1, content: "old release\n" });
    const [key = ""] = (await backend.list({ prefix: ".store/live/" })).objects.map((object) => object.key);
    expect(key).toStartWith(`.store/live/${ref.specName}/${ref.taskId}/log/`);
    expect(await readdir(root)).toEqual([".store"]);
    // As the earlier release left it: the chunk under .live/, its row naming that key.
    const legacy = key.replace(/^\.store\/live\//, ".live/");
    await rename(join(root, key), await placeFor(root, legacy));
    const db = createClient({ url: `file:${join(root, ".store", "metadata.db")}` });
    await db.execute({ sql: "UPDATE live_log_chunks SET storage_key = ?", args: [legacy] });
    db.close();
    await store.appendLog({ ...ref, seq: 2, content: "new release\n" });
    expect(await new Response((await store.readLiveLog(ref))?.body).text()).toBe("old release\nnew release\n");
    expect(await store.downloadText((await store.sealLog(ref)).uri)).toBe("old release\nnew release\n");
    expect((await backend.list({ prefix: ".live/" })).objects).toEqual([]);
    expect((await backend.list({ prefix: ".store/live/" })).objects).toEqual([]);
  });

  test("a seal whose whole-log checksum differs commits nothing and leaves the log open", async () => {
    current = await makeFsStore();
    const { store } = current;
    await store.appendLog({ ...ref, seq: 1, content: "a\n" });
    await expect(store.sealLog({ ...ref, expectedChecksum: "f".repeat(64) })).rejects.toMatchObject({
      code: "E_CHECKSUM_MISMATCH",
    });
    expect(await store.search({})).toEqual([]);
    expect((await store.appendLog({ ...ref, seq: 2, content: "b\n" })).totalSize).toBe(4);
    expect((await store.sealLog(ref)).originalSize).toBe(4);
    await expect(store.sealLog(ref)).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  });

  test("a chunk damaged in storage stops the seal: nothing is committed", async () => {
    current = await makeFsStore();
    const { store, backend } = current;
    await store.appendLog({ ...ref, seq: 1, content: "good\n" });
    const [chunk] = (await backend.list({ prefix: ".store/live/" })).objects;
    await backend.put(chunk?.key as string, new Blob(["evil\n"]).stream() as ReadableStream<Uint8Array>);
    await expect(store.sealLog(ref)).rejects.toMatchObject({ code: "E_CORRUPT" });
    expect(await store.search({})).toEqual([]);
    expect(await store.discardLog(ref)).toBe(true);
    expect((await backend.list({ prefix: ".store/live/" })).objects).toEqual([]);
  });
});

describe("live logs over HTTP", () => {
  test("append with Content-Digest and seq, read with Range while open, seal with Repr-Digest", async () => {
    current = await makeFsStore();
    const app = createApp({ store: current.store });
    const append = (seq: number, body: string, digest?: string) =>
      app.request(`/v1/artifacts/agent/run-7/log:append?seq=${seq}`, {
        method: "POST",
        body,
        headers: digest ? { "Content-Digest": `sha-256=:${digest}:` } : {},
      });
    expect((await append(1, "one\n", await base64Sha256("one\n"))).status).toBe(201);
    expect((await append(1, "one\n")).status).toBe(200);
    const mismatch = await append(2, "two\n", await base64Sha256("not two\n"));
    expect(mismatch.status).toBe(422);
    expect((await append(2, "two\n", await base64Sha256("two\n"))).status).toBe(201);
    expect((await append(5, "five\n")).status).toBe(409);

    const partial = await app.request("/v1/artifacts/agent/run-7/log:live", { headers: { Range: "bytes=4-" } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get("content-range")).toBe("bytes 4-7/8");
    expect(partial.headers.get("x-live-state")).toBe("open");
    expect(await partial.text()).toBe("two\n");
    expect((await app.request("/v1/artifacts/agent/run-7/log:live", { headers: { Range: "bytes=8-" } })).status).toBe(
      416,
    );
    expect((await (await app.request("/v1/live")).json()).items).toMatchObject([
      { taskId: "run-7", size: 8, chunks: 2 },
    ]);

    const seal = await app.request("/v1/artifacts/agent/run-7/log:seal", {
      method: "POST",
      headers: { "Repr-Digest": `sha-256=:${await base64Sha256("one\ntwo\n")}:`, "X-Artifact-Tags": "agent" },
    });
    expect(seal.status).toBe(201);
    expect(await seal.json()).toMatchObject({ version: 1, tags: ["agent"], originalSize: 8 });
    expect(await (await app.request("/v1/artifacts/agent/run-7/log")).text()).toBe("one\ntwo\n");
    expect((await app.request("/v1/artifacts/agent/run-7/log:live")).status).toBe(404);
    // A path with a bad action is not mistaken for a type.
    expect((await app.request("/v1/artifacts/agent/run-7/log:explode", { method: "POST" })).status).toBe(404);
  });

  test("appending needs the write scope; reading a live log needs read", async () => {
    current = await makeFsStore();
    const reader = "reader-token";
    const app = createApp({
      store: current.store,
      tokens: [{ name: "r", sha256: await sha256Hex(reader), scopes: ["read"] }],
    });
    const denied = await app.request("/v1/artifacts/agent/run-7/log:append", {
      method: "POST",
      body: "x\n",
      headers: { Authorization: `Bearer ${reader}` },
    });
    expect(denied.status).toBe(403);
    expect((await app.request("/v1/live", { headers: { Authorization: `Bearer ${reader}` } })).status).toBe(200);
    expect((await app.request("/v1/live")).status).toBe(401);
  });
});

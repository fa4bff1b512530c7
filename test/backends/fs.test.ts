import { describe, expect, test } from "bun:test";
import { readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFsBackend } from "../../src/backends/fs.ts";
import { streamFromBytes } from "../../src/codec/streams.ts";
import { failingStream, makeTempDir } from "../helpers/store.ts";
import { describeBackendContract } from "./contract.ts";

describeBackendContract("fs", async () => {
  const dir = await makeTempDir("fs-contract");
  return { backend: createFsBackend({ root: dir.path }), cleanup: dir.cleanup };
});

describe("fs backend on disk", () => {
  test("objects are plain files at their key, and staging is empty after each put", async () => {
    const dir = await makeTempDir();
    const backend = createFsBackend({ root: dir.path });
    await backend.put("spec/task/v1/log.txt", streamFromBytes(new TextEncoder().encode("hello")));
    expect((await stat(join(dir.path, "spec", "task", "v1", "log.txt"))).size).toBe(5);
    expect(await readdir(backend.stagingDir)).toEqual([]);
    expect(backend.uriFor("spec/task/v1/log.txt")).toBe(`file://${dir.path}/spec/task/v1/log.txt`);
    await dir.cleanup();
  });

  test("get honours its signal: aborted before, it reads nothing; aborted while reading, the body stops", async () => {
    const dir = await makeTempDir();
    const backend = createFsBackend({ root: dir.path, readChunkSize: 64 * 1024 });
    await backend.put("spec/task/v1/log.txt", streamFromBytes(new Uint8Array(1 << 20)));
    await expect(backend.get("spec/task/v1/log.txt", { signal: AbortSignal.abort(new Error("gone")) })).rejects.toThrow(
      "gone",
    );
    const controller = new AbortController();
    const object = await backend.get("spec/task/v1/log.txt", { signal: controller.signal });
    const reader = object?.body.getReader();
    expect((await reader?.read())?.value?.length).toBe(64 * 1024);
    controller.abort(new Error("client disconnected"));
    await expect(reader?.read() ?? Promise.resolve()).rejects.toThrow("client disconnected");
    await dir.cleanup();
  });

  test("a failed put leaves no staging file and no target file", async () => {
    const dir = await makeTempDir();
    const backend = createFsBackend({ root: dir.path });
    const chunk = new Uint8Array(1 << 20);
    // put rejects with the body's own error, and leaves nothing behind.
    await expect(
      backend.put("spec/task/v1/log.txt", failingStream([chunk, chunk], new Error("client went away"))),
    ).rejects.toThrow("client went away");
    expect(await readdir(backend.stagingDir)).toEqual([]);
    expect(await readdir(dir.path)).toEqual([".store"]);
    await dir.cleanup();
  });

  test("deleting the last object of a folder removes the empty folders up to the root", async () => {
    const dir = await makeTempDir();
    const backend = createFsBackend({ root: dir.path });
    await backend.put("spec/task/v1/log.txt", streamFromBytes(new Uint8Array([1])));
    await backend.put("spec/other/v1/log.txt", streamFromBytes(new Uint8Array([1])));
    await backend.delete("spec/task/v1/log.txt");
    expect((await readdir(dir.path)).sort()).toEqual([".store", "spec"]);
    expect(await readdir(join(dir.path, "spec"))).toEqual(["other"]);
    await dir.cleanup();
  });

  test("the store's own folder is neither listed nor writable through keys", async () => {
    const dir = await makeTempDir();
    const backend = createFsBackend({ root: dir.path });
    await backend.put("spec/task/v1/log.txt", streamFromBytes(new Uint8Array([1])));
    expect((await backend.list()).objects.map((object) => object.key)).toEqual(["spec/task/v1/log.txt"]);
    await expect(backend.put(".store/metadata.db", streamFromBytes(new Uint8Array([1])))).rejects.toThrow(/reserved/);
    await dir.cleanup();
  });

  test("cleanStaging removes only staging files older than the grace period, and a dry run removes none", async () => {
    const dir = await makeTempDir();
    const backend = createFsBackend({ root: dir.path });
    await backend.put("spec/task/v1/log.txt", streamFromBytes(new Uint8Array([1])));
    const stale = join(backend.stagingDir, "crashed-upload.tmp");
    const fresh = join(backend.stagingDir, "in-flight.tmp");
    await writeFile(stale, "partial");
    await writeFile(fresh, "partial");
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(stale, hourAgo, hourAgo);
    expect(await backend.cleanStaging(600_000, { dryRun: true })).toEqual(["crashed-upload.tmp"]);
    expect((await readdir(backend.stagingDir)).sort()).toEqual(["crashed-upload.tmp", "in-flight.tmp"]);
    expect(await backend.cleanStaging(600_000)).toEqual(["crashed-upload.tmp"]);
    expect(await readdir(backend.stagingDir)).toEqual(["in-flight.tmp"]);
    await dir.cleanup();
  });
});

describe("fs backend: the disk under it", () => {
  test("reports the volume's space, keeps a real reserve file for deletes, gives it back and takes it again", async () => {
    const dir = await makeTempDir();
    const backend = createFsBackend({ root: join(dir.path, "not-yet-created"), reserveBytes: 3 * 1024 * 1024 + 5 });
    // Before the root exists, the figures come from the volume it will be on.
    const empty = await backend.volumeSpace?.();
    expect(empty?.totalBytes).toBeGreaterThan(0);
    expect(empty?.reservedBytes).toBe(0);
    await backend.restoreHeadroom?.();
    const reservePath = join(dir.path, "not-yet-created", ".store", "disk-reserve");
    const reserve = await stat(reservePath);
    expect(reserve.size).toBe(3 * 1024 * 1024 + 5);
    expect(reserve.blocks * 512).toBeGreaterThanOrEqual(reserve.size); // written, not sparse
    expect((await backend.volumeSpace?.())?.reservedBytes).toBe(reserve.size);
    expect((await backend.list()).objects).toEqual([]); // the store's own file is no object

    expect(await backend.releaseHeadroom?.()).toBe(true);
    expect((await backend.volumeSpace?.())?.reservedBytes).toBe(0);
    expect(await backend.releaseHeadroom?.()).toBe(false);
    await backend.restoreHeadroom?.();
    expect((await backend.volumeSpace?.())?.reservedBytes).toBe(3 * 1024 * 1024 + 5);

    // A smaller setting gives the difference back; none removes the file.
    await createFsBackend({ root: join(dir.path, "not-yet-created"), reserveBytes: 1024 }).restoreHeadroom?.();
    expect((await stat(reservePath)).size).toBe(1024);
    await createFsBackend({ root: join(dir.path, "not-yet-created") }).restoreHeadroom?.();
    await expect(stat(reservePath)).rejects.toThrow();
    await dir.cleanup();
  });
});

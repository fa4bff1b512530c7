/**
 * Downloads keep the rows they read until anything is committed (record-cache.ts): whatever
 * changes a version — a replace, delete or pin by this store or by another store on the same
 * database (as two servers sharing one store do) — is seen by the next read.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { copyFile, mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { createFsBackend } from "../../src/backends/fs.ts";
import { type ArtifactStore, createArtifactStore } from "../../src/core/store.ts";
import { openFileClient } from "../../src/metadata/file-client.ts";
import { openLibsqlClient, openLocalMetadata } from "../../src/metadata/local.ts";
import { makeTempDir } from "../helpers/store.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Two stores on one base path and one database file, each with its own connection. */
async function twoStores(versioningEnabled: boolean): Promise<[ArtifactStore, ArtifactStore]> {
  const dir = await makeTempDir("record-cache");
  cleanups.push(dir.cleanup);
  const open = async () => {
    const store = createArtifactStore({
      backend: createFsBackend({ root: dir.path }),
      metadata: await openLocalMetadata({ url: join(dir.path, ".store", "metadata.db") }),
      config: { versioningEnabled },
    });
    cleanups.push(() => store.close());
    return store;
  };
  return [await open(), await open()];
}

const ref = { specName: "s", taskId: "t", type: "log" } as const;

describe("rows a download read are seen anew after any commit", () => {
  test("a replace by a second store on the same database is read by the first on its next GET", async () => {
    const [first, second] = await twoStores(false);
    await first.upload({ ...ref, content: "version one\n" });
    expect(await first.downloadText(ref)).toBe("version one\n");
    expect(await first.downloadText(ref)).toBe("version one\n");
    await second.upload({ ...ref, content: "version two\n" });
    expect(await first.downloadText(ref)).toBe("version two\n");
    expect((await first.stat(ref))?.version).toBe(2);
  });

  test("a delete by a second store is seen by the first: not found, not the old bytes", async () => {
    const [first, second] = await twoStores(true);
    const stored = await first.upload({ ...ref, content: "soon gone\n" });
    expect(await first.downloadText(stored.uri)).toBe("soon gone\n");
    expect(await second.delete(ref)).toBe(1);
    expect((await first.download(stored.uri).catch((error) => error)).code).toBe("E_NOT_FOUND");
    expect(await first.stat(ref)).toBeNull();
  });

  test("a pin by a second store and a new version by the first itself show on the next read", async () => {
    const [first, second] = await twoStores(true);
    await first.upload({ ...ref, content: "one\n" });
    expect((await first.stat({ ...ref, version: 1 }))?.pinned).toBe(false);
    await second.update({ ...ref, version: 1 }, { pinned: true });
    expect((await first.stat({ ...ref, version: 1 }))?.pinned).toBe(true);
    expect(await first.downloadText(ref)).toBe("one\n");
    await first.upload({ ...ref, content: "two\n" });
    expect(await first.downloadText(ref)).toBe("two\n");
    expect(await first.downloadText({ ...ref, version: 1 })).toBe("one\n");
  });
});

test("a download's lighter lookup (no tags, summary or secrets) is never served to a caller of the whole record", async () => {
  const [store] = await twoStores(true);
  await store.upload({ ...ref, content: "ERROR: boom\nline two\n", tags: ["nightly"], metadata: { run: 7 } });
  for (const target of [ref, { ...ref, version: 1 }]) {
    // The download's row is read first (what GET and HEAD do), so the record cache holds it...
    const read = await store.prepareRead(target);
    expect(read.metadata.version).toBe(1);
    expect(read.metadata.metadata).toEqual({ run: 7 });
    expect(await new Response((await read.open()).body).text()).toBe("ERROR: boom\nline two\n");
    // ...and every caller of the whole record still gets its tags and summary.
    const stat = await store.stat(target);
    expect(stat?.tags).toEqual(["nightly"]);
    expect(stat?.summary).not.toBeNull();
    expect((await store.prepareOpen(target)).metadata.tags).toEqual(["nightly"]);
    expect((await store.open(target)).metadata.tags).toEqual(["nightly"]);
    expect((await store.search({ specName: ref.specName }))[0]?.tags).toEqual(["nightly"]);
    expect((await store.prepareRead(target)).metadata.originalSize).toBe(21);
  }
});

test("a database reached through a link (moved to another disk) takes strict writes, and a stale -shm beside the link does not freeze what downloads keep", async () => {
  const dir = await makeTempDir("record-cache-link");
  cleanups.push(dir.cleanup);
  // SQLite keeps -wal and -shm beside the real file. A -shm left beside the link (a crash before
  // the move) holds a settled WAL index header that never changes again.
  const stale = join(dir.path, "stale.db");
  const other = openFileClient(stale);
  await other.execute("PRAGMA journal_mode = WAL");
  await other.execute("CREATE TABLE t (x INTEGER)");
  await other.execute("INSERT INTO t VALUES (1)");
  await mkdir(join(dir.path, "disk2"));
  await mkdir(join(dir.path, ".store"));
  await symlink(join(dir.path, "disk2", "metadata.db"), join(dir.path, ".store", "metadata.db"));
  await copyFile(`${stale}-shm`, join(dir.path, ".store", "metadata.db-shm"));
  other.close();
  const open = async () => {
    const store = createArtifactStore({
      backend: createFsBackend({ root: dir.path }),
      metadata: await openLocalMetadata({ url: join(dir.path, ".store", "metadata.db") }),
      config: { versioningEnabled: false },
    });
    cleanups.push(() => store.close());
    return store;
  };
  const [first, second] = [await open(), await open()];
  await first.upload({ ...ref, content: "version one\n" });
  expect(await first.downloadText(ref)).toBe("version one\n");
  await second.upload({ ...ref, content: "version two\n" });
  expect(await first.downloadText(ref)).toBe("version two\n");
  await second.delete(ref);
  expect(await first.stat(ref)).toBeNull();
});

/** A client on a fresh database file, and a second connection to it. */
async function stampedClients(opener: "file client" | "local opener") {
  const dir = await makeTempDir("change-stamp");
  cleanups.push(dir.cleanup);
  const path = join(dir.path, "stamp.db");
  const ours = (opener === "file client" ? openFileClient(path) : await openLibsqlClient({ url: path })) as Client & {
    changeStamp(): string;
  };
  const theirs = openFileClient(path);
  cleanups.push(async () => {
    ours.close();
    theirs.close();
  });
  await ours.execute("PRAGMA journal_mode = WAL");
  await ours.execute("CREATE TABLE t (x INTEGER)");
  return { ours, theirs };
}

// The local opener reads the stamp from the WAL index; the bare client asks SQLite.
for (const opener of ["file client", "local opener"] as const) {
  test(`a local file's change stamp moves with its own writes and other connections' commits, and only then (${opener})`, async () => {
    const { ours, theirs } = await stampedClients(opener);
    const start = ours.changeStamp();
    await ours.execute("SELECT count(*) FROM t");
    await theirs.execute("SELECT count(*) FROM t");
    expect(ours.changeStamp()).toBe(start);
    await ours.execute("INSERT INTO t VALUES (1)");
    const afterOwn = ours.changeStamp();
    expect(afterOwn).not.toBe(start);
    await theirs.execute("INSERT INTO t VALUES (2)");
    const afterTheirs = ours.changeStamp();
    expect(afterTheirs).not.toBe(afterOwn);
    await theirs.batch(["INSERT INTO t VALUES (3)", "DELETE FROM t WHERE x = 3"], "write");
    expect(ours.changeStamp()).not.toBe(afterTheirs);
  });
}

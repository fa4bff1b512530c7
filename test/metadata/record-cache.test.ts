/**
 * Downloads keep the rows they read until the change log names their series (record-cache.ts):
 * whatever changes a version — a replace, delete or pin by this store, by another store on the
 * same database (as two servers sharing one store do) or by another process — is seen by the
 * next read, and commits to other series (other uploads, the materialiser) keep what was read.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { Client, InStatement } from "@libsql/client";
import { createFsBackend } from "../../src/backends/fs.ts";
import { type ArtifactStore, createArtifactStore } from "../../src/core/store.ts";
import { openFileClient } from "../../src/metadata/file-client.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { openLibsqlClient, openLocalMetadata } from "../../src/metadata/local.ts";
import { bunBinary, repoRoot } from "../helpers/server-process.ts";
import { makeTempDir } from "../helpers/store.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Two stores on one base path and one database file, each with its own connection. */
async function twoStores(
  versioningEnabled: boolean,
  onDatabase?: (path: string) => void,
): Promise<[ArtifactStore, ArtifactStore]> {
  const dir = await makeTempDir("record-cache");
  cleanups.push(dir.cleanup);
  onDatabase?.(join(dir.path, ".store", "metadata.db"));
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

/**
 * A store as the server runs it (small first versions committed inline) in a temporary folder,
 * whose database client records the text of every statement it runs.
 */
async function recordedStore(label: string) {
  const dir = await makeTempDir(label);
  cleanups.push(dir.cleanup);
  const basePath = dir.path;
  const client = await openLibsqlClient({ url: join(basePath, ".store", "metadata.db") });
  const statements: string[] = [];
  const recording = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "execute" || property === "executeValues" || property === "executeFirstValues") {
        return (statement: InStatement) => {
          statements.push(typeof statement === "string" ? statement : statement.sql);
          return value.call(target, statement);
        };
      }
      return value.bind(target);
    },
  });
  const store = createArtifactStore({
    backend: createFsBackend({ root: basePath }),
    metadata: await createLibsqlMetadata({ client: recording }),
    config: { versioningEnabled: false },
    inlineSmallUploads: true,
  });
  cleanups.push(() => store.close());
  /** The lookups of rows (`artifacts`) a call made: the change log and inline bytes do not count. */
  const rowLookups = async (call: () => Promise<unknown>) => {
    const from = statements.length;
    await call();
    return statements.slice(from).filter((sql) => /^select/i.test(sql) && /from "artifacts"/.test(sql));
  };
  return { store, rowLookups, basePath };
}

/** The CLI in a process of its own, on the same store. */
function otherProcess(basePath: string, args: string[], input?: string): string {
  const run = spawnSync(bunBinary, [join(repoRoot, "src/runtime/cli.ts"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: basePath, ARTIFACT_STORE_BASE_PATH: basePath },
    ...(input === undefined ? {} : { input }),
  });
  if (run.status !== 0) throw new Error(`artifact-store ${args.join(" ")}: ${run.status} ${run.stderr}`);
  return run.stdout;
}

describe("rows kept across commits that do not touch their series", () => {
  test("a download right after an upload looks up no row, nor after other uploads and the materialiser commit", async () => {
    const { store, rowLookups } = await recordedStore("record-cache-seeded");
    await store.upload({ ...ref, content: "fresh\n" });
    expect(await rowLookups(async () => expect(await store.downloadText(ref)).toBe("fresh\n"))).toEqual([]);
    // Other series committed (inline, then materialised by the background pass): still no lookup.
    for (let task = 0; task < 20; task++) await store.upload({ ...ref, taskId: `other-${task}`, content: `${task}\n` });
    await Bun.sleep(100);
    expect(await rowLookups(async () => expect(await store.downloadText(ref)).toBe("fresh\n"))).toEqual([]);
    expect(
      await rowLookups(async () => expect(await store.downloadText({ ...ref, version: 1 })).toBe("fresh\n")),
    ).toEqual([]);
    // A change to the series itself is looked up again.
    await store.upload({ ...ref, content: "replaced\n" });
    expect(await store.downloadText(ref)).toBe("replaced\n");
  });

  test("another process replacing, then deleting, a version kept here: the next download sees each", async () => {
    const { store, rowLookups, basePath } = await recordedStore("record-cache-process");
    await store.upload({ ...ref, content: "ours\n" });
    await store.upload({ ...ref, taskId: "kept", content: "kept\n" });
    expect(await store.downloadText(ref)).toBe("ours\n");
    const series = ["--spec", ref.specName, "--task", ref.taskId, "--type", ref.type];
    otherProcess(basePath, ["upload", "-", ...series], "theirs\n");
    expect(await store.downloadText(ref)).toBe("theirs\n");
    expect((await store.stat(ref))?.version).toBe(2);
    // Their commits named only that series: the other one kept here is read without a lookup.
    expect(
      await rowLookups(async () => expect(await store.downloadText({ ...ref, taskId: "kept" })).toBe("kept\n")),
    ).toEqual([]);
    otherProcess(basePath, ["rm", ...series]);
    expect((await store.download(ref).catch((error) => error)).code).toBe("E_NOT_FOUND");
    expect(await store.stat(ref)).toBeNull();
  });
});

test("a store further behind than the change log keeps starts afresh: a replacement whose entry was dropped is still seen", async () => {
  let database = "";
  const [first, second] = await twoStores(false, (path) => {
    database = path;
  });
  await first.upload({ ...ref, content: "version one\n" });
  await first.upload({ ...ref, taskId: "busy", content: "busy\n" });
  expect(await first.downloadText(ref)).toBe("version one\n");
  await second.upload({ ...ref, content: "version two\n" });
  // 6,000 more changes to another series push the replacement's entry out of the log.
  const raw = openFileClient(database);
  cleanups.push(async () => raw.close());
  const touches = Array.from({ length: 6_000 }, (_, i) => ({
    sql: "UPDATE artifacts SET expires_at = ? WHERE task_id = 'busy'",
    args: [i],
  }));
  await raw.batch(touches, "write");
  const log = await raw.execute(
    "SELECT count(*) AS n, count(CASE WHEN task_id = 't' THEN 1 END) AS ours FROM artifact_changes",
  );
  expect(Number(log.rows[0]?.n)).toBeLessThan(5_120);
  expect(Number(log.rows[0]?.ours)).toBe(0);
  expect(await first.downloadText(ref)).toBe("version two\n");
});

test("a download's last-access time is written without dropping the row kept: the next download looks up no row and shows it", async () => {
  const { store, rowLookups } = await recordedStore("record-cache-access");
  await store.upload({ ...ref, content: "read me\n" });
  expect(await store.downloadText(ref)).toBe("read me\n");
  // The access log writes last-access times in one batch, two seconds after the first read.
  await Bun.sleep(2_300);
  const written = (await store.stat(ref))?.lastAccessedAt;
  expect(written).not.toBeNull();
  let seen: string | null | undefined;
  expect(
    await rowLookups(async () => {
      seen = (await store.prepareRead(ref)).metadata.lastAccessedAt;
    }),
  ).toEqual([]);
  expect(seen).toBe(written);
});

test("every column of artifacts but its last-access time is logged when updated, so no other change is missed", async () => {
  const dir = await makeTempDir("record-cache-columns");
  cleanups.push(dir.cleanup);
  const client = await openLibsqlClient({ url: join(dir.path, "metadata.db") });
  cleanups.push(async () => client.close());
  await createLibsqlMetadata({ client });
  const columns = (await client.execute("SELECT name FROM pragma_table_info('artifacts')")).rows.map((row) =>
    String(row.name),
  );
  await client.execute(
    "INSERT INTO artifacts (spec_name, task_id, type, version, uri, storage_key, compressed, mime_type, state, created_at) VALUES ('s', 't', 'log', 1, 'u', 'k', 0, 'text/plain', 'committed', 0)",
  );
  const logged: string[] = [];
  for (const column of columns) {
    const before = Number((await client.execute("SELECT count(*) AS n FROM artifact_changes")).rows[0]?.n);
    await client.execute(`UPDATE artifacts SET ${column} = ${column}`);
    const after = Number((await client.execute("SELECT count(*) AS n FROM artifact_changes")).rows[0]?.n);
    if (after > before) logged.push(column);
  }
  expect(columns.filter((column) => !logged.includes(column))).toEqual(["last_accessed_at"]);
});

/**
 * A metadata statement that meets another process's lock (two servers on one database) waits
 * for it and succeeds instead of failing SQLITE_BUSY — the scale-out test's occasional 500 on a
 * retention sweep. The file connection here does not wait inside SQLite (busy timeout 0), so
 * every statement meets the lock at once while the other connection holds its write transaction.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openFileClient } from "../../src/metadata/file-client.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { makeTempDir } from "../helpers/store.ts";

async function repositoryBesideAnotherWriter() {
  const dir = await makeTempDir("busy-retry");
  const path = join(dir.path, "metadata.db");
  const metadata = await createLibsqlMetadata({ client: openFileClient(path, { timeout: 0 }) });
  const other = openFileClient(path, { timeout: 0 });
  return {
    metadata,
    other,
    /** The other process takes the write lock and holds it for `ms` before committing. */
    async holdWriteLock(ms: number) {
      await other.execute("BEGIN IMMEDIATE");
      await other.execute("DELETE FROM task_leases WHERE spec_name = 'nobody'");
      return new Promise<void>((resolve) => setTimeout(() => void other.execute("COMMIT").then(() => resolve()), ms));
    },
    async close() {
      await metadata.close();
      other.close();
      await dir.cleanup();
    },
  };
}

test("taking and giving back a task's lease wait for another process's write transaction instead of failing SQLITE_BUSY", async () => {
  const { metadata, other, holdWriteLock, close } = await repositoryBesideAnotherWriter();
  try {
    // The lease row is one autocommit statement (not a write batch).
    let released = holdWriteLock(300);
    expect(await metadata.takeTaskLease("chat-app", "1.1", "server-a", 10_000)).toBe(true);
    await released;
    expect(await metadata.taskLeaseHolder("chat-app", "1.1")).toBe("server-a");

    released = holdWriteLock(300);
    await metadata.releaseTaskLease("chat-app", "1.1", "server-a");
    await released;
    expect(await metadata.taskLeaseHolder("chat-app", "1.1")).toBeNull();
    const rows = await other.execute("SELECT count(*) AS n FROM task_leases");
    expect(Number(rows.rows[0]?.n)).toBe(0);
  } finally {
    await close();
  }
});

test("a search waits for another process's exclusive transaction instead of failing SQLITE_BUSY", async () => {
  const { metadata, other, close } = await repositoryBesideAnotherWriter();
  try {
    // Not in WAL mode here: an exclusive transaction keeps every reader out until it ends.
    await other.execute("BEGIN EXCLUSIVE");
    await other.execute("DELETE FROM task_leases WHERE spec_name = 'nobody'");
    let committed = false;
    setTimeout(() => void other.execute("COMMIT").then(() => (committed = true)), 300);
    expect(await metadata.search({ specName: "chat-app", limit: 10 })).toEqual([]);
    expect(committed).toBe(true);
  } finally {
    await close();
  }
});

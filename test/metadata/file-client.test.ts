/**
 * The local file client (statements prepared once and reused) answers exactly as
 * `@libsql/client`'s own file client does, on real database files.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Client, createClient, type ResultSet } from "@libsql/client";
import { openFileClient } from "../../src/metadata/file-client.ts";
import { executeFirstValues, executeValues } from "../../src/metadata/libsql-prepared.ts";

const dirs: string[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function twoClients(): Promise<{ ours: Client; theirs: Client }> {
  const dir = await mkdtemp(join(tmpdir(), "file-client-"));
  dirs.push(dir);
  const path = join(dir, "test.db");
  const ours = openFileClient(path, { timeout: 5000 });
  const theirs = createClient({ url: pathToFileURL(path).href });
  clients.push(ours, theirs);
  await ours.execute("PRAGMA journal_mode = WAL");
  await ours.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, size INTEGER, data BLOB)");
  return { ours, theirs };
}

const shape = (result: ResultSet) => ({
  columns: result.columns,
  rows: result.rows.map((row) => ({ byName: { ...row }, byIndex: Array.from(row), length: row.length })),
  rowsAffected: result.rowsAffected,
  lastInsertRowid: result.lastInsertRowid,
});

test("the same statements give the same results, rows by name and by index, as @libsql/client", async () => {
  const { ours, theirs } = await twoClients();
  const insert = "INSERT INTO t (name, size) VALUES (?, ?)";
  const insertReturning = "INSERT INTO t (name, size) VALUES (?, ?) RETURNING id, name, size";
  const select = "SELECT id, name, size, size * 2 AS double FROM t WHERE size >= ? ORDER BY id";
  const mineInserted = await ours.execute({ sql: insert, args: ["a", 1] });
  const theirsInserted = await theirs.execute({ sql: insert, args: ["b", 2] });
  expect({ ...shape(mineInserted), lastInsertRowid: 2n as bigint | undefined }).toEqual(shape(theirsInserted));
  expect(mineInserted.lastInsertRowid).toBe(1n);
  for (const [name, size] of [
    ["c", 3],
    ["d", 4],
  ] as const) {
    // Twice each: the second call reuses the prepared statement.
    const mine = await ours.execute({ sql: insertReturning, args: [`${name}1`, size] });
    const reference = await theirs.execute({ sql: insertReturning, args: [`${name}2`, size] });
    expect(mine.columns).toEqual(reference.columns);
    expect(mine.rows[0]?.size).toBe(size);
  }
  expect(shape(await ours.execute({ sql: select, args: [2] }))).toEqual(
    shape(await theirs.execute({ sql: select, args: [2] })),
  );
  expect(shape(await ours.execute({ sql: "SELECT name FROM t WHERE size > ?", args: [100] }))).toEqual(
    shape(await theirs.execute({ sql: "SELECT name FROM t WHERE size > ?", args: [100] })),
  );
});

test("a reused statement sees what another connection committed since", async () => {
  const { ours, theirs } = await twoClients();
  const count = "SELECT count(*) AS n FROM t";
  expect((await ours.execute(count)).rows[0]?.n).toBe(0);
  await theirs.execute({ sql: "INSERT INTO t (name, size) VALUES (?, ?)", args: ["elsewhere", 1] });
  expect((await ours.execute(count)).rows[0]?.n).toBe(1);
});

test("a batch whose statement fails writes nothing and names SQLite's error and the statement", async () => {
  const { ours } = await twoClients();
  await ours.execute({ sql: "INSERT INTO t (name, size) VALUES (?, ?)", args: ["taken", 1] });
  const failing = ours.batch([
    { sql: "INSERT INTO t (name, size) VALUES (?, ?)", args: ["new", 2] },
    { sql: "INSERT INTO t (name, size) VALUES (?, ?)", args: ["taken", 3] },
  ]);
  await expect(failing).rejects.toMatchObject({ code: "SQLITE_CONSTRAINT", statementIndex: 1 });
  expect((await ours.execute("SELECT name FROM t ORDER BY name")).rows.map((row) => row.name)).toEqual(["taken"]);
  // The connection is usable again: the failed transaction was rolled back.
  const [inserted] = await ours.batch([{ sql: "INSERT INTO t (name, size) VALUES (?, ?)", args: ["new", 2] }]);
  expect(inserted?.rowsAffected).toBe(1);
});

test("blobs go in as bytes and come back as an ArrayBuffer, as @libsql/client gives them", async () => {
  const { ours, theirs } = await twoClients();
  await ours.execute({ sql: "INSERT INTO t (name, data) VALUES (?, ?)", args: ["bytes", new Uint8Array([1, 2, 3])] });
  const mine = (await ours.execute("SELECT data FROM t")).rows[0]?.data;
  const reference = (await theirs.execute("SELECT data FROM t")).rows[0]?.data;
  expect(mine).toBeInstanceOf(ArrayBuffer);
  expect([...new Uint8Array(mine as ArrayBuffer)]).toEqual([...new Uint8Array(reference as ArrayBuffer)]);
});

test("rows by position (a reader that makes no row objects) hold what execute's rows hold, from either client", async () => {
  const { ours, theirs } = await twoClients();
  await ours.execute({ sql: "INSERT INTO t (name, size, data) VALUES (?, ?, ?)", args: ["a", 1, new Uint8Array([7])] });
  await ours.execute({ sql: "INSERT INTO t (name, size) VALUES (?, ?)", args: ["b", null] });
  const select = { sql: "SELECT id, name, size, data FROM t WHERE id >= ? ORDER BY id", args: [1] };
  const expected = (await theirs.execute(select)).rows.map((row) => Array.from(row));
  for (const client of [ours, theirs]) {
    const rows = (await executeValues(client, select)).map((row) => Array.from(row));
    expect(rows.map((row) => [row[0], row[1], row[2]])).toEqual(expected.map((row) => [row[0], row[1], row[2]]));
    expect([...new Uint8Array(rows[0]?.[3] as ArrayBuffer)]).toEqual([7]);
    expect(rows[1]?.[3]).toBeNull();
  }
  await expect(executeValues(ours, { sql: "SELECT nope FROM t", args: [] })).rejects.toMatchObject({
    code: "SQLITE_ERROR",
  });
  // One row read with one step: the first of the rows, or none, as execute gives it, and the
  // statement left reset (another connection's checkpoint is not held back by it).
  for (const client of [ours, theirs]) {
    const first = await executeFirstValues(client, select);
    expect([first?.[0], first?.[1], first?.[2]]).toEqual(expected[0]?.slice(0, 3) ?? []);
    expect([...new Uint8Array(first?.[3] as ArrayBuffer)]).toEqual([7]);
    expect(await executeFirstValues(client, { sql: select.sql, args: [1_000] })).toBeUndefined();
  }
  expect((await theirs.execute("PRAGMA wal_checkpoint(TRUNCATE)")).rows[0]?.[0]).toBe(0);
});

test("a closed client refuses work with CLIENT_CLOSED", async () => {
  const { ours } = await twoClients();
  ours.close();
  await expect(ours.execute("SELECT 1")).rejects.toMatchObject({ code: "CLIENT_CLOSED" });
  await expect(executeValues(ours, "SELECT 1")).rejects.toMatchObject({ code: "CLIENT_CLOSED" });
});

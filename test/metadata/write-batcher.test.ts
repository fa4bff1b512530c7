/**
 * The metadata's write transactions when another process writes to the same database (two
 * servers on one sqld): they wait for its transaction rather than fail SQLITE_BUSY (the
 * scale-out test's occasional 500 on a PUT).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Client, createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql";
import { createWriteBatcher } from "../../src/metadata/write-batcher.ts";
import { type SqldServer, startSqld } from "../helpers/sqld.ts";

let sqld: SqldServer;
let other: Client;
let ours: Client;

beforeAll(async () => {
  sqld = await startSqld();
  other = createClient({ url: sqld.url });
  ours = createClient({ url: sqld.url });
  await other.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
  await other.execute("INSERT INTO counters VALUES ('uploads', 0)");
});

afterAll(async () => {
  other?.close();
  ours?.close();
  await sqld?.stop();
});

/** Runs `statements` through the write batcher while the other process holds a write transaction for 300 ms and commits. */
async function whileAnotherWrites(statements: string[]): Promise<unknown> {
  const transaction = await other.transaction("write");
  await transaction.execute("UPDATE counters SET value = value + 1 WHERE name = 'uploads'");
  const writes = createWriteBatcher(drizzle(ours), undefined, false);
  const outcome = writes.run(statements.map((sql) => ({ statement: { sql, args: [] }, map: (result) => result.rows })));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await transaction.commit();
  return outcome;
}

test("a write transaction that reads first waits for another process's write instead of failing SQLITE_BUSY", async () => {
  // Read, then write from what was read: the transaction must see the other process's commit.
  const results = (await whileAnotherWrites([
    "SELECT value FROM counters WHERE name = 'uploads'",
    "UPDATE counters SET value = value + 10 WHERE name = 'uploads'",
    "SELECT value FROM counters WHERE name = 'uploads'",
  ])) as { value: number }[][];
  expect(Number(results[2]?.[0]?.value)).toBe(11);
  // A plain client's default (deferred) transaction fails here: what the batcher avoids.
  const transaction = await other.transaction("write");
  await transaction.execute("UPDATE counters SET value = value + 1 WHERE name = 'uploads'");
  const deferred = ours.batch(["SELECT value FROM counters", "UPDATE counters SET value = value + 100"]).then(
    () => "committed",
    (error: unknown) => String(error),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await transaction.commit();
  expect(await deferred).toContain("SQLITE_BUSY");
  expect(Number((await ours.execute("SELECT value FROM counters")).rows[0]?.value)).toBe(12);
});

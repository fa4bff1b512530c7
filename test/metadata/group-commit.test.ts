/**
 * Group commit: concurrent writers share one transaction and one WAL fsync, and each is answered
 * only once that fsync is done; a member whose statement fails fails alone.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql/web";
import { openFileClient } from "../../src/metadata/file-client.ts";
import { createWriteBatcher } from "../../src/metadata/write-batcher.ts";
import { makeTempDir } from "../helpers/store.ts";

async function batcherOnFile() {
  const dir = await makeTempDir("write-batcher");
  const client = openFileClient(join(dir.path, "metadata.db"));
  await client.execute("CREATE TABLE items (name TEXT PRIMARY KEY)");
  const db = drizzle(client);
  const fsyncs: number[] = [];
  let commits = 0;
  const writes = createWriteBatcher(db, async () => {
    fsyncs.push(commits);
    await Bun.sleep(5);
  });
  const originalBatch = client.batch.bind(client);
  client.batch = (async (...args: Parameters<typeof client.batch>) => {
    const results = await originalBatch(...args);
    commits++;
    return results;
  }) as typeof client.batch;
  const names = async () =>
    (await client.execute("SELECT name FROM items ORDER BY name")).rows.map((row) => String(row.name));
  return {
    writes,
    insert: (name: string) => db.run(sql`INSERT INTO items (name) VALUES (${name})`),
    names,
    fsyncs,
    commits: () => commits,
    async close() {
      client.close();
      await dir.cleanup();
    },
  };
}

test("concurrent writes share one commit and one fsync, and each is answered after it", async () => {
  const batcher = await batcherOnFile();
  try {
    const answered: string[] = [];
    const writers = ["a", "b", "c", "d"].map((name) =>
      batcher.writes.run([batcher.insert(name)]).then(() => answered.push(name)),
    );
    await Promise.all(writers);
    expect(answered.sort()).toEqual(["a", "b", "c", "d"]);
    expect(batcher.commits()).toBe(1);
    expect(batcher.fsyncs).toEqual([1]);
    expect(await batcher.names()).toEqual(["a", "b", "c", "d"]);
  } finally {
    await batcher.close();
  }
});

test("a member whose statement fails fails alone; the others commit durably", async () => {
  const batcher = await batcherOnFile();
  try {
    await batcher.writes.run([batcher.insert("taken")]);
    const outcomes = await Promise.allSettled(
      ["a", "taken", "b"].map((name) => batcher.writes.run([batcher.insert(name)])),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toContain("UNIQUE");
    expect(await batcher.names()).toEqual(["a", "b", "taken"]);
    // Every answered write was followed by an fsync that started after its commit.
    expect(batcher.fsyncs.at(-1)).toBe(batcher.commits());
  } finally {
    await batcher.close();
  }
});

test("a write that need not be durable is answered without waiting for an fsync", async () => {
  const batcher = await batcherOnFile();
  try {
    await batcher.writes.run([batcher.insert("pending")], { durable: false });
    expect(batcher.fsyncs).toEqual([]);
    // Joined with a durable one, the transaction is fsynced before either is answered.
    await Promise.all([
      batcher.writes.run([batcher.insert("x")], { durable: false }),
      batcher.writes.run([batcher.insert("y")]),
    ]);
    expect(batcher.fsyncs).toEqual([2]);
    expect(await batcher.names()).toEqual(["pending", "x", "y"]);
  } finally {
    await batcher.close();
  }
});

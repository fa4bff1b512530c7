import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { renderMigrationsModule } from "../../scripts/bundle-migrations.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { migrations } from "../../src/metadata/migrations.ts";
import { makeFsStore, makeTempDir } from "../helpers/store.ts";

const repoRoot = join(import.meta.dir, "..", "..");

describe("metadata migrations", () => {
  test("the bundled SQL module is exactly what drizzle/ holds", async () => {
    const bundled = await Bun.file(join(repoRoot, "src/metadata/migrations.ts")).text();
    expect(bundled).toBe(renderMigrationsModule());
  });

  test("the schema has no changes drizzle-kit has not generated a migration for", async () => {
    const dir = await makeTempDir("drizzle-drift");
    await cp(join(repoRoot, "drizzle"), join(dir.path, "drizzle"), { recursive: true });
    const result = spawnSync(
      join(repoRoot, "node_modules/.bin/drizzle-kit"),
      ["generate", "--dialect", "sqlite", "--schema", join(repoRoot, "src/metadata/schema.ts"), "--out", "drizzle"],
      { cwd: dir.path, encoding: "utf8" },
    );
    expect(`${result.stdout}${result.stderr}`).toContain("No schema changes");
    await dir.cleanup();
  });

  test("opening a database twice applies nothing the second time; opening concurrently is safe", async () => {
    const dir = await makeTempDir("migrate");
    const url = join(dir.path, "metadata.db");
    const [first, second] = await Promise.all([openLocalMetadata({ url }), openLocalMetadata({ url })]);
    await first.close();
    await second.close();
    const client = createClient({ url: `file:${url}` });
    const applied = await client.execute("SELECT count(*) AS n FROM __drizzle_migrations");
    expect(Number(applied.rows[0]?.n)).toBe(migrations.length);
    const tables = await client.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.rows.map((row) => row.name)).toEqual([
      "__drizzle_migrations",
      "artifact_changes",
      "artifact_diff_files",
      "artifact_inline",
      "artifact_secrets",
      "artifact_series",
      "artifact_summaries",
      "artifact_tags",
      "artifact_test_cases",
      "artifacts",
      "live_log_chunks",
      "live_logs",
      "sqlite_sequence",
      "store_usage",
      "task_leases",
    ]);
    const journal = await client.execute("PRAGMA journal_mode");
    expect(journal.rows[0]?.journal_mode).toBe("wal");
    client.close();
    await dir.cleanup();
  });

  test("drizzle-kit's own migrate agrees that a store's database is up to date", async () => {
    const dir = await makeTempDir("drizzle-migrate");
    const url = join(dir.path, "metadata.db");
    await (await openLocalMetadata({ url })).close();
    await writeFile(
      join(dir.path, "drizzle.config.ts"),
      `export default { dialect: "sqlite", out: ${JSON.stringify(join(repoRoot, "drizzle"))}, dbCredentials: { url: ${JSON.stringify(`file:${url}`)} } };\n`,
    );
    const result = spawnSync(
      join(repoRoot, "node_modules/.bin/drizzle-kit"),
      ["migrate", "--config", join(dir.path, "drizzle.config.ts")],
      {
        cwd: dir.path,
        encoding: "utf8",
      },
    );
    expect(result.status).toBe(0);
    const client = createClient({ url: `file:${url}` });
    const applied = await client.execute("SELECT count(*) AS n FROM __drizzle_migrations");
    expect(Number(applied.rows[0]?.n)).toBe(migrations.length);
    client.close();
    await dir.cleanup();
  });

  test("the usage counter kept by triggers equals the sum of stored sizes through uploads and deletes", async () => {
    const fixture = await makeFsStore({ versioningEnabled: true });
    for (let index = 0; index < 10; index++) {
      await fixture.store.upload({
        specName: "s",
        taskId: `t${index % 3}`,
        type: "log",
        content: "x".repeat(1000 * index),
      });
    }
    await fixture.store.delete({ specName: "s", taskId: "t1", type: "log" });
    const client = createClient({ url: `file:${join(fixture.root, ".store", "metadata.db")}` });
    const sum = await client.execute("SELECT coalesce(sum(size), 0) AS bytes, count(*) AS n FROM artifacts");
    const usage = await client.execute("SELECT stored_bytes, artifact_count FROM store_usage WHERE id = 1");
    expect(Number(usage.rows[0]?.stored_bytes)).toBe(Number(sum.rows[0]?.bytes));
    expect(Number(usage.rows[0]?.artifact_count)).toBe(Number(sum.rows[0]?.n));
    expect((await fixture.store.stats()).quota.usedBytes).toBe(Number(sum.rows[0]?.bytes));
    client.close();
    await fixture.cleanup();
  });

  test("the repository works on an in-memory database too", async () => {
    const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
    const record = await metadata.reserveVersion({
      specName: "s",
      taskId: "t",
      type: "log",
      compressed: true,
      mimeType: "text/plain",
      metadata: {},
      createdAt: 0,
      retentionDays: 7,
      location: { keyPrefix: "s/t/v", keySuffix: "/log.txt.gz", uriPrefix: "memory://x/" },
      reserveBytes: 0,
      maxBytes: null,
    });
    expect(record).toMatchObject({ version: 1, state: "pending", expiresAt: new Date(7 * 86_400_000).toISOString() });
    await metadata.close();
  });
});

import type { Client } from "@libsql/client";
import { ArtifactStoreError } from "../contracts/errors.ts";

/** One drizzle-kit migration, bundled as SQL statements (see `scripts/bundle-migrations.ts`). */
export interface Migration {
  tag: string;
  /** drizzle-kit's journal timestamp; also what `__drizzle_migrations.created_at` records. */
  when: number;
  /** SHA-256 of the migration file, as drizzle's own migrator stores it. */
  hash: string;
  statements: string[];
}

const JOURNAL_TABLE = "__drizzle_migrations";

/**
 * Applies the migrations the database has not seen, each in one transaction. Uses drizzle's
 * own journal table, so `drizzle-kit migrate` and this function agree on what is applied.
 * Safe when several processes open the same database at once: a process that loses the race
 * sees the migration recorded and moves on.
 */
export async function applyMigrations(client: Client, migrations: readonly Migration[]): Promise<string[]> {
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${JOURNAL_TABLE} (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
  );
  const applied: string[] = [];
  for (const migration of migrations) {
    if (await isApplied(client, migration)) continue;
    try {
      await client.batch(
        [
          ...migration.statements,
          {
            sql: `INSERT INTO ${JOURNAL_TABLE} (hash, created_at) VALUES (?, ?)`,
            args: [migration.hash, migration.when],
          },
        ],
        "write",
      );
      applied.push(migration.tag);
    } catch (error) {
      if (await isApplied(client, migration)) continue; // another process applied it first
      throw new ArtifactStoreError("E_BACKEND", `[metadata] migration ${migration.tag} failed: ${errorText(error)}`, {
        cause: error,
      });
    }
  }
  return applied;
}

async function isApplied(client: Client, migration: Migration): Promise<boolean> {
  const result = await client.execute({
    sql: `SELECT 1 FROM ${JOURNAL_TABLE} WHERE created_at = ? LIMIT 1`,
    args: [migration.when],
  });
  return result.rows.length > 0;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

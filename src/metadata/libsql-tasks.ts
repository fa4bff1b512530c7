/**
 * A task's turn and its records: the lease that serialises a task's uploads across processes
 * (held in the database, on the database's clock), and the committed versions of a task or of
 * every task (the seed layout's task files and metadata index are written from these).
 */
import type { InArgs, ResultSet } from "@libsql/client";
import { and, asc, eq, sql } from "drizzle-orm";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import { prepareStatement } from "./libsql-prepared.ts";
import { type Database, isCommitted, type SelectedRow, selection, toRecord } from "./libsql-rows.ts";
import { artifacts } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

type TaskQueries = Pick<
  MetadataRepository,
  "takeTaskLease" | "releaseTaskLease" | "taskLeaseHolder" | "listTask" | "indexSummary"
>;

/** The database's clock in ms: one clock for every process sharing it. */
const DB_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/**
 * One statement: a free lease is inserted, an expired or own one (or one whose holder has ended,
 * the last argument) taken over or extended; it changes a row only when `owner` holds the lease
 * afterwards (told by its count of changed rows: a RETURNING row cost twice the statement). Run
 * outside the write batcher: a lease needs no durability (a crash ends its holder too) and must
 * not wait for a group commit's fsync. Takes asked for in the same turn
 * (a materialising pass takes up to 256) share one transaction of their own batcher: a commit
 * alone cost each take ~40 µs of the main thread, most of a lease's cost.
 */
const TAKE_LEASE = `INSERT INTO task_leases (spec_name, task_id, owner, expires_at) VALUES (?, ?, ?, ${DB_NOW_MS} + ?)
ON CONFLICT (spec_name, task_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE task_leases.owner = excluded.owner OR task_leases.expires_at < ${DB_NOW_MS} OR task_leases.owner = ?`;
const LEASE_HOLDER = "SELECT owner FROM task_leases WHERE spec_name = ? AND task_id = ?";
export const RELEASE_LEASE = "DELETE FROM task_leases WHERE spec_name = ? AND task_id = ? AND owner = ?";

/** A lease's statement for a batch: its result is whether the lease is held. */
const heldAfter = (args: unknown[]) => ({
  statement: { sql: TAKE_LEASE, args: args as InArgs },
  map: (result: ResultSet) => result.rowsAffected === 1,
});

/** A task's committed versions (the `specName` and `taskId` placeholders), as `metadata.json` lists them. */
export const committedInTask = and(
  eq(artifacts.specName, sql.placeholder("specName")),
  eq(artifacts.taskId, sql.placeholder("taskId")),
  isCommitted,
);
export const taskOrder = [asc(artifacts.type), asc(artifacts.version)];

/** @param leases a batcher without fsync (`createWriteBatcher(db)`), for the leases alone. */
export function createTaskQueries(db: Database, leases: WriteBatcher): TaskQueries {
  // Every upload rewrites its task's metadata.json from these rows: built once (libsql-prepared.ts).
  const taskRows = prepareStatement<SelectedRow>(
    db.$client,
    db
      .select(selection)
      .from(artifacts)
      .where(committedInTask)
      .orderBy(...taskOrder),
  );
  return {
    async takeTaskLease(specName, taskId, owner, ttlMs, endedOwner) {
      // An ended holder's id, or one no owner has (ids are never empty).
      const args = [specName, taskId, owner, Math.ceil(ttlMs), endedOwner ?? ""];
      const [held] = await leases.run([heldAfter(args)]);
      return held === true;
    },

    async taskLeaseHolder(specName, taskId) {
      const result = await db.$client.execute({ sql: LEASE_HOLDER, args: [specName, taskId] });
      return result.rows.length === 1 ? String(result.rows[0]?.owner) : null;
    },

    async releaseTaskLease(specName, taskId, owner) {
      await db.$client.execute({ sql: RELEASE_LEASE, args: [specName, taskId, owner] });
    },

    async listTask(specName, taskId) {
      return (await taskRows.all({ specName, taskId })).map(toRecord);
    },

    async indexSummary() {
      const rows = await db
        .select({
          specName: artifacts.specName,
          taskId: artifacts.taskId,
          type: artifacts.type,
          latestVersion: sql<number>`max(${artifacts.version})`,
          versions: sql<number>`count(*)`,
          storedBytes: sql<number>`coalesce(sum(${artifacts.size}), 0)`,
          lastUploadAt: sql<number>`max(${artifacts.createdAt})`,
        })
        .from(artifacts)
        .where(isCommitted)
        .groupBy(artifacts.specName, artifacts.taskId, artifacts.type)
        .orderBy(asc(artifacts.specName), asc(artifacts.taskId), asc(artifacts.type));
      return rows.map((row) => ({
        ...row,
        latestVersion: Number(row.latestVersion),
        versions: Number(row.versions),
        storedBytes: Number(row.storedBytes),
        lastUploadAt: Number(row.lastUploadAt),
      }));
    },
  };
}

/**
 * Publishing a version at the seed path, and the reader's check that goes with it.
 *
 * A version goes `pending` (uploading under `.store/uploads/`) → `publishing` (final checksums
 * recorded; at most one per series, which is the series' publish lock across processes) →
 * `committed` at the seed path. While a version of a series is `publishing`, the object at its
 * seed path may be changing: readers confirm after opening that nothing was publishing and
 * that their row still names the key they opened ({@link PublishQueries.confirmRead}).
 */
import { and, asc, eq, lt, sql } from "drizzle-orm";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import { type BoundStatement, prepareStatement } from "./libsql-prepared.ts";
import { type Database, isCommitted, type SelectedRow, selection, toRecord } from "./libsql-rows.ts";
import { removeSecretsStatements, secretsStatements } from "./libsql-secrets.ts";
import { removeStructureStatements, structureStatements } from "./libsql-structure.ts";
import { artifacts, artifactTags } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

type PublishQueries = Pick<
  MetadataRepository,
  | "beginPublish"
  | "finishPublish"
  | "confirmRead"
  | "rekey"
  | "takeTaskLease"
  | "releaseTaskLease"
  | "listTask"
  | "indexSummary"
>;

/** The database's clock in ms: one clock for every process sharing it. */
const DB_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/**
 * One statement: a free lease is inserted, an expired or own one taken over or extended; a row
 * comes back only when `owner` holds the lease afterwards. Run outside the write batcher: a
 * lease needs no durability (a crash ends its holder too) and must not wait for a group commit.
 */
const TAKE_LEASE = `INSERT INTO task_leases (spec_name, task_id, owner, expires_at) VALUES (?, ?, ?, ${DB_NOW_MS} + ?)
ON CONFLICT (spec_name, task_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE task_leases.owner = excluded.owner OR task_leases.expires_at < ${DB_NOW_MS}
RETURNING owner`;
const RELEASE_LEASE = "DELETE FROM task_leases WHERE spec_name = ? AND task_id = ? AND owner = ?";

export function createPublishQueries(db: Database, writes: WriteBatcher): PublishQueries {
  // What every upload and download runs, built once (see libsql-prepared.ts).
  const value = sql.placeholder;
  const prepare = <T = unknown>(query: Parameters<typeof prepareStatement>[1]) =>
    prepareStatement<T>(db.$client, query);
  const publishingInSeries = sql`EXISTS (SELECT 1 FROM ${artifacts} a2 WHERE a2.spec_name = ${value("specName")} AND a2.task_id = ${value("taskId")} AND a2.type = ${value("type")} AND a2.state = 'publishing')`;
  const startPublishing = prepare(
    db
      .update(artifacts)
      .set({
        state: "publishing",
        size: sql`${value("size")}`,
        checksum: sql`${value("checksum")}`,
        originalSize: sql`${value("originalSize")}`,
        originalChecksum: sql`${value("originalChecksum")}`,
      })
      .where(and(eq(artifacts.id, value("id")), eq(artifacts.state, "pending"), sql`NOT ${publishingInSeries}`))
      .returning({ id: artifacts.id }),
  );
  const insertTag = prepare(
    db
      .insert(artifactTags)
      .values({ artifactId: value("id"), tag: value("tag"), createdAt: value("createdAt") })
      .onConflictDoNothing(),
  );
  const commitPublished = prepare(
    db
      .update(artifacts)
      .set({
        state: "committed",
        storageKey: sql`${value("storageKey")}`,
        pinned: sql`${artifacts.pinned} OR ${value("inheritPin")}`,
      })
      .where(and(eq(artifacts.id, value("id")), eq(artifacts.state, "publishing")))
      .returning({ id: artifacts.id }),
  );
  const supersedeBelow = prepare(
    db
      .update(artifacts)
      .set({ state: "deleting" })
      .where(
        and(
          eq(artifacts.specName, value("specName")),
          eq(artifacts.taskId, value("taskId")),
          eq(artifacts.type, value("type")),
          isCommitted,
          lt(artifacts.version, value("version")),
        ),
      )
      .returning(),
  );
  const recordById = prepare<SelectedRow>(
    db
      .select(selection)
      .from(artifacts)
      .where(eq(artifacts.id, value("id"))),
  );
  const readConfirmed = prepare<{ count: number }>(
    db
      .select({ count: sql<number>`count(*)` })
      .from(artifacts)
      .where(
        and(
          eq(artifacts.id, value("id")),
          isCommitted,
          eq(artifacts.storageKey, value("storageKey")),
          sql`NOT ${publishingInSeries}`,
        ),
      ),
  );

  return {
    async beginPublish(pending, values) {
      const createdAt = Date.parse(pending.createdAt);
      const [updated] = await writes.run([
        startPublishing.bind({
          id: pending.id,
          specName: pending.specName,
          taskId: pending.taskId,
          type: pending.type,
          size: values.size,
          checksum: values.checksum,
          originalSize: values.originalSize,
          originalChecksum: values.originalChecksum,
        }),
        ...values.tags.map((tag) => insertTag.bind({ id: pending.id, tag, createdAt })),
      ]);
      if ((updated as unknown[]).length === 1) return "ok";
      const [row] = await db.select({ state: artifacts.state }).from(artifacts).where(eq(artifacts.id, pending.id));
      if (row?.state === "pending") return "busy";
      await writes.run([
        db
          .delete(artifactTags)
          .where(
            and(
              eq(artifactTags.artifactId, pending.id),
              sql`NOT EXISTS (SELECT 1 FROM ${artifacts} WHERE ${artifacts.id} = ${pending.id})`,
            ),
          ),
      ]);
      return "gone";
    },

    async finishPublish(publishing, input) {
      const id = publishing.id;
      const commitRow = commitPublished.bind({
        id,
        storageKey: input.storageKey,
        inheritPin: input.inheritPin ? 1 : 0,
      });
      const statements = [];
      const previous = input.previous;
      if (previous && previous.keptAt !== null) {
        statements.push(
          db
            .update(artifacts)
            .set({ storageKey: previous.keptAt })
            .where(and(eq(artifacts.id, previous.id), eq(artifacts.storageKey, input.storageKey))),
        );
      } else if (previous) {
        // Its bytes were replaced at the seed path: the row goes with them.
        statements.push(
          db.delete(artifactTags).where(eq(artifactTags.artifactId, previous.id)),
          ...removeStructureStatements(db, previous.id),
          ...removeSecretsStatements(db, previous.id),
          db.delete(artifacts).where(and(eq(artifacts.id, previous.id), eq(artifacts.storageKey, input.storageKey))),
        );
      }
      const supersede = supersedeBelow.bind({
        specName: publishing.specName,
        taskId: publishing.taskId,
        type: publishing.type,
        version: publishing.version,
      });
      const structureRows = [
        ...(input.structure ? structureStatements(db, id, input.structure) : []),
        // After the commit row: the findings are stored only for a committed version.
        ...(input.secrets ? secretsStatements(db, id, input.secrets) : []),
      ];
      const release: BoundStatement[] = input.releaseLease
        ? [
            {
              statement: { sql: RELEASE_LEASE, args: [publishing.specName, publishing.taskId, input.releaseLease] },
              map: () => undefined,
            },
          ]
        : [];
      const results = await writes.run(
        input.supersedeOlder
          ? [commitRow, ...statements, ...structureRows, ...release, supersede]
          : [commitRow, ...statements, ...structureRows, ...release],
      );
      if ((results[0] as unknown[]).length !== 1) return null;
      const supersededRows = input.supersedeOlder ? (results.at(-1) as (typeof artifacts.$inferSelect)[]) : [];
      const [row] = await recordById.all({ id });
      if (!row) return null;
      return { record: toRecord(row), superseded: supersededRows.map((old) => toRecord({ row: old, tags: null })) };
    },

    async confirmRead(record) {
      const [row] = await readConfirmed.all({
        id: record.id,
        storageKey: record.storageKey,
        specName: record.specName,
        taskId: record.taskId,
        type: record.type,
      });
      return Number(row?.count ?? 0) === 1;
    },

    async rekey(id, from, to) {
      const [updated] = await writes.run([
        db
          .update(artifacts)
          .set({ storageKey: to })
          .where(and(eq(artifacts.id, id), eq(artifacts.storageKey, from)))
          .returning({ id: artifacts.id }),
      ]);
      return (updated as unknown[]).length === 1;
    },

    async takeTaskLease(specName, taskId, owner, ttlMs) {
      const result = await db.$client.execute({ sql: TAKE_LEASE, args: [specName, taskId, owner, Math.ceil(ttlMs)] });
      return result.rows.length === 1;
    },

    async releaseTaskLease(specName, taskId, owner) {
      await db.$client.execute({ sql: RELEASE_LEASE, args: [specName, taskId, owner] });
    },

    async listTask(specName, taskId) {
      const rows = await db
        .select(selection)
        .from(artifacts)
        .where(and(eq(artifacts.specName, specName), eq(artifacts.taskId, taskId), isCommitted))
        .orderBy(asc(artifacts.type), asc(artifacts.version));
      return rows.map(toRecord);
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

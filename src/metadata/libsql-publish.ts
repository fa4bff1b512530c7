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
import { type Database, isCommitted, selection, toRecord } from "./libsql-rows.ts";
import { removeSecretsStatements, secretsStatements } from "./libsql-secrets.ts";
import { removeStructureStatements, structureStatements } from "./libsql-structure.ts";
import { artifacts, artifactTags } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

type PublishQueries = Pick<
  MetadataRepository,
  "beginPublish" | "finishPublish" | "confirmRead" | "rekey" | "listTask" | "indexSummary"
>;

export function createPublishQueries(db: Database, writes: WriteBatcher): PublishQueries {
  const series = (ref: { specName: string; taskId: string; type: string }) =>
    and(eq(artifacts.specName, ref.specName), eq(artifacts.taskId, ref.taskId), eq(artifacts.type, ref.type));

  return {
    async beginPublish(pending, values) {
      const publishingInSeries = sql`EXISTS (SELECT 1 FROM ${artifacts} a2 WHERE a2.spec_name = ${pending.specName} AND a2.task_id = ${pending.taskId} AND a2.type = ${pending.type} AND a2.state = 'publishing')`;
      const [updated] = await writes.run([
        db
          .update(artifacts)
          .set({
            state: "publishing",
            size: values.size,
            checksum: values.checksum,
            originalSize: values.originalSize,
            originalChecksum: values.originalChecksum,
          })
          .where(and(eq(artifacts.id, pending.id), eq(artifacts.state, "pending"), sql`NOT ${publishingInSeries}`))
          .returning({ id: artifacts.id }),
        ...values.tags.map((tag) =>
          db
            .insert(artifactTags)
            .values({ artifactId: pending.id, tag, createdAt: Date.parse(pending.createdAt) })
            .onConflictDoNothing(),
        ),
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
      const commitRow = db
        .update(artifacts)
        .set({
          state: "committed",
          storageKey: input.storageKey,
          pinned: sql`${artifacts.pinned} OR ${input.inheritPin ? 1 : 0}`,
        })
        .where(and(eq(artifacts.id, id), eq(artifacts.state, "publishing")))
        .returning({ id: artifacts.id });
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
      const supersede = db
        .update(artifacts)
        .set({ state: "deleting" })
        .where(and(series(publishing), isCommitted, lt(artifacts.version, publishing.version)))
        .returning();
      const structureRows = [
        ...(input.structure ? structureStatements(db, id, input.structure) : []),
        // After the commit row: the findings are stored only for a committed version.
        ...(input.secrets ? secretsStatements(db, id, input.secrets) : []),
      ];
      const results = await writes.run(
        input.supersedeOlder
          ? [commitRow, ...statements, ...structureRows, supersede]
          : [commitRow, ...statements, ...structureRows],
      );
      if ((results[0] as unknown[]).length !== 1) return null;
      const supersededRows = input.supersedeOlder ? (results.at(-1) as (typeof artifacts.$inferSelect)[]) : [];
      const [row] = await db.select(selection).from(artifacts).where(eq(artifacts.id, id));
      if (!row) return null;
      return { record: toRecord(row), superseded: supersededRows.map((old) => toRecord({ row: old, tags: null })) };
    },

    async confirmRead(record) {
      const [row] = await db
        .select({ count: sql<number>`count(*)` })
        .from(artifacts)
        .where(
          and(
            eq(artifacts.id, record.id),
            isCommitted,
            eq(artifacts.storageKey, record.storageKey),
            sql`NOT EXISTS (SELECT 1 FROM ${artifacts} a2 WHERE a2.spec_name = ${record.specName} AND a2.task_id = ${record.taskId} AND a2.type = ${record.type} AND a2.state = 'publishing')`,
          ),
        );
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

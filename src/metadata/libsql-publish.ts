/**
 * Publishing a version at the seed path, and the reader's check that goes with it.
 *
 * A version goes `pending` (uploading under `.store/uploads/`) → `publishing` (final checksums
 * recorded; at most one per series, which is the series' publish lock across processes) →
 * `committed` at the seed path. While a version of a series is `publishing`, the object at its
 * seed path may be changing: readers confirm after opening that nothing was publishing and
 * that their row still names the key they opened ({@link PublishQueries.confirmRead}).
 */
import { and, eq, lt, sql } from "drizzle-orm";
import type { FinishPublishInput, MetadataRepository } from "../contracts/metadata-repository.ts";
import { type BoundStatement, prepareStatement } from "./libsql-prepared.ts";
import {
  type Database,
  isCommitted,
  publishingInSeries,
  type SelectedRow,
  selection,
  toRecord,
} from "./libsql-rows.ts";
import { removeSecretsStatements, secretsStatements } from "./libsql-secrets.ts";
import { removeStructureStatements, structureStatements } from "./libsql-structure.ts";
import { RELEASE_LEASE } from "./libsql-tasks.ts";
import { artifacts, artifactTags } from "./schema.ts";
import type { WriteBatcher, WriteItem } from "./write-batcher.ts";

type PublishQueries = Pick<MetadataRepository, "beginPublish" | "finishPublish" | "confirmRead" | "rekey">;

/**
 * The publish statements every upload runs, built once (see libsql-prepared.ts). While a version
 * of a series is `publishing`, no other starts and no read of that series is confirmed.
 */
function preparePublishStatements(db: Database) {
  const value = sql.placeholder;
  const prepare = <T = unknown>(query: Parameters<typeof prepareStatement>[1]) =>
    prepareStatement<T>(db.$client, query);
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

  return { startPublishing, insertTag, commitPublished, supersedeBelow, recordById, readConfirmed };
}

/**
 * The version previously at the seed path: moved aside (`keptAt`), or, when its bytes were
 * replaced there, removed with its row.
 */
function previousVersionStatements(db: Database, input: FinishPublishInput): WriteItem[] {
  const statements: WriteItem[] = [];
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
  return statements;
}

/** Gives the task's lease back in the commit's transaction. */
function releaseLease(publishing: { specName: string; taskId: string }, owner: string): BoundStatement {
  return {
    statement: { sql: RELEASE_LEASE, args: [publishing.specName, publishing.taskId, owner] },
    map: () => undefined,
  };
}

export function createPublishQueries(db: Database, writes: WriteBatcher): PublishQueries {
  const { startPublishing, insertTag, commitPublished, supersedeBelow, recordById, readConfirmed } =
    preparePublishStatements(db);

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
      const statements = previousVersionStatements(db, input);
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
      const release = input.releaseLease ? [releaseLease(publishing, input.releaseLease)] : [];
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
  };
}

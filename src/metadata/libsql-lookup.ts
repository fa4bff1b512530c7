/** Finding versions: by id, the newest or a numbered one of a series, and those a delete targets. */
import { and, asc, desc, eq, gte, sql } from "drizzle-orm";
import type { ArtifactRecord, ArtifactRow, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import { executeFirstValues, executeValues, prepareStatement } from "./libsql-prepared.ts";
import {
  type Database,
  isCommitted,
  namedSelection,
  publishingInSeries,
  recordFromValues,
  rowOf,
  type SelectedRow,
  selection,
  toRecord,
} from "./libsql-rows.ts";
import { artifactChanges, artifacts } from "./schema.ts";

export type LookupQueries = Pick<MetadataRepository, "findVersion" | "findRow" | "findForDelete"> & {
  findById(id: number): Promise<ArtifactRecord | null>;
  readVersion: ReadVersion<ArtifactRecord>;
  readRow: ReadVersion<ArtifactRow>;
  /** The change log's entries from `seq` on, oldest first, as [seq, specName, taskId, type] (see `record-cache.ts`). */
  changesSince(seq: number): Promise<ArrayLike<unknown>[]>;
};

/**
 * `findVersion` (or `findRow`) plus, from the same statement, whether its confirmation
 * (`confirmRead`) holds right now: no version of the series is publishing (the row names its
 * key by being the row).
 */
export type ReadVersion<R> = (ref: ArtifactRef) => Promise<{ record: R | null; quiet: boolean }>;

export function createLookupQueries(db: Database): LookupQueries {
  const selectRecords = () => db.select(selection).from(artifacts);
  const seriesOf = (ref: { specName: string; taskId: string; type: string }) =>
    and(eq(artifacts.specName, ref.specName), eq(artifacts.taskId, ref.taskId), eq(artifacts.type, ref.type));

  // The statements every download runs, built once (see libsql-prepared.ts).
  const value = sql.placeholder;
  const prepare = <T = unknown>(query: Parameters<typeof prepareStatement>[1]) =>
    prepareStatement<T>(db.$client, query);
  const inSeries = and(
    eq(artifacts.specName, value("specName")),
    eq(artifacts.taskId, value("taskId")),
    eq(artifacts.type, value("type")),
  );
  const byId = prepare<SelectedRow>(
    selectRecords()
      .where(eq(artifacts.id, value("id")))
      .limit(1),
  );
  // A version's lookup also tells whether anything of the series is publishing (see `ReadVersion`),
  // as its last column. Rows are read by position (`recordFromValues`): drizzle's mapping of a
  // nested selection cost more than the statement itself on a download's first read.
  const quiet = sql<number>`NOT ${publishingInSeries}`.as("quiet");
  const readStatements = <T>(columns: Parameters<typeof db.select>[0], decode: (values: ArrayLike<unknown>) => T) => {
    const select = () => db.select({ ...columns, quiet }).from(artifacts);
    const newest = prepare(select().where(and(inSeries, isCommitted)).orderBy(desc(artifacts.version)).limit(1));
    const numbered = prepare(
      select()
        .where(and(inSeries, isCommitted, eq(artifacts.version, value("version"))))
        .limit(1),
    );
    return async (ref: ArtifactRef): Promise<{ record: T | null; quiet: boolean }> => {
      const series = { specName: ref.specName, taskId: ref.taskId, type: ref.type };
      const bound =
        ref.version === undefined ? newest.bind(series) : numbered.bind({ ...series, version: ref.version });
      const values = await executeFirstValues(db.$client, bound.statement);
      return values
        ? { record: decode(values), quiet: Number(values[values.length - 1]) === 1 }
        : { record: null, quiet: false };
    };
  };
  const readVersion: ReadVersion<ArtifactRecord> = readStatements(namedSelection, (values) => recordFromValues(values));
  // A download needs the row alone: no sub-queries for tags, summary and secrets (NULL in their places).
  const none = sql<null>`NULL`;
  const bare = { row: artifacts, tags: none.as("tags"), summary: none.as("summary"), secrets: none.as("secrets") };
  const readRow: ReadVersion<ArtifactRow> = readStatements(bare, (values) => rowOf(recordFromValues(values)));
  const changes = prepare(
    db
      .select({
        seq: artifactChanges.seq,
        specName: artifactChanges.specName,
        taskId: artifactChanges.taskId,
        type: artifactChanges.type,
      })
      .from(artifactChanges)
      .where(gte(artifactChanges.seq, value("seq")))
      .orderBy(asc(artifactChanges.seq)),
  );
  const first = (rows: SelectedRow[]) => (rows[0] ? toRecord(rows[0]) : null);

  return {
    findById: async (id) => first(await byId.all({ id })),

    findVersion: async (ref) => (await readVersion(ref)).record,
    findRow: async (ref) => (await readRow(ref)).record,
    readVersion,
    readRow,
    changesSince: (seq) => executeValues(db.$client, changes.bind({ seq }).statement),

    async findForDelete(target) {
      const notPending = sql`${artifacts.state} NOT IN ('pending', 'publishing')`;
      const condition = and(
        seriesOf(target),
        notPending,
        target.version === undefined ? undefined : eq(artifacts.version, target.version),
      );
      const rows = await selectRecords().where(condition).orderBy(asc(artifacts.version));
      return rows.map(toRecord);
    },
  };
}

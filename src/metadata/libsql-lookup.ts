/** Finding versions: by id, the newest or a numbered one of a series, and those a delete targets. */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { ArtifactRecord, ArtifactRow, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import { prepareStatement } from "./libsql-prepared.ts";
import {
  type Database,
  isCommitted,
  publishingInSeries,
  type SelectedRow,
  selection,
  toRecord,
  toRow,
} from "./libsql-rows.ts";
import { artifacts } from "./schema.ts";

export type LookupQueries = Pick<MetadataRepository, "findVersion" | "findRow" | "findForDelete"> & {
  findById(id: number): Promise<ArtifactRecord | null>;
  readVersion: ReadVersion<ArtifactRecord>;
  readRow: ReadVersion<ArtifactRow>;
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
  // A version's lookup also tells whether anything of the series is publishing (see `ReadVersion`).
  const quiet = sql<number>`NOT ${publishingInSeries}`.mapWith(Number);
  const readStatements = <T extends { quiet: number }>(columns: Parameters<typeof db.select>[0]) => {
    const select = () => db.select(columns).from(artifacts);
    const newest = prepare<T>(select().where(and(inSeries, isCommitted)).orderBy(desc(artifacts.version)).limit(1));
    const numbered = prepare<T>(
      select()
        .where(and(inSeries, isCommitted, eq(artifacts.version, value("version"))))
        .limit(1),
    );
    return async (ref: ArtifactRef): Promise<T | undefined> => {
      const series = { specName: ref.specName, taskId: ref.taskId, type: ref.type };
      const [row] = await (ref.version === undefined
        ? newest.all(series)
        : numbered.all({ ...series, version: ref.version }));
      return row;
    };
  };
  const readSelected = readStatements<SelectedRow & { quiet: number }>({ ...selection, quiet });
  // A download needs the row alone: no sub-queries for tags, summary and secrets.
  const readBare = readStatements<{ row: typeof artifacts.$inferSelect; quiet: number }>({ row: artifacts, quiet });
  const first = (rows: SelectedRow[]) => (rows[0] ? toRecord(rows[0]) : null);
  const readVersion: ReadVersion<ArtifactRecord> = async (ref) => {
    const row = await readSelected(ref);
    return row ? { record: toRecord(row), quiet: row.quiet === 1 } : { record: null, quiet: false };
  };
  const readRow: ReadVersion<ArtifactRow> = async (ref) => {
    const row = await readBare(ref);
    return row ? { record: toRow(row.row), quiet: row.quiet === 1 } : { record: null, quiet: false };
  };

  return {
    findById: async (id) => first(await byId.all({ id })),

    findVersion: async (ref) => (await readVersion(ref)).record,
    findRow: async (ref) => (await readRow(ref)).record,
    readVersion,
    readRow,

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

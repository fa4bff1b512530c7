/** Finding versions: by id, the newest or a numbered one of a series, and those a delete targets. */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { ArtifactRecord, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import { prepareStatement } from "./libsql-prepared.ts";
import {
  type Database,
  isCommitted,
  publishingInSeries,
  type SelectedRow,
  selection,
  toRecord,
} from "./libsql-rows.ts";
import { artifacts } from "./schema.ts";

export type LookupQueries = Pick<MetadataRepository, "findVersion" | "findForDelete"> & {
  findById(id: number): Promise<ArtifactRecord | null>;
  readVersion: ReadVersion;
};

/**
 * `findVersion` plus, from the same statement, whether its confirmation (`confirmRead`) holds
 * right now: no version of the series is publishing (the row names its key by being the row).
 */
export type ReadVersion = (ref: ArtifactRef) => Promise<{ record: ArtifactRecord | null; quiet: boolean }>;

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
  // A download's lookup also tells whether anything of the series is publishing (see `readVersion`).
  type ReadRow = SelectedRow & { quiet: number };
  const selectToRead = () =>
    db.select({ ...selection, quiet: sql<number>`NOT ${publishingInSeries}`.mapWith(Number) }).from(artifacts);
  const newestInSeries = prepare<ReadRow>(
    selectToRead().where(and(inSeries, isCommitted)).orderBy(desc(artifacts.version)).limit(1),
  );
  const versionInSeries = prepare<ReadRow>(
    selectToRead()
      .where(and(inSeries, isCommitted, eq(artifacts.version, value("version"))))
      .limit(1),
  );
  const first = (rows: SelectedRow[]) => (rows[0] ? toRecord(rows[0]) : null);
  const readVersion: ReadVersion = async (ref) => {
    const series = { specName: ref.specName, taskId: ref.taskId, type: ref.type };
    const [row] = await (ref.version === undefined
      ? newestInSeries.all(series)
      : versionInSeries.all({ ...series, version: ref.version }));
    return row ? { record: toRecord(row), quiet: row.quiet === 1 } : { record: null, quiet: false };
  };

  return {
    findById: async (id) => first(await byId.all({ id })),

    findVersion: async (ref) => (await readVersion(ref)).record,
    readVersion,

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

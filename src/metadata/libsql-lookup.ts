/** Finding versions: by id, the newest or a numbered one of a series, and those a delete targets. */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { ArtifactRecord, MetadataRepository } from "../contracts/metadata-repository.ts";
import { prepareStatement } from "./libsql-prepared.ts";
import { type Database, isCommitted, type SelectedRow, selection, toRecord } from "./libsql-rows.ts";
import { artifacts } from "./schema.ts";

export type LookupQueries = Pick<MetadataRepository, "findVersion" | "findForDelete"> & {
  findById(id: number): Promise<ArtifactRecord | null>;
};

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
  const newestInSeries = prepare<SelectedRow>(
    selectRecords().where(and(inSeries, isCommitted)).orderBy(desc(artifacts.version)).limit(1),
  );
  const versionInSeries = prepare<SelectedRow>(
    selectRecords()
      .where(and(inSeries, isCommitted, eq(artifacts.version, value("version"))))
      .limit(1),
  );
  const first = (rows: SelectedRow[]) => (rows[0] ? toRecord(rows[0]) : null);

  return {
    findById: async (id) => first(await byId.all({ id })),

    async findVersion(ref) {
      const series = { specName: ref.specName, taskId: ref.taskId, type: ref.type };
      return first(
        await (ref.version === undefined
          ? newestInSeries.all(series)
          : versionInSeries.all({ ...series, version: ref.version })),
      );
    },

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

/**
 * MetadataRepository on drizzle-orm over any @libsql/client `Client`: a local file, an
 * embedded replica, a sqld server or Turso. The client is injected, so this module stays
 * free of runtime-specific imports; `src/metadata/local.ts` opens `file:` databases.
 */
import type { Client } from "@libsql/client";
import { and, asc, desc, eq, inArray, lt, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql/web";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord, MetadataRepository, RetentionRule } from "../contracts/metadata-repository.ts";
import { DAY_MS, expiryFor } from "../lib/time.ts";
import { createLiveLogQueries } from "./libsql-live.ts";
import { prepareStatement } from "./libsql-prepared.ts";
import { createPublishQueries } from "./libsql-publish.ts";
import { createRepairQueries } from "./libsql-repair.ts";
import { isCommitted, rawRowToRecord, type SelectedRow, selection, toRecord } from "./libsql-rows.ts";
import { createSearchQuery } from "./libsql-search.ts";
import { createStructureQueries } from "./libsql-structure.ts";
import { createUsageQueries } from "./libsql-usage.ts";
import { applyMigrations } from "./migrate.ts";
import { migrations } from "./migrations.ts";
import { artifactSecrets, artifactSeries, artifacts, artifactTags, storeUsage } from "./schema.ts";
import { createWriteBatcher } from "./write-batcher.ts";

export interface LibsqlMetadataOptions {
  client: Client;
  /** Apply pending migrations before the first query (default true). */
  migrate?: boolean;
  /** Runs after every write transaction, before its callers hear of it (the local opener fsyncs the WAL). */
  afterCommit?: () => Promise<void>;
  /**
   * Join concurrent callers' writes into one transaction (default true). The Workers entry turns
   * it off: there one request's I/O must not carry another request's statements.
   */
  groupCommits?: boolean;
}

/**
 * Expired under the current policy: each rule is a range of the (type, created_at) index; a
 * type without a rule never expires. (The stored `expires_at` is not consulted: the API offers
 * no per-upload expiry, and a policy changed since upload must apply.)
 */
function expiredUnder(policy: RetentionRule[], now: number): SQL {
  if (policy.length === 0) return sql`0`;
  const rules = policy.map(
    (rule) =>
      sql`(${artifacts.type} = ${rule.type} AND ${artifacts.createdAt} <= ${now - rule.retentionDays * DAY_MS})`,
  );
  return sql`(${sql.join(rules, sql` OR `)})`;
}

/**
 * @example
 * import { createClient } from "@libsql/client/web";
 * const metadata = await createLibsqlMetadata({ client: createClient({ url: "http://127.0.0.1:8080" }) });
 */
export async function createLibsqlMetadata(options: LibsqlMetadataOptions): Promise<MetadataRepository> {
  const { client } = options;
  if (options.migrate ?? true) await applyMigrations(client, migrations);
  const db = drizzle(client);

  const writes = createWriteBatcher(db, options.afterCommit, options.groupCommits ?? true);
  const selectRecords = () => db.select(selection).from(artifacts);

  const seriesOf = (ref: { specName: string; taskId: string; type: string }) =>
    and(eq(artifacts.specName, ref.specName), eq(artifacts.taskId, ref.taskId), eq(artifacts.type, ref.type));

  // The statements every upload and download runs, built once (see libsql-prepared.ts).
  const value = sql.placeholder;
  const prepare = <T = unknown>(query: Parameters<typeof prepareStatement>[1]) => prepareStatement<T>(client, query);
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
  const nextVersion = prepare(
    db
      .insert(artifactSeries)
      .values({ specName: value("specName"), taskId: value("taskId"), type: value("type"), lastVersion: 1 })
      .onConflictDoUpdate({
        target: [artifactSeries.specName, artifactSeries.taskId, artifactSeries.type],
        set: { lastVersion: sql`${artifactSeries.lastVersion} + 1` },
      }),
  );
  const usageFits = sql`(SELECT ${storeUsage.storedBytes} FROM ${storeUsage} WHERE ${storeUsage.id} = 1) + ${value("reserveBytes")} <= ${value("maxBytes")}`;
  const insertPending = (fits: SQL) =>
    prepare(
      db.all<Record<string, unknown>>(sql`
        INSERT INTO ${artifacts} (spec_name, task_id, type, version, uri, storage_key, size, compressed, mime_type, metadata, state, created_at, expires_at)
        SELECT ${value("specName")}, ${value("taskId")}, ${value("type")}, s.last_version,
          ${value("uriKeyPrefix")} || s.last_version || ${value("keySuffix")}, ${value("keyPrefix")} || s.last_version || ${value("keySuffix")},
          CASE WHEN ${fits} THEN ${value("reserveBytes")} ELSE 0 END,
          ${value("compressed")}, ${value("mimeType")}, ${value("metadata")}, 'pending', ${value("createdAt")}, ${value("expiresAt")}
        FROM ${artifactSeries} s
        WHERE s.spec_name = ${value("specName")} AND s.task_id = ${value("taskId")} AND s.type = ${value("type")}
        RETURNING *`),
    );
  const insertPendingUnlimited = insertPending(sql`1`);
  const insertPendingWithinQuota = insertPending(usageFits);
  const first = (rows: SelectedRow[]) => (rows[0] ? toRecord(rows[0]) : null);
  const findById = async (id: number): Promise<ArtifactRecord | null> => first(await byId.all({ id }));

  return {
    ...createRepairQueries(db, writes),
    ...createStructureQueries(db, writes),
    ...createLiveLogQueries(db, writes),
    ...createPublishQueries(db, writes),
    ...createSearchQuery(db),
    ...createUsageQueries(db),

    async reserveVersion(input) {
      const { keyPrefix, keySuffix, uriPrefix } = input.location;
      const expiresAt = expiryFor(input.createdAt, input.retentionDays);
      const series = { specName: input.specName, taskId: input.taskId, type: input.type };
      // One transaction: hand out the next number, insert the pending row that holds it.
      const [, inserted] = await writes.run([
        nextVersion.bind(series),
        (input.maxBytes === null ? insertPendingUnlimited : insertPendingWithinQuota).bind({
          ...series,
          uriKeyPrefix: uriPrefix + keyPrefix,
          keyPrefix,
          keySuffix,
          reserveBytes: input.reserveBytes,
          maxBytes: input.maxBytes,
          compressed: input.compressed ? 1 : 0,
          mimeType: input.mimeType,
          metadata: JSON.stringify(input.metadata),
          createdAt: input.createdAt,
          expiresAt,
        }),
      ]);
      const row = (inserted as Record<string, unknown>[])[0];
      if (!row) throw new ArtifactStoreError("E_INTERNAL", "[metadata] the pending row was not inserted");
      return rawRowToRecord(row);
    },

    async reserveStoredBytes(id, size, maxBytes) {
      const fits =
        maxBytes === null
          ? sql`1`
          : sql`(SELECT ${storeUsage.storedBytes} FROM ${storeUsage} WHERE ${storeUsage.id} = 1) - ${artifacts.size} + ${size} <= ${maxBytes}`;
      const [result] = await writes.run([
        db
          .update(artifacts)
          .set({ size })
          .where(and(eq(artifacts.id, id), eq(artifacts.state, "pending"), fits))
          .returning({ id: artifacts.id }),
      ]);
      return (result as unknown[]).length === 1;
    },

    async abandon(id) {
      // The row goes only while still pending, and its tags only with it: a commit that won the
      // race keeps both, and the caller learns it must not touch that version's objects.
      const [removed] = await writes.run([
        db
          .delete(artifacts)
          .where(and(eq(artifacts.id, id), eq(artifacts.state, "pending")))
          .returning({ id: artifacts.id }),
        db
          .delete(artifactTags)
          .where(
            and(
              eq(artifactTags.artifactId, id),
              sql`NOT EXISTS (SELECT 1 FROM ${artifacts} WHERE ${artifacts.id} = ${id})`,
            ),
          ),
      ]);
      return (removed as unknown[]).length === 1;
    },

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

    async listExpired(now, limit, policy) {
      const rows = await selectRecords()
        .where(and(isCommitted, sql`${artifacts.pinned} = 0`, expiredUnder(policy, now)))
        .orderBy(asc(artifacts.createdAt), asc(artifacts.id))
        .limit(limit);
      return rows.map(toRecord);
    },

    async countExpired(now, policy) {
      const [row] = await db
        .select({ count: sql<number>`count(*)` })
        .from(artifacts)
        .where(and(isCommitted, sql`${artifacts.pinned} = 0`, expiredUnder(policy, now)));
      return Number(row?.count ?? 0);
    },

    async listStale(state, before, limit) {
      const rows = await selectRecords()
        // A literal state, so the partial index of pending and deleting rows applies.
        .where(and(sql`${artifacts.state} = ${sql.raw(`'${state}'`)}`, lt(artifacts.createdAt, before)))
        .orderBy(asc(artifacts.createdAt))
        .limit(limit);
      return rows.map(toRecord);
    },

    async markDeleting(ids, options = {}) {
      if (ids.length === 0) return [];
      // For the retention sweep the expiry is checked again in the same statement: a version
      // pinned since the sweep listed it is left alone.
      const stillExpired =
        options.expiredBy === undefined
          ? sql`${artifacts.state} != 'deleting'`
          : and(isCommitted, sql`${artifacts.pinned} = 0`, expiredUnder(options.policy ?? [], options.expiredBy));
      const [rows] = await writes.run([
        db
          .update(artifacts)
          .set({ state: "deleting" })
          .where(and(inArray(artifacts.id, ids), stillExpired))
          .returning({ id: artifacts.id }),
      ]);
      return (rows as { id: number }[]).map((row) => row.id);
    },

    async remove(ids) {
      if (ids.length === 0) return;
      await writes.run([
        db.delete(artifactTags).where(inArray(artifactTags.artifactId, ids)),
        db.delete(artifactSecrets).where(inArray(artifactSecrets.artifactId, ids)),
        db.delete(artifacts).where(inArray(artifacts.id, ids)),
      ]);
    },

    async setIntegrity(id, integrity) {
      await writes.run([db.update(artifacts).set({ integrity }).where(eq(artifacts.id, id))]);
    },

    async touch(ids, at) {
      if (ids.length === 0) return;
      await writes.run([db.update(artifacts).set({ lastAccessedAt: at }).where(inArray(artifacts.id, ids))]);
    },

    async update(id, change) {
      const statements = [];
      if (change.pinned !== undefined) {
        statements.push(db.update(artifacts).set({ pinned: change.pinned }).where(eq(artifacts.id, id)));
      }
      if (change.setTags !== undefined) {
        statements.push(db.delete(artifactTags).where(eq(artifactTags.artifactId, id)));
      }
      for (const tag of change.removeTags ?? []) {
        statements.push(db.delete(artifactTags).where(and(eq(artifactTags.artifactId, id), eq(artifactTags.tag, tag))));
      }
      for (const tag of [...(change.setTags ?? []), ...(change.addTags ?? [])]) {
        statements.push(
          db.run(
            sql`INSERT OR IGNORE INTO ${artifactTags} (artifact_id, tag, created_at) SELECT ${id}, ${tag}, created_at FROM ${artifacts} WHERE id = ${id}`,
          ),
        );
      }
      if (statements.length > 0) await writes.run(statements);
      return findById(id);
    },

    async close() {
      client.close();
    },
  };
}

/**
 * A version's pending row: reserved with its number (and its quota bound) in one transaction,
 * resized when the stored size is known, abandoned when the upload fails.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import { expiryFor } from "../lib/time.ts";
import { prepareStatement } from "./libsql-prepared.ts";
import { type Database, rawRowToRecord } from "./libsql-rows.ts";
import { artifactSeries, artifacts, artifactTags, storeUsage } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

type PendingQueries = Pick<MetadataRepository, "reserveVersion" | "reserveStoredBytes" | "abandon">;

export function createPendingQueries(db: Database, writes: WriteBatcher): PendingQueries {
  // The statements every upload runs, built once (see libsql-prepared.ts).
  const value = sql.placeholder;
  const prepare = <T = unknown>(query: Parameters<typeof prepareStatement>[1]) =>
    prepareStatement<T>(db.$client, query);
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

  return {
    async reserveVersion(input) {
      const { keyPrefix, keySuffix, uriPrefix } = input.location;
      const expiresAt = expiryFor(input.createdAt, input.retentionDays);
      const series = { specName: input.specName, taskId: input.taskId, type: input.type };
      // One transaction: hand out the next number, insert the pending row that holds it. Not
      // waiting for the WAL fsync: a power failure that loses the row loses only an upload not
      // yet answered; its publish commits (durably) before anything leaves `.store/uploads/`, and
      // a number handed out again overwrites the lost upload's leftover there (upload-publish.ts).
      const [, inserted] = await writes.run(
        [
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
        ],
        { durable: false },
      );
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
  };
}

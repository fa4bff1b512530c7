/**
 * Small versions committed with their bytes ("inline"): the first version of a series, its row
 * committed at its seed-path key and its stored bytes in `artifact_inline`, in ONE transaction
 * (group-committed with others, one WAL fsync). The materialiser (`src/core/task-inline.ts`)
 * writes the bytes at the key later, makes them durable, then drops them here.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRow, MetadataRepository } from "../contracts/metadata-repository.ts";
import { expiryFor } from "../lib/time.ts";
import { executeValues, prepareStatement } from "./libsql-prepared.ts";
import {
  type Database,
  insertedWithNonce,
  isInsertedWithNonce,
  namedSelection,
  rawRowToRecord,
  recordFromValues,
  rowOf,
} from "./libsql-rows.ts";
import { secretsStatements } from "./libsql-secrets.ts";
import { structureStatements } from "./libsql-structure.ts";
import { committedInTask, RELEASE_LEASE, taskOrder } from "./libsql-tasks.ts";
import { artifactChanges, artifactInline, artifactSeries, artifacts, artifactTags, storeUsage } from "./schema.ts";
import type { WriteBatcher, WriteItem } from "./write-batcher.ts";

type InlineQueries = Required<
  Pick<MetadataRepository, "commitInline" | "readInline" | "listInline" | "inlineTasks" | "dropInline">
>;

/** Bytes as SQLite returns a BLOB (an ArrayBuffer, a Buffer or a Uint8Array) seen as a Uint8Array. */
function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new ArtifactStoreError("E_INTERNAL", "[metadata] an inline version's bytes are not a BLOB");
}

/** The statements of inline commits and of the materialiser, built once (see libsql-prepared.ts). */
function prepareInlineStatements(db: Database) {
  const value = sql.placeholder;
  const prepare = <T = unknown>(query: Parameters<typeof prepareStatement>[1]) =>
    prepareStatement<T>(db.$client, query);
  const noRowOfSeries = sql`NOT EXISTS (SELECT 1 FROM ${artifacts} a2 WHERE a2.spec_name = ${value("specName")} AND a2.task_id = ${value("taskId")} AND a2.type = ${value("type")})`;
  const usageFits = sql`(SELECT ${storeUsage.storedBytes} FROM ${storeUsage} WHERE ${storeUsage.id} = 1) + ${value("size")} <= ${value("maxBytes")}`;
  // The series' next number, only when the series has no row at all (any state: the seed path is
  // then nobody else's) and the row will be inserted: a number is never handed out for nothing.
  const nextVersion = (fits: SQL) =>
    prepare(
      db.run(sql`INSERT INTO ${artifactSeries} (spec_name, task_id, type, last_version)
        SELECT ${value("specName")}, ${value("taskId")}, ${value("type")}, 1 WHERE ${fits}
        ON CONFLICT (spec_name, task_id, type) DO UPDATE SET last_version = last_version + 1 WHERE ${noRowOfSeries} AND ${fits}`),
    );
  const insertCommitted = (fits: SQL) =>
    prepare(
      db.all<Record<string, unknown>>(sql`
        INSERT INTO ${artifacts} (spec_name, task_id, type, version, uri, storage_key, size, checksum, original_size, original_checksum,
          compressed, mime_type, metadata, state, created_at, expires_at)
        SELECT ${value("specName")}, ${value("taskId")}, ${value("type")}, s.last_version, ${value("nonce")}, ${value("storageKey")},
          ${value("size")}, ${value("checksum")}, ${value("originalSize")}, ${value("originalChecksum")},
          ${value("compressed")}, ${value("mimeType")}, ${value("metadata")}, 'committed', ${value("createdAt")}, ${value("expiresAt")}
        FROM ${artifactSeries} s
        WHERE s.spec_name = ${value("specName")} AND s.task_id = ${value("taskId")} AND s.type = ${value("type")}
          AND ${noRowOfSeries} AND ${fits}
        RETURNING *, (SELECT ${storeUsage.storedBytes} FROM ${storeUsage} WHERE ${storeUsage.id} = 1) AS used_bytes,
          (SELECT max(${artifactChanges.seq}) FROM ${artifactChanges}) AS change_seq`),
    );
  const unlimited = { nextVersion: nextVersion(sql`1`), insert: insertCommitted(sql`1`) };
  const withinQuota = { nextVersion: nextVersion(usageFits), insert: insertCommitted(usageFits) };
  // Every later statement of the job finds the row by its nonce: nothing when it was not inserted.
  const inserted = isInsertedWithNonce(value("nonce"));
  const insertBytes = prepare(
    db.run(
      sql`INSERT INTO ${artifactInline} (artifact_id, bytes) SELECT ${artifacts.id}, ${value("bytes")} FROM ${artifacts} WHERE ${inserted}`,
    ),
  );
  // Every tag in one statement (a JSON array of them).
  const insertTags = prepare(
    db.run(sql`INSERT OR IGNORE INTO ${artifactTags} (artifact_id, tag, created_at)
      SELECT ${artifacts.id}, tags.value, ${value("createdAt")} FROM ${artifacts}, json_each(${value("tags")}) tags WHERE ${inserted}`),
  );
  const readBytes = prepare<{ bytes: unknown }>(
    db
      .select({ bytes: artifactInline.bytes })
      .from(artifactInline)
      .where(sql`${artifactInline.artifactId} = ${value("id")}`),
  );
  const pending = sql`${artifacts.id} IN (SELECT ${artifactInline.artifactId} FROM ${artifactInline}) AND ${artifacts.state} = 'committed'`;
  // The materialiser's whole read of a task: its committed rows with their inline bytes, or no
  // row at all when none is inline (the EXISTS depends on the task alone: SQLite tries it once).
  const anyInline = sql`EXISTS (SELECT 1 FROM ${artifactInline} i JOIN ${artifacts} a2 ON a2.id = i.artifact_id
    WHERE a2.spec_name = ${value("specName")} AND a2.task_id = ${value("taskId")} AND a2.state = 'committed')`;
  // Read by position (`recordFromValues`), the bytes last: no drizzle mapping of a nested row.
  const listInTask = prepare(
    db
      .select({ ...namedSelection, bytes: artifactInline.bytes })
      .from(artifacts)
      .leftJoin(artifactInline, eq(artifactInline.artifactId, artifacts.id))
      .where(and(committedInTask, anyInline))
      .orderBy(...taskOrder),
  );
  // A materialised pass drops its versions' bytes: ids as a JSON array, one statement built once.
  const deleteBytes = prepare(
    db.run(
      sql`DELETE FROM ${artifactInline} WHERE ${artifactInline.artifactId} IN (SELECT value FROM json_each(${value("ids")}))`,
    ),
  );
  const listTasks = prepare<{ specName: string; taskId: string }>(
    db
      .selectDistinct({ specName: artifacts.specName, taskId: artifacts.taskId })
      .from(artifacts)
      .where(pending)
      .limit(value("limit")),
  );
  return { unlimited, withinQuota, insertBytes, insertTags, readBytes, listInTask, deleteBytes, listTasks };
}

/**
 * `committed` hears of each row committed inline, with its own entry in the change log (logged
 * before the row goes in, so RETURNING reads it): the row cache keeps it (`record-cache.ts`).
 */
export function createInlineQueries(
  db: Database,
  writes: WriteBatcher,
  committed?: (row: ArtifactRow, changeSeq: number) => void,
): InlineQueries {
  const { unlimited, withinQuota, insertBytes, insertTags, readBytes, listInTask, deleteBytes, listTasks } =
    prepareInlineStatements(db);
  return {
    async commitInline(input) {
      const series = { specName: input.specName, taskId: input.taskId, type: input.type };
      const nonce = `inline:${crypto.randomUUID()}`;
      const createdAt = input.createdAt;
      const quota = input.maxBytes === null ? unlimited : withinQuota;
      const sizing = { size: input.values.size, maxBytes: input.maxBytes };
      const statements: WriteItem[] = [
        quota.nextVersion.bind({ ...series, ...sizing }),
        quota.insert.bind({
          ...series,
          nonce,
          storageKey: input.storageKey,
          size: input.values.size,
          checksum: input.values.checksum,
          originalSize: input.values.originalSize,
          originalChecksum: input.values.originalChecksum,
          maxBytes: input.maxBytes,
          compressed: input.compressed ? 1 : 0,
          mimeType: input.mimeType,
          metadata: JSON.stringify(input.metadata),
          createdAt,
          expiresAt: expiryFor(createdAt, input.retentionDays),
        }),
        insertBytes.bind({ nonce, bytes: input.bytes }),
        ...(input.values.tags.length > 0
          ? [insertTags.bind({ nonce, tags: JSON.stringify(input.values.tags), createdAt })]
          : []),
        ...(input.structure ? structureStatements(db, { nonce }, input.structure) : []),
        ...(input.secrets ? secretsStatements(db, insertedWithNonce(nonce), input.secrets) : []),
      ];
      const [, inserted] = await writes.run(statements);
      const row = (inserted as Record<string, unknown>[])[0];
      if (!row) return null;
      const record = {
        ...rawRowToRecord(row),
        tags: [...input.values.tags].sort(),
        summary: input.structure?.summary ?? null,
        secrets: input.secrets ?? null,
      };
      if (committed && row.change_seq != null) committed(rowOf(record), Number(row.change_seq));
      // RETURNING reads the usage before the row's AFTER INSERT trigger counts it.
      return { record, usedBytes: Number(row.used_bytes) + input.values.size };
    },

    async readInline(id) {
      const [row] = await readBytes.all({ id });
      return row ? asBytes(row.bytes) : null;
    },

    async listInline(task) {
      const rows = await executeValues(db.$client, listInTask.bind(task).statement);
      return rows.map((values) => {
        const bytes = values[values.length - 1];
        return { record: recordFromValues(values), bytes: bytes === null ? null : asBytes(bytes) };
      });
    },

    inlineTasks: (limit) => listTasks.all({ limit }),

    async dropInline(ids, lease) {
      const statements: WriteItem[] = [];
      if (ids.length > 0) statements.push(deleteBytes.bind({ ids: JSON.stringify(ids) }));
      if (lease) {
        const release = { sql: RELEASE_LEASE, args: [lease.specName, lease.taskId, lease.owner] };
        statements.push({ statement: release, map: () => undefined });
      }
      if (statements.length === 0) return;
      // Not waiting for the WAL fsync: a drop lost to a power failure only materialises again.
      await writes.run(statements, { durable: false });
    },
  };
}

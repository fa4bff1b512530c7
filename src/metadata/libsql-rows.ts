/** How artifact rows are selected (with their tags) and turned into records. */
import { type Column, getTableColumns, getTableName, type SQL, sql } from "drizzle-orm";
import type { drizzle } from "drizzle-orm/libsql/web";
import type { ArtifactRecord, ArtifactRow } from "../contracts/metadata-repository.ts";
import type { ArtifactSummary } from "../contracts/structure.ts";
import type { ArtifactSecrets, SecretFinding } from "../contracts/types.ts";
import { isoTime } from "../lib/time.ts";
import { artifactSecrets, artifactSummaries, artifacts, artifactTags } from "./schema.ts";

export type Database = ReturnType<typeof drizzle>;

/** Tags are joined with the unit separator, which tag validation never lets through. */
const TAG_SEPARATOR = "\u001f";

/**
 * `"table"."column"` whatever the context. In a select list drizzle renders a column bare
 * (`"session"`), so inside a correlated sub-query the sub-query's own table captures the name
 * and the correlation silently becomes always true. Every outer column a sub-query refers to
 * goes through here.
 */
export function qualified(column: Column): SQL {
  return sql`${sql.identifier(getTableName(column.table))}.${sql.identifier(column.name)}`;
}

const tagsColumn = sql<
  string | null
>`(SELECT group_concat(${artifactTags.tag}, ${TAG_SEPARATOR}) FROM ${artifactTags} WHERE ${qualified(artifactTags.artifactId)} = ${qualified(artifacts.id)})`;

const summaryColumn = sql<
  string | null
>`(SELECT ${artifactSummaries.summary} FROM ${artifactSummaries} WHERE ${qualified(artifactSummaries.artifactId)} = ${qualified(artifacts.id)})`;

/** A version's secrets as `{ masked, findings }` JSON, or null (see `libsql-secrets.ts`). */
const secretsColumn = sql<
  string | null
>`(SELECT json_object('masked', ${artifactSecrets.masked}, 'findings', json(${artifactSecrets.findings})) FROM ${artifactSecrets} WHERE ${qualified(artifactSecrets.artifactId)} = ${qualified(artifacts.id)})`;

function parseSecrets(column: string | null | undefined): ArtifactSecrets | null {
  if (!column) return null;
  const parsed = JSON.parse(column) as { masked: number; findings: SecretFinding[] };
  return { mode: parsed.masked ? "mask" : "flag", findings: parsed.findings };
}

/**
 * The `artifacts` row the same job inserted just before, when it carries `nonce` in its `uri`
 * (otherwise unused: a record's uri is computed, see core/records.ts); no row when that insert
 * did not happen. Ids are AUTOINCREMENT, so the newest row has the highest id: a seek to the
 * last row and a look at its uri, with no index on `uri`.
 */
export function isInsertedWithNonce(nonce: unknown): SQL {
  return sql`${artifacts.id} = (SELECT max(${artifacts.id}) FROM ${artifacts}) AND ${artifacts.uri} = ${nonce}`;
}

/** The id of {@link isInsertedWithNonce}'s row, or null. */
export function insertedWithNonce(nonce: unknown): SQL {
  return sql`(SELECT ${artifacts.id} FROM ${artifacts} WHERE ${isInsertedWithNonce(nonce)})`;
}

/**
 * `state = 'committed'` as a literal, not a bound parameter: only then can SQLite use the partial
 * indexes that hold committed versions alone (see the schema).
 */
export const isCommitted = sql`${artifacts.state} = 'committed'`;

/**
 * A version of the series named by the `specName`, `taskId` and `type` placeholders is publishing:
 * its bytes may be moving onto the seed path (see `confirmRead`).
 */
export const publishingInSeries = sql`EXISTS (SELECT 1 FROM ${artifacts} a2 WHERE a2.spec_name = ${sql.placeholder("specName")} AND a2.task_id = ${sql.placeholder("taskId")} AND a2.type = ${sql.placeholder("type")} AND a2.state = 'publishing')`;

/** Every column of a row plus its tags and structure summary in one query. */
export const selection = { row: artifacts, tags: tagsColumn, summary: summaryColumn, secrets: secretsColumn };

export type SelectedRow = {
  row: typeof artifacts.$inferSelect;
  tags: string | null;
  summary?: string | null;
  secrets?: string | null;
};

export function toRecord({ row, tags, summary, secrets }: SelectedRow): ArtifactRecord {
  return {
    id: row.id,
    storageKey: row.storageKey,
    uri: row.uri,
    specName: row.specName,
    taskId: row.taskId,
    type: row.type,
    version: row.version,
    size: row.size,
    checksum: row.checksum,
    originalSize: row.originalSize,
    originalChecksum: row.originalChecksum,
    compressed: row.compressed,
    mimeType: row.mimeType,
    tags: tagList(tags),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdAt: isoTime(row.createdAt),
    expiresAt: expiryTime(row.expiresAt, row.pinned),
    lastAccessedAt: row.lastAccessedAt === null ? null : isoTime(row.lastAccessedAt),
    pinned: row.pinned,
    summary: parseSummary(summary),
    secrets: parseSecrets(secrets),
    state: row.state,
    integrity: row.integrity,
  };
}

// How a record's fields are made from the columns (by `toRecord` and `recordFromValues`).
const tagList = (tags: string | null | undefined): string[] => {
  if (!tags) return [];
  const list = tags.split(TAG_SEPARATOR);
  return list.length > 1 ? list.sort() : list;
};
const expiryTime = (expiresAt: number | null, pinned: boolean): string | null =>
  expiresAt === null || pinned ? null : isoTime(expiresAt);
const parseSummary = (summary: string | null | undefined): ArtifactSummary | null =>
  summary ? (JSON.parse(summary) as ArtifactSummary) : null;

/** A record without its tags, summary and secrets: the row a download reads. */
export function rowOf(record: ArtifactRecord): ArtifactRow {
  const { tags: _tags, summary: _summary, secrets: _secrets, ...rest } = record;
  return rest;
}

/** The columns of `selection.row`, with their decoders. */
const ROW_COLUMNS = Object.entries(getTableColumns(artifacts));

type RowKey = keyof typeof artifacts.$inferSelect;
/** Where each column of `selection.row` is in a row read by position; tags, summary and secrets follow. */
const AT = Object.fromEntries(ROW_COLUMNS.map(([key], index) => [key, index])) as Record<RowKey, number>;
const TAGS_AT = ROW_COLUMNS.length;
/** An integer column in boolean mode, decoded as drizzle does. */
const flag = (value: unknown): boolean => Number(value) === 1;

/**
 * A row of a statement selecting {@link namedSelection} (and maybe more columns after them), read
 * by position (its columns in order, then tags, summary and secrets): the record {@link toRecord} makes of drizzle's row,
 * made straight from the values (no row object in between: a search makes one per result).
 */
export function recordFromValues(values: ArrayLike<unknown>): ArtifactRecord {
  if (values.length < TAGS_AT + 3) throw new Error(`a record row has ${values.length} columns`);
  const pinned = flag(values[AT.pinned]);
  const lastAccessedAt = values[AT.lastAccessedAt] as number | null;
  return {
    id: values[AT.id] as number,
    storageKey: values[AT.storageKey] as string,
    uri: values[AT.uri] as string,
    specName: values[AT.specName] as string,
    taskId: values[AT.taskId] as string,
    type: values[AT.type] as string,
    version: values[AT.version] as number,
    size: values[AT.size] as number,
    checksum: values[AT.checksum] as string,
    originalSize: values[AT.originalSize] as number,
    originalChecksum: values[AT.originalChecksum] as string,
    compressed: flag(values[AT.compressed]),
    mimeType: values[AT.mimeType] as string,
    tags: tagList(values[TAGS_AT] as string | null),
    metadata: JSON.parse(values[AT.metadata] as string) as Record<string, unknown>,
    createdAt: isoTime(values[AT.createdAt] as number),
    expiresAt: expiryTime(values[AT.expiresAt] as number | null, pinned),
    lastAccessedAt: lastAccessedAt === null ? null : isoTime(lastAccessedAt),
    pinned,
    summary: parseSummary(values[TAGS_AT + 1] as string | null),
    secrets: parseSecrets(values[TAGS_AT + 2] as string | null),
    state: values[AT.state] as ArtifactRecord["state"],
    integrity: values[AT.integrity] as ArtifactRecord["integrity"],
  };
}

/** Rows read by position, newest first (`created_at`, then `id`, descending): the order of a search. */
export function newestFirst(left: ArrayLike<unknown>, right: ArrayLike<unknown>): number {
  return (
    (right[AT.createdAt] as number) - (left[AT.createdAt] as number) ||
    (right[AT.id] as number) - (left[AT.id] as number)
  );
}

/** {@link selection} with its computed columns named (a search reads its rows with {@link recordFromValues}). */
export const namedSelection = {
  row: artifacts,
  tags: tagsColumn.as("tags"),
  summary: summaryColumn.as("summary"),
  secrets: secretsColumn.as("secrets"),
};

/** A row as `RETURNING *` of raw SQL gives it (snake_case columns, integers for booleans). */
export function rawRowToRecord(raw: Record<string, unknown>): ArtifactRecord {
  const number = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return toRecord({
    row: {
      id: Number(raw.id),
      specName: String(raw.spec_name),
      taskId: String(raw.task_id),
      type: String(raw.type),
      version: Number(raw.version),
      uri: String(raw.uri),
      storageKey: String(raw.storage_key),
      size: Number(raw.size),
      checksum: String(raw.checksum),
      originalSize: Number(raw.original_size),
      originalChecksum: String(raw.original_checksum),
      compressed: Boolean(Number(raw.compressed)),
      mimeType: String(raw.mime_type),
      metadata: String(raw.metadata),
      state: raw.state as ArtifactRecord["state"],
      integrity: raw.integrity as ArtifactRecord["integrity"],
      pinned: Boolean(Number(raw.pinned)),
      createdAt: Number(raw.created_at),
      expiresAt: number(raw.expires_at),
      lastAccessedAt: number(raw.last_accessed_at),
    },
    tags: null,
  });
}

/** How artifact rows are selected (with their tags) and turned into records. */
import { type Column, getTableColumns, getTableName, type SQL, sql } from "drizzle-orm";
import type { drizzle } from "drizzle-orm/libsql/web";
import type { ArtifactRecord, ArtifactRow } from "../contracts/metadata-repository.ts";
import type { ArtifactSummary } from "../contracts/structure.ts";
import type { ArtifactSecrets, SecretFinding } from "../contracts/types.ts";
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
    tags: tags ? tags.split(TAG_SEPARATOR).sort() : [],
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdAt: new Date(row.createdAt).toISOString(),
    expiresAt: row.expiresAt === null || row.pinned ? null : new Date(row.expiresAt).toISOString(),
    lastAccessedAt: row.lastAccessedAt === null ? null : new Date(row.lastAccessedAt).toISOString(),
    pinned: row.pinned,
    summary: summary ? (JSON.parse(summary) as ArtifactSummary) : null,
    secrets: parseSecrets(secrets),
    state: row.state,
    integrity: row.integrity,
  };
}

/** A row alone, as a download reads it (see `findRow`): the record without tags, summary or secrets. */
export function toRow(row: typeof artifacts.$inferSelect): ArtifactRow {
  const { tags: _tags, summary: _summary, secrets: _secrets, ...rest } = toRecord({ row, tags: null });
  return rest;
}

/** The columns of `selection.row`, with their decoders. */
const ROW_COLUMNS = Object.entries(getTableColumns(artifacts));

/**
 * A row of a statement selecting {@link namedSelection}, read by position (its columns in
 * order, then tags, summary and secrets): what drizzle's own mapping gives (each column decoded
 * by its schema type), made into the record without an object per row in between.
 */
export function recordFromValues(values: ArrayLike<unknown>): ArtifactRecord {
  if (values.length !== ROW_COLUMNS.length + 3) throw new Error(`a search row has ${values.length} columns`);
  const row: Record<string, unknown> = {};
  for (let index = 0; index < ROW_COLUMNS.length; index++) {
    const value = values[index];
    row[ROW_KEYS[index] as string] =
      value === null ? null : (ROW_DECODERS[index] as (value: unknown) => unknown)(value);
  }
  const at = ROW_COLUMNS.length;
  return toRecord({
    row: row as SelectedRow["row"],
    tags: values[at] as string | null,
    summary: values[at + 1] as string | null,
    secrets: values[at + 2] as string | null,
  });
}

const ROW_KEYS = ROW_COLUMNS.map(([key]) => key);
const ROW_DECODERS = ROW_COLUMNS.map(
  ([, column]) =>
    (value: unknown) =>
      column.mapFromDriverValue(value),
);

/** {@link selection} with its computed columns named, for {@link selectedRowFromNames} and {@link recordFromValues}. */
export const namedSelection = {
  row: artifacts,
  tags: tagsColumn.as("tags"),
  summary: summaryColumn.as("summary"),
  secrets: secretsColumn.as("secrets"),
};

/**
 * A row of a statement selecting {@link namedSelection}, read by column name: what drizzle's own
 * mapping gives (each column decoded by its schema type), without its per-field walk.
 */
export function selectedRowFromNames(values: Record<string, unknown>): SelectedRow {
  const row: Record<string, unknown> = {};
  for (const [key, column] of ROW_COLUMNS) {
    const value = values[column.name];
    if (value === undefined) throw new Error(`column ${column.name} missing from a search row`);
    row[key] = value === null ? null : column.mapFromDriverValue(value);
  }
  const named = (name: string) => (values[name] ?? null) as string | null;
  return { row: row as SelectedRow["row"], tags: named("tags"), summary: named("summary"), secrets: named("secrets") };
}

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

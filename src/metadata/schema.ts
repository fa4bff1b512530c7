/**
 * The metadata schema: the single source of truth for the tables. `drizzle-kit generate`
 * turns it into the SQL in `drizzle/`, which `npm run db:bundle` copies into
 * `src/metadata/migrations.ts` for runtimes without a filesystem.
 */
import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** One row per artifact version. Times are milliseconds since the epoch (UTC). */
export const artifacts = sqliteTable(
  "artifacts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    specName: text("spec_name").notNull(),
    taskId: text("task_id").notNull(),
    type: text("type").notNull(),
    version: integer("version").notNull(),
    /**
     * Not read back: a record's uri is computed (see core/records.ts). An inline commit keeps a
     * nonce here to find its row again in the same transaction (by id, see libsql-rows.ts), so
     * it has no index: one on random nonces cost every upload a page write.
     */
    uri: text("uri").notNull(),
    storageKey: text("storage_key").notNull(),
    /** Stored bytes (compressed when `compressed`). Reserved at the final size before publish. */
    size: integer("size").notNull().default(0),
    /** SHA-256 hex of the stored bytes; empty while pending. */
    checksum: text("checksum").notNull().default(""),
    originalSize: integer("original_size").notNull().default(0),
    originalChecksum: text("original_checksum").notNull().default(""),
    compressed: integer("compressed", { mode: "boolean" }).notNull(),
    mimeType: text("mime_type").notNull(),
    /** User metadata, a JSON object. */
    metadata: text("metadata").notNull().default("{}"),
    state: text("state", { enum: ["pending", "publishing", "committed", "deleting"] }).notNull(),
    integrity: text("integrity", { enum: ["ok", "corrupt"] })
      .notNull()
      .default("ok"),
    pinned: integer("pinned", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
    /**
     * When retention removes it; null when the type keeps versions forever. Not indexed: the
     * sweep follows the current policy by type and creation time (see libsql-removal.ts).
     */
    expiresAt: integer("expires_at"),
    lastAccessedAt: integer("last_accessed_at"),
  },
  (table) => [
    uniqueIndex("artifacts_version_unique").on(table.specName, table.taskId, table.type, table.version),
    // Search reads committed versions newest first: partial indexes hold only those, in that order,
    // so a filtered page is an index range scan that stops after `limit` rows. Queries must spell
    // `state = 'committed'` as a literal for SQLite to pick them.
    index("artifacts_created_idx").on(table.createdAt, table.id).where(sql`${table.state} = 'committed'`),
    index("artifacts_spec_idx").on(table.specName, table.createdAt, table.id).where(sql`${table.state} = 'committed'`),
    index("artifacts_spec_type_idx")
      .on(table.specName, table.type, table.createdAt, table.id)
      .where(sql`${table.state} = 'committed'`),
    index("artifacts_task_idx").on(table.taskId, table.createdAt, table.id).where(sql`${table.state} = 'committed'`),
    index("artifacts_type_idx").on(table.type, table.createdAt, table.id).where(sql`${table.state} = 'committed'`),
    // Pending and deleting rows only (gc's stale reservations and interrupted deletes).
    index("artifacts_state_idx").on(table.state, table.createdAt).where(sql`${table.state} <> 'committed'`),
  ],
);

/** Tags, one row per (artifact, tag), indexed by tag for search. */
export const artifactTags = sqliteTable(
  "artifact_tags",
  {
    artifactId: integer("artifact_id")
      .notNull()
      .references(() => artifacts.id, { onDelete: "cascade" }),
    tag: text("tag").notNull(),
    /** The artifact's `created_at`, copied so a tag search walks this index newest first and stops after a page. */
    createdAt: integer("created_at").notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.artifactId, table.tag] }),
    index("artifact_tags_tag_idx").on(table.tag, table.createdAt, table.artifactId),
  ],
);

/**
 * The last version number handed out per (spec, task, type). Numbers are never reused,
 * even after every version was deleted, so a version number always names the same bytes.
 */
export const artifactSeries = sqliteTable(
  "artifact_series",
  {
    specName: text("spec_name").notNull(),
    taskId: text("task_id").notNull(),
    type: text("type").notNull(),
    lastVersion: integer("last_version").notNull(),
  },
  (table) => [primaryKey({ columns: [table.specName, table.taskId, table.type] })],
);

/**
 * One row per task whose files a process is changing now (publish, delete, `metadata.json`
 * rewrite): the task's turn across processes sharing the database. `expires_at` (the database's
 * clock, ms) lets another process take over the lease of one that died.
 */
export const taskLeases = sqliteTable(
  "task_leases",
  {
    specName: text("spec_name").notNull(),
    taskId: text("task_id").notNull(),
    owner: text("owner").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.specName, table.taskId] })],
);

/** Running totals kept by triggers (see the custom migration), so quota checks are O(1). */
export const storeUsage = sqliteTable("store_usage", {
  id: integer("id").primaryKey(),
  storedBytes: integer("stored_bytes").notNull().default(0),
  artifactCount: integer("artifact_count").notNull().default(0),
});

/**
 * The summary extracted from a version's content at upload (see `src/core/structure/`): one row
 * per version of a type with structure. The counts that searches filter on are columns with
 * partial indexes; the whole summary is kept as JSON for display.
 */
export const artifactSummaries = sqliteTable(
  "artifact_summaries",
  {
    artifactId: integer("artifact_id")
      .primaryKey()
      .references(() => artifacts.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["diff", "log", "test"] }).notNull(),
    /** Log lines that look like errors. */
    errorCount: integer("error_count").notNull().default(0),
    /** Failed tests. */
    failedCount: integer("failed_count").notNull().default(0),
    parseError: integer("parse_error", { mode: "boolean" }).notNull().default(false),
    /** The whole summary, a JSON object. */
    summary: text("summary").notNull(),
  },
  (table) => [
    index("artifact_summaries_errors_idx").on(table.artifactId).where(sql`${table.errorCount} > 0`),
    index("artifact_summaries_failures_idx").on(table.artifactId).where(sql`${table.failedCount} > 0`),
    index("artifact_summaries_parse_error_idx").on(table.artifactId).where(sql`${table.parseError} = 1`),
  ],
);

/**
 * Secrets redaction found in a version's content at upload (see `src/core/redaction/`): one row
 * per version with findings. Rules, counts and line numbers only: never a value or its hash.
 */
export const artifactSecrets = sqliteTable("artifact_secrets", {
  artifactId: integer("artifact_id")
    .primaryKey()
    .references(() => artifacts.id, { onDelete: "cascade" }),
  /** True when the secrets were masked before storing; false when only flagged. */
  masked: integer("masked", { mode: "boolean" }).notNull(),
  /** Matches of every rule together. */
  total: integer("total").notNull(),
  /** The rule names, each between commas (`,github-token,jwt,`), for the per-rule search. */
  rules: text("rules").notNull(),
  /** The findings, a JSON array of { rule, count, lines }. */
  findings: text("findings").notNull(),
});

/**
 * The stored bytes of a small version committed in one transaction with its row ("inline"),
 * until the materialiser has written them at the row's storage key and made that durable
 * (`src/core/task-inline.ts`). A row with no entry here has its bytes in the backend.
 */
export const artifactInline = sqliteTable("artifact_inline", {
  artifactId: integer("artifact_id")
    .primaryKey()
    .references(() => artifacts.id, { onDelete: "cascade" }),
  /** Exactly the bytes the backend would hold (gzip when the row is `compressed`). */
  bytes: blob("bytes", { mode: "buffer" }).notNull(),
});

/**
 * Every change to a row of `artifacts` (insert, update, delete), by series, in commit order: kept
 * by triggers (see the migration), read by a process's row cache to drop only the series another
 * commit touched (`record-cache.ts`). The oldest entries go as new ones come (the last 4,096 or more are kept).
 */
export const artifactChanges = sqliteTable("artifact_changes", {
  seq: integer("seq").primaryKey({ autoIncrement: true }),
  specName: text("spec_name").notNull(),
  taskId: text("task_id").notNull(),
  type: text("type").notNull(),
});

/** Files a diff touches, in diff order. */
export const artifactDiffFiles = sqliteTable(
  "artifact_diff_files",
  {
    artifactId: integer("artifact_id")
      .notNull()
      .references(() => artifacts.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    path: text("path").notNull(),
    /** Path before a rename, else null. */
    oldPath: text("old_path"),
    status: text("status", { enum: ["added", "deleted", "modified", "renamed", "copied"] }).notNull(),
    added: integer("added").notNull(),
    removed: integer("removed").notNull(),
    binary: integer("binary", { mode: "boolean" }).notNull().default(false),
    /** Size of a binary file after the change, when the diff says it. */
    binarySize: integer("binary_size"),
    oldMode: text("old_mode"),
    newMode: text("new_mode"),
    /** `similarity index` of a rename or copy, in percent. */
    similarity: integer("similarity"),
    /** Index into the summary's commits (`git log -p`, `format-patch`), or null for a plain diff. */
    commitIndex: integer("commit_index"),
    /**
     * The version's `created_at`, copied (as for tags) so a search by touched path takes the
     * newest matches from the path indexes alone before it reads any version.
     */
    createdAt: integer("created_at").notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.artifactId, table.ordinal] }),
    index("artifact_diff_files_path_idx").on(table.path, table.createdAt, table.artifactId),
    index("artifact_diff_files_old_path_idx")
      .on(table.oldPath, table.createdAt, table.artifactId)
      .where(sql`${table.oldPath} IS NOT NULL`),
  ],
);

/** Tests of a report, in report order. */
export const artifactTestCases = sqliteTable(
  "artifact_test_cases",
  {
    artifactId: integer("artifact_id")
      .notNull()
      .references(() => artifacts.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    suite: text("suite").notNull(),
    name: text("name").notNull(),
    status: text("status", { enum: ["passed", "failed", "skipped"] }).notNull(),
    durationMs: real("duration_ms"),
    message: text("message"),
    /** Passed on a retry after failing. */
    flaky: integer("flaky", { mode: "boolean" }).notNull().default(false),
    retries: integer("retries").notNull().default(0),
    stdout: text("stdout"),
    stderr: text("stderr"),
    /**
     * The version's `created_at`, copied (as for tags) so a search by failed test walks the
     * failed-test index newest first and stops after a page.
     */
    createdAt: integer("created_at").notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.artifactId, table.ordinal] }),
    index("artifact_test_cases_failed_idx")
      .on(table.name, table.createdAt, table.artifactId)
      .where(sql`${table.status} = 'failed'`),
  ],
);

/**
 * Logs being appended to (live logs) before they are sealed into a normal version. One row per
 * (spec, task, type); `session` names the object-key prefix of its chunks.
 */
export const liveLogs = sqliteTable(
  "live_logs",
  {
    specName: text("spec_name").notNull(),
    taskId: text("task_id").notNull(),
    type: text("type").notNull(),
    session: text("session").notNull(),
    state: text("state", { enum: ["open", "sealing"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.specName, table.taskId, table.type] })],
);

/** The chunks of a live log: numbered from 1, each with its offset, size and SHA-256. */
export const liveLogChunks = sqliteTable(
  "live_log_chunks",
  {
    session: text("session").notNull(),
    seq: integer("seq").notNull(),
    offset: integer("offset").notNull(),
    size: integer("size").notNull(),
    checksum: text("checksum").notNull(),
    storageKey: text("storage_key").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.session, table.seq] })],
);

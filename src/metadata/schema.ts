/**
 * The metadata schema: the single source of truth for the tables. `drizzle-kit generate`
 * turns it into the SQL in `drizzle/`, which `npm run db:bundle` copies into
 * `src/metadata/migrations.ts` for runtimes without a filesystem.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** One row per artifact version. Times are milliseconds since the epoch (UTC). */
export const artifacts = sqliteTable(
  "artifacts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    specName: text("spec_name").notNull(),
    taskId: text("task_id").notNull(),
    type: text("type").notNull(),
    version: integer("version").notNull(),
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
    state: text("state", { enum: ["pending", "committed", "deleting"] }).notNull(),
    integrity: text("integrity", { enum: ["ok", "corrupt"] })
      .notNull()
      .default("ok"),
    pinned: integer("pinned", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
    /** When retention removes it; null when the type keeps versions forever. */
    expiresAt: integer("expires_at"),
    lastAccessedAt: integer("last_accessed_at"),
  },
  (table) => [
    uniqueIndex("artifacts_version_unique").on(table.specName, table.taskId, table.type, table.version),
    uniqueIndex("artifacts_uri_unique").on(table.uri),
    index("artifacts_created_idx").on(table.createdAt, table.id),
    index("artifacts_spec_idx").on(table.specName, table.createdAt, table.id),
    index("artifacts_task_idx").on(table.taskId, table.createdAt),
    index("artifacts_type_idx").on(table.type, table.createdAt),
    index("artifacts_expiry_idx").on(table.expiresAt).where(sql`${table.state} = 'committed' AND ${table.pinned} = 0`),
    index("artifacts_state_idx").on(table.state, table.createdAt),
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
  },
  (table) => [
    primaryKey({ columns: [table.artifactId, table.tag] }),
    index("artifact_tags_tag_idx").on(table.tag, table.artifactId),
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

/** Running totals kept by triggers (see the custom migration), so quota checks are O(1). */
export const storeUsage = sqliteTable("store_usage", {
  id: integer("id").primaryKey(),
  storedBytes: integer("stored_bytes").notNull().default(0),
  artifactCount: integer("artifact_count").notNull().default(0),
});

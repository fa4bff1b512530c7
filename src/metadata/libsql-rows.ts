/** How artifact rows are selected (with their tags) and turned into records. */
import { sql } from "drizzle-orm";
import type { drizzle } from "drizzle-orm/libsql/web";
import type { ArtifactRecord } from "./metadata-repository.ts";
import { artifacts, artifactTags } from "./schema.ts";

export type Database = ReturnType<typeof drizzle>;

/** Tags are joined with the unit separator, which tag validation never lets through. */
const TAG_SEPARATOR = "\u001f";

const tagsColumn = sql<
  string | null
>`(SELECT group_concat(${artifactTags.tag}, ${TAG_SEPARATOR}) FROM ${artifactTags} WHERE ${artifactTags.artifactId} = ${artifacts.id})`;

/** Every column of a row plus its tags in one query. */
export const selection = { row: artifacts, tags: tagsColumn };

export type SelectedRow = { row: typeof artifacts.$inferSelect; tags: string | null };

export function toRecord({ row, tags }: SelectedRow): ArtifactRecord {
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
    state: row.state,
    integrity: row.integrity,
  };
}

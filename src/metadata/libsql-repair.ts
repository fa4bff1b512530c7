/** Queries for the maintenance tools: scrub order, orphan detection, rebuilding rows from sidecars. */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { ArtifactRecord, MetadataRepository, RestoreInput } from "../contracts/metadata-repository.ts";
import { type Database, isCommitted, selection, toRecord } from "./libsql-rows.ts";
import { secretsStatements } from "./libsql-secrets.ts";
import { artifactSeries, artifacts, artifactTags } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

type RepairQueries = Pick<MetadataRepository, "listCommittedAfter" | "referencedKeys" | "restore">;

export function createRepairQueries(db: Database, writes: WriteBatcher): RepairQueries {
  return {
    async listCommittedAfter(afterId, limit) {
      const rows = await db
        .select(selection)
        .from(artifacts)
        .where(and(isCommitted, gt(artifacts.id, afterId)))
        .orderBy(asc(artifacts.id))
        .limit(limit);
      return rows.map(toRecord);
    },

    async referencedKeys(blobKeys, sidecars) {
      const referenced = new Set<string>();
      if (blobKeys.length > 0) {
        const rows = await db
          .select({ key: artifacts.storageKey })
          .from(artifacts)
          .where(inArray(artifacts.storageKey, blobKeys));
        for (const row of rows) referenced.add(row.key);
      }
      for (const sidecar of sidecars) {
        // One indexed lookup per sidecar (unique index on spec, task, type, version).
        const [row] = await db
          .select({ id: artifacts.id })
          .from(artifacts)
          .where(
            and(
              eq(artifacts.specName, sidecar.specName),
              eq(artifacts.taskId, sidecar.taskId),
              eq(artifacts.type, sidecar.type),
              eq(artifacts.version, sidecar.version),
            ),
          )
          .limit(1);
        if (row) referenced.add(sidecar.key);
      }
      return referenced;
    },

    async restore(input: RestoreInput): Promise<ArtifactRecord | null> {
      const version = and(
        eq(artifacts.specName, input.specName),
        eq(artifacts.taskId, input.taskId),
        eq(artifacts.type, input.type),
        eq(artifacts.version, input.version),
      );
      // One transaction: the row, its tags and the series' high-water mark stand or fall together.
      const [inserted] = await writes.run([
        db
          .insert(artifacts)
          .values({
            specName: input.specName,
            taskId: input.taskId,
            type: input.type,
            version: input.version,
            uri: input.uri,
            storageKey: input.storageKey,
            size: input.size,
            checksum: input.checksum,
            originalSize: input.originalSize,
            originalChecksum: input.originalChecksum,
            compressed: input.compressed,
            mimeType: input.mimeType,
            metadata: JSON.stringify(input.metadata),
            state: "committed",
            pinned: input.pinned,
            createdAt: input.createdAt,
            expiresAt: input.expiresAt,
          })
          .onConflictDoNothing()
          .returning({ id: artifacts.id }),
        ...input.tags.map((tag) =>
          db.run(
            sql`INSERT OR IGNORE INTO ${artifactTags} (artifact_id, tag, created_at) SELECT ${artifacts.id}, ${tag}, ${artifacts.createdAt} FROM ${artifacts} WHERE ${version}`,
          ),
        ),
        // Version numbers must keep counting up from the highest one ever seen.
        db
          .insert(artifactSeries)
          .values({ specName: input.specName, taskId: input.taskId, type: input.type, lastVersion: input.version })
          .onConflictDoUpdate({
            target: [artifactSeries.specName, artifactSeries.taskId, artifactSeries.type],
            set: { lastVersion: sql`max(${artifactSeries.lastVersion}, ${input.version})` },
          }),
      ]);
      const id = (inserted as { id: number }[])[0]?.id;
      if (id === undefined) return null;
      if (input.secrets) await writes.run(secretsStatements(db, id, input.secrets));
      const [row] = await db.select(selection).from(artifacts).where(eq(artifacts.id, id));
      return row ? toRecord(row) : null;
    },
  };
}

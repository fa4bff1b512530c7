/** Changes to a committed version's row: pin and tags, its integrity verdict, its last access. */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import type { LookupQueries } from "./libsql-lookup.ts";
import type { Database } from "./libsql-rows.ts";
import { artifacts, artifactTags } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

type EditQueries = Pick<MetadataRepository, "setIntegrity" | "touch" | "update">;

export function createEditQueries(
  db: Database,
  writes: WriteBatcher,
  findById: LookupQueries["findById"],
): EditQueries {
  return {
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
  };
}

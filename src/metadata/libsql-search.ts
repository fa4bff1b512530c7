/** The search query: committed versions by metadata, tags, structure and time, newest first, keyset-paged. */
import { and, desc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import { type Database, isCommitted, qualified, selection, toRecord } from "./libsql-rows.ts";
import { secretsConditions } from "./libsql-secrets.ts";
import { structureConditions } from "./libsql-structure.ts";
import { artifacts, artifactTags } from "./schema.ts";

export function createSearchQuery(db: Database): Pick<MetadataRepository, "search"> {
  const selectRecords = () => db.select(selection).from(artifacts);
  return {
    async search(query) {
      const conditions: (SQL | undefined)[] = [isCommitted];
      if (query.specName !== undefined) conditions.push(eq(artifacts.specName, query.specName));
      if (query.taskId !== undefined) conditions.push(eq(artifacts.taskId, query.taskId));
      if (query.type !== undefined) conditions.push(eq(artifacts.type, query.type));
      if (query.since !== undefined) conditions.push(gte(artifacts.createdAt, query.since));
      if (query.until !== undefined) conditions.push(lt(artifacts.createdAt, query.until));
      if (query.integrity !== undefined) conditions.push(eq(artifacts.integrity, query.integrity));
      if (query.pinned !== undefined) conditions.push(eq(artifacts.pinned, query.pinned));
      // The first required tag drives the query (below); further ones, and "any of", are tag
      // index lookups (`id IN`), never a correlated test of every version.
      const tagged = (tags: string[]) =>
        db
          .select({ id: artifactTags.artifactId })
          .from(artifactTags)
          .where(tags.length === 1 ? eq(artifactTags.tag, tags[0] as string) : inArray(artifactTags.tag, tags));
      const [leadingTag, ...otherTags] = query.allTags ?? [];
      for (const tag of otherTags) conditions.push(inArray(artifacts.id, tagged([tag])));
      if (query.anyTags && query.anyTags.length > 0) conditions.push(inArray(artifacts.id, tagged(query.anyTags)));
      if (query.latestOnly) {
        conditions.push(
          sql`${artifacts.version} = (SELECT max(a2.version) FROM ${artifacts} a2 WHERE a2.spec_name = ${qualified(artifacts.specName)} AND a2.task_id = ${qualified(artifacts.taskId)} AND a2.type = ${qualified(artifacts.type)} AND a2.state = 'committed')`,
        );
      }
      conditions.push(...structureConditions(db, query), ...secretsConditions(db, query));
      if (leadingTag !== undefined) {
        // Walk the tag's index (tag, created_at, artifact_id) newest first, joining each version
        // by id: a page costs `limit` index steps however common or rare the tag is.
        if (query.after) {
          conditions.push(
            or(
              lt(artifactTags.createdAt, query.after.createdAt),
              and(eq(artifactTags.createdAt, query.after.createdAt), lt(artifactTags.artifactId, query.after.id)),
            ),
          );
        }
        const rows = await db
          .select(selection)
          .from(artifactTags)
          .innerJoin(artifacts, eq(artifacts.id, artifactTags.artifactId))
          .where(and(eq(artifactTags.tag, leadingTag), ...conditions))
          .orderBy(desc(artifactTags.createdAt), desc(artifactTags.artifactId))
          .limit(query.limit);
        return rows.map(toRecord);
      }
      if (query.after) {
        conditions.push(
          or(
            lt(artifacts.createdAt, query.after.createdAt),
            and(eq(artifacts.createdAt, query.after.createdAt), lt(artifacts.id, query.after.id)),
          ),
        );
      }
      const rows = await selectRecords()
        .where(and(...conditions))
        .orderBy(desc(artifacts.createdAt), desc(artifacts.id))
        .limit(query.limit);
      return rows.map(toRecord);
    },
  };
}

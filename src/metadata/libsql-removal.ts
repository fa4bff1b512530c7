/**
 * Versions on their way out: those expired under the retention policy, pending or deleting rows
 * left stale by a crash, marking them `deleting`, and removing their rows.
 */
import { and, asc, inArray, lt, type SQL, sql } from "drizzle-orm";
import type { MetadataRepository, RetentionRule } from "../contracts/metadata-repository.ts";
import { DAY_MS } from "../lib/time.ts";
import { type Database, isCommitted, selection, toRecord } from "./libsql-rows.ts";
import { artifactSecrets, artifacts, artifactTags } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

type RemovalQueries = Pick<
  MetadataRepository,
  "listExpired" | "countExpired" | "listStale" | "markDeleting" | "remove"
>;

/**
 * Expired under the current policy: each rule is a range of the (type, created_at) index; a
 * type without a rule never expires. (The stored `expires_at` is not consulted: the API offers
 * no per-upload expiry, and a policy changed since upload must apply.)
 */
function expiredUnder(policy: RetentionRule[], now: number): SQL {
  if (policy.length === 0) return sql`0`;
  const rules = policy.map(
    (rule) =>
      sql`(${artifacts.type} = ${rule.type} AND ${artifacts.createdAt} <= ${now - rule.retentionDays * DAY_MS})`,
  );
  return sql`(${sql.join(rules, sql` OR `)})`;
}

export function createRemovalQueries(db: Database, writes: WriteBatcher): RemovalQueries {
  const selectRecords = () => db.select(selection).from(artifacts);

  return {
    async listExpired(now, limit, policy) {
      const rows = await selectRecords()
        .where(and(isCommitted, sql`${artifacts.pinned} = 0`, expiredUnder(policy, now)))
        .orderBy(asc(artifacts.createdAt), asc(artifacts.id))
        .limit(limit);
      return rows.map(toRecord);
    },

    async countExpired(now, policy) {
      const [row] = await db
        .select({ count: sql<number>`count(*)` })
        .from(artifacts)
        .where(and(isCommitted, sql`${artifacts.pinned} = 0`, expiredUnder(policy, now)));
      return Number(row?.count ?? 0);
    },

    async listStale(state, before, limit) {
      const rows = await selectRecords()
        // A literal state, so the partial index of pending and deleting rows applies.
        .where(and(sql`${artifacts.state} = ${sql.raw(`'${state}'`)}`, lt(artifacts.createdAt, before)))
        .orderBy(asc(artifacts.createdAt))
        .limit(limit);
      return rows.map(toRecord);
    },

    async markDeleting(ids, options = {}) {
      if (ids.length === 0) return [];
      // For the retention sweep the expiry is checked again in the same statement: a version
      // pinned since the sweep listed it is left alone.
      const stillExpired =
        options.expiredBy === undefined
          ? sql`${artifacts.state} != 'deleting'`
          : and(isCommitted, sql`${artifacts.pinned} = 0`, expiredUnder(options.policy ?? [], options.expiredBy));
      const [rows] = await writes.run([
        db
          .update(artifacts)
          .set({ state: "deleting" })
          .where(and(inArray(artifacts.id, ids), stillExpired))
          .returning({ id: artifacts.id }),
      ]);
      return (rows as { id: number }[]).map((row) => row.id);
    },

    async remove(ids) {
      if (ids.length === 0) return;
      await writes.run([
        db.delete(artifactTags).where(inArray(artifactTags.artifactId, ids)),
        db.delete(artifactSecrets).where(inArray(artifactSecrets.artifactId, ids)),
        db.delete(artifacts).where(inArray(artifacts.id, ids)),
      ]);
    },
  };
}

/** Live-log rows: one per log being appended to, one per chunk (see `src/core/live-log.ts`). */
import { and, asc, eq, gt, lt, or, type SQL, sql } from "drizzle-orm";
import type { LiveLogChunkRecord, LiveLogQueries, LiveLogRecord } from "../contracts/metadata-repository.ts";
import { type Database, qualified } from "./libsql-rows.ts";
import { liveLogChunks, liveLogs } from "./schema.ts";
import type { WriteBatcher } from "./write-batcher.ts";

/** A live log's row with its size and chunk count, summed from its chunks. */
const withTotals = {
  specName: liveLogs.specName,
  taskId: liveLogs.taskId,
  type: liveLogs.type,
  session: liveLogs.session,
  state: liveLogs.state,
  createdAt: liveLogs.createdAt,
  updatedAt: liveLogs.updatedAt,
  size: sql<number>`(SELECT coalesce(max(c.offset + c.size), 0) FROM ${liveLogChunks} c WHERE c.session = ${qualified(liveLogs.session)})`,
  chunks: sql<number>`(SELECT count(*) FROM ${liveLogChunks} c WHERE c.session = ${qualified(liveLogs.session)})`,
};
const toRecord = (row: Omit<LiveLogRecord, "size" | "chunks"> & { size: unknown; chunks: unknown }): LiveLogRecord => ({
  ...row,
  size: Number(row.size),
  chunks: Number(row.chunks),
});
const toChunk = (row: typeof liveLogChunks.$inferSelect): LiveLogChunkRecord => ({
  seq: row.seq,
  offset: row.offset,
  size: row.size,
  checksum: row.checksum,
  storageKey: row.storageKey,
  createdAt: row.createdAt,
});

/** A chunk row as `RETURNING *` gives it (column names, not drizzle's field names). */
function rawRowToChunk(row: Record<string, unknown>): LiveLogChunkRecord {
  return {
    seq: Number(row.seq),
    offset: Number(row.offset),
    size: Number(row.size),
    checksum: String(row.checksum),
    storageKey: String(row.storage_key),
    createdAt: Number(row.created_at),
  };
}

export function createLiveLogQueries(db: Database, writes: WriteBatcher): LiveLogQueries {
  const find = async (where: SQL | undefined) => {
    const [row] = await db.select(withTotals).from(liveLogs).where(where).limit(1);
    return row ? toRecord(row) : null;
  };
  const ofRef = (ref: { specName: string; taskId: string; type: string }) =>
    and(eq(liveLogs.specName, ref.specName), eq(liveLogs.taskId, ref.taskId), eq(liveLogs.type, ref.type));

  return {
    findLiveLog: (ref) => find(ofRef(ref)),

    async startLiveLog(ref, session, now) {
      await writes.run([
        db
          .insert(liveLogs)
          .values({ ...ref, session, state: "open", createdAt: now, updatedAt: now })
          .onConflictDoNothing(),
      ]);
      const record = await find(ofRef(ref));
      if (!record) throw new Error("[metadata] the live log row vanished right after it was created");
      return record;
    },

    async findLiveLogChunk(session, seq) {
      const [row] = await db
        .select()
        .from(liveLogChunks)
        .where(and(eq(liveLogChunks.session, session), eq(liveLogChunks.seq, seq)))
        .limit(1);
      return row ? toChunk(row) : null;
    },

    async appendLiveLogChunk(session, chunk) {
      // The previous chunk must exist (chunks stay contiguous) and the log must still be open.
      const previous = sql`(SELECT p.offset + p.size FROM ${liveLogChunks} p WHERE p.session = ${session} AND p.seq = ${chunk.seq - 1})`;
      const [inserted] = await writes.run([
        db.all(sql`INSERT INTO ${liveLogChunks} (session, seq, offset, size, checksum, storage_key, created_at)
          SELECT ${session}, ${chunk.seq}, ${chunk.seq === 1 ? sql`0` : previous}, ${chunk.size}, ${chunk.checksum}, ${chunk.storageKey}, ${chunk.createdAt}
          WHERE (${chunk.seq} = 1 OR ${previous} IS NOT NULL)
            AND EXISTS (SELECT 1 FROM ${liveLogs} WHERE ${liveLogs.session} = ${session} AND ${liveLogs.state} = 'open')
          ON CONFLICT DO NOTHING
          RETURNING *`),
        // Only an open log's clock moves: appends refused during a seal must not hold off its takeover.
        db
          .update(liveLogs)
          .set({ updatedAt: chunk.createdAt })
          .where(and(eq(liveLogs.session, session), eq(liveLogs.state, "open"))),
      ]);
      const row = (inserted as Record<string, unknown>[])[0];
      return row ? rawRowToChunk(row) : null;
    },

    async listLiveLogChunks(session, fromOffset) {
      const rows = await db
        .select()
        .from(liveLogChunks)
        .where(
          and(eq(liveLogChunks.session, session), gt(sql`${liveLogChunks.offset} + ${liveLogChunks.size}`, fromOffset)),
        )
        .orderBy(asc(liveLogChunks.seq));
      return rows.map(toChunk);
    },

    async beginSeal(session, now, staleBefore) {
      const [rows] = await writes.run([
        db
          .update(liveLogs)
          .set({ state: "sealing", updatedAt: now })
          .where(
            and(
              eq(liveLogs.session, session),
              or(eq(liveLogs.state, "open"), and(eq(liveLogs.state, "sealing"), lt(liveLogs.updatedAt, staleBefore))),
            ),
          )
          .returning({ session: liveLogs.session }),
      ]);
      return (rows as unknown[]).length === 1;
    },

    async cancelSeal(session) {
      await writes.run([db.update(liveLogs).set({ state: "open" }).where(eq(liveLogs.session, session))]);
    },

    async removeLiveLog(session) {
      await writes.run([
        db.delete(liveLogChunks).where(eq(liveLogChunks.session, session)),
        db.delete(liveLogs).where(eq(liveLogs.session, session)),
      ]);
    },

    async listLiveLogs(filter) {
      const conditions: (SQL | undefined)[] = [];
      if (filter.specName !== undefined) conditions.push(eq(liveLogs.specName, filter.specName));
      if (filter.taskId !== undefined) conditions.push(eq(liveLogs.taskId, filter.taskId));
      const rows = await db
        .select(withTotals)
        .from(liveLogs)
        .where(and(...conditions))
        .orderBy(asc(liveLogs.specName), asc(liveLogs.taskId), asc(liveLogs.type))
        .limit(1000);
      return rows.map(toRecord);
    },
  };
}

/**
 * Group commit: write transactions requested while another is being prepared or executed are
 * joined into one `batch`, so concurrent uploads share one commit (one WAL fsync locally, one
 * round trip to a remote server) instead of paying for one each. Durability is unchanged:
 * nobody's promise resolves before the transaction holding their statements has committed.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { isDiskFull, storageFullError } from "../contracts/errors.ts";
import { type BoundStatement, bindQuery, isBound } from "./libsql-prepared.ts";
import type { Database } from "./libsql-rows.ts";

type Results = unknown[];

/** A drizzle query, or a statement built once with its values bound (see `libsql-prepared.ts`). */
export type WriteItem = BatchItem<"sqlite"> | BoundStatement;

interface Job {
  queries: BoundStatement[];
  /** False: answered once committed, without waiting for `afterCommit` (see {@link WriteOptions}). */
  durable: boolean;
  resolve(results: Results): void;
  reject(error: unknown): void;
}

/** A full disk under the database is the store's one full-disk error, not an internal failure. */
function named(error: unknown): unknown {
  return isDiskFull(error)
    ? storageFullError("metadata", "writing the metadata database failed", { cause: error })
    : error;
}

/** At most this many statements go into one joined transaction. */
const MAX_STATEMENTS = 500;

const nextTurn: (callback: () => void) => void =
  typeof setImmediate === "function" ? (callback) => setImmediate(callback) : (callback) => setTimeout(callback, 0);

/** An error SQLite raised for a statement (the transaction rolled back), as opposed to a transport failure. */
function isStatementError(error: unknown): boolean {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return true;
  }
  return false;
}

export interface WriteOptions {
  /**
   * False for a write whose loss in a power failure loses nothing acknowledged (an upload's
   * pending row): it is answered once committed, before the WAL fsync. The log is written in
   * order, so any later durable commit makes it durable too. Default true.
   */
  durable?: boolean;
}

export interface WriteBatcher {
  /** Runs `queries` in one transaction, possibly together with other callers'; resolves with their results. */
  run(queries: WriteItem[], options?: WriteOptions): Promise<Results>;
}

/**
 * @param afterCommit runs after each transaction and before its callers are answered: the local
 *   file opener passes an fsync of the WAL here, so commits are durable without blocking the
 *   event loop on a synchronous fsync per transaction.
 */
export function createWriteBatcher(db: Database, afterCommit?: () => Promise<void>, join = true): WriteBatcher {
  const queue: Job[] = [];
  let scheduled = false;
  let running = false;
  const client = db.$client;
  /**
   * One transaction, as drizzle's `db.batch` runs it, minus building the statements again. It
   * begins IMMEDIATE (`"write"`): the write lock is waited for at BEGIN. A deferred one, with
   * another process writing to the same database (two servers on one sqld), sometimes failed
   * SQLITE_BUSY at its first statement instead of waiting — a 500 for an upload.
   */
  const batch = async (statements: BoundStatement[]): Promise<Results> => {
    const results = await client.batch(
      statements.map((bound) => bound.statement),
      "write",
    );
    return results.map((result, index) => (statements[index] as BoundStatement).map(result));
  };

  const runAlone = async (job: Job) => {
    let results: Results;
    try {
      results = await batch(job.queries);
      if (job.durable) await afterCommit?.();
    } catch (error) {
      job.reject(named(error));
      return;
    }
    job.resolve(results);
  };

  const flush = async () => {
    scheduled = false;
    if (running || queue.length === 0) return;
    running = true;
    const jobs: Job[] = [];
    let statements = 0;
    while (queue.length > 0 && (jobs.length === 0 || statements + (queue[0] as Job).queries.length <= MAX_STATEMENTS)) {
      const job = queue.shift() as Job;
      jobs.push(job);
      statements += job.queries.length;
    }
    try {
      if (jobs.length === 1) await runAlone(jobs[0] as Job);
      else await runJoined(jobs);
    } finally {
      running = false;
      if (queue.length > 0) schedule();
    }
  };

  const runJoined = async (jobs: Job[]) => {
    let results: Results;
    try {
      results = await batch(jobs.flatMap((job) => job.queries));
    } catch (error) {
      if (!isStatementError(error)) {
        // A transport failure (a remote server's answer lost) leaves it unknown whether the
        // transaction applied: running the jobs again could apply them twice. Everyone fails.
        for (const job of jobs) job.reject(named(error));
        return;
      }
      // One job's statement failed and rolled back everyone's: run each alone, so only it fails.
      for (const job of jobs) await runAlone(job);
      return;
    }
    try {
      if (jobs.some((job) => job.durable)) await afterCommit?.();
    } catch (error) {
      for (const job of jobs) job.reject(named(error));
      return;
    }
    let offset = 0;
    for (const job of jobs) {
      job.resolve(results.slice(offset, offset + job.queries.length));
      offset += job.queries.length;
    }
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    // Wait one event-loop turn: requests completing in this turn join the same transaction.
    nextTurn(() => void flush());
  };

  return {
    run(items, options = {}) {
      const queries = items.map((item) => (isBound(item) ? item : bindQuery(item)));
      const durable = options.durable !== false;
      if (!join) {
        return new Promise<Results>((resolve, reject) => void runAlone({ queries, durable, resolve, reject }));
      }
      return new Promise<Results>((resolve, reject) => {
        queue.push({ queries, durable, resolve, reject });
        schedule();
      });
    },
  };
}

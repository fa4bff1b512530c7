/**
 * A `Client` for local database files on one `libsql` connection that prepares each distinct SQL
 * text once and reuses the statement. `@libsql/client`'s file client prepares (and describes the
 * columns of) every statement on every call, which was about a third of the server's CPU for
 * small artifacts. Same results, same errors (`LibsqlError` with SQLite's code), same
 * transactions: `batch` runs BEGIN … COMMIT synchronously, so nothing interleaves on the one
 * connection.
 */
import {
  type Client,
  type InArgs,
  type InStatement,
  LibsqlBatchError,
  LibsqlError,
  type ResultSet,
  type TransactionMode,
} from "@libsql/client";
import Database from "libsql";
import { blobsAsArrayBuffers, resultSet, toArgs, toRows } from "./file-client-values.ts";
import type { ValuesClient } from "./libsql-prepared.ts";

/** Distinct statements kept prepared; the hot paths use a few dozen, the rest come and go. */
const CACHE_SIZE = 256;

interface Prepared {
  statement: Database.Statement;
  /** Column names when the statement returns rows, else null. */
  columns: string[] | null;
  columnTypes: string[];
}

/**
 * Statements by SQL text, prepared once with their columns described; the least recently used
 * goes when more than {@link CACHE_SIZE} are kept.
 */
function createStatementCache(db: Database.Database) {
  const cache = new Map<string, Prepared>();
  const prepare = (sql: string): Prepared => {
    const hit = cache.get(sql);
    if (hit) {
      // Most recently used goes last: the first entry is the one to evict.
      cache.delete(sql);
      cache.set(sql, hit);
      return hit;
    }
    const statement = db.prepare(sql);
    let columns: string[] | null = null;
    let columnTypes: string[] = [];
    try {
      statement.raw(true);
      const described = statement.columns();
      columns = described.map((column) => column.name);
      columnTypes = described.map((column) => column.type ?? "");
    } catch {
      // raw() throws for a statement that returns no rows
    }
    const prepared = { statement, columns, columnTypes };
    cache.set(sql, prepared);
    if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    return prepared;
  };

  return { prepare, clear: () => cache.clear() };
}

export interface FileClientOptions {
  /** Milliseconds a statement waits for another process's lock before SQLITE_BUSY. */
  timeout?: number;
  /**
   * Reads the first bytes of the database's WAL index (`<file>-shm`), or undefined when there is
   * none (injected: the file is read with `node:fs` by local.ts). It makes `changeStamp` cheap.
   */
  walIndex?: { read(): Uint8Array | undefined; close(): void };
}

/** SQLite's WAL index header (WalIndexHdr): 48 bytes, kept twice at the start of `-shm`. */
const WAL_INDEX_HEADER_BYTES = 48;
const WAL_INDEX_VERSION = 3007000;

/**
 * The WAL index header as a stamp, when it is settled (both copies equal, initialised, the known
 * version): every commit by any connection rewrites it (its change counter, frame count and
 * checksums), so equal headers mean the same committed data. Undefined when it cannot say.
 *
 * Every cached read keeps the stamp it was read under, so the stamp is one flat string (a
 * join, not a concatenation: JavaScriptCore keeps `a + b` as a tree of ~40 small strings until
 * it is read whole, ~1.2 KiB a stamp), and an unchanged header gives back the very same string.
 */
function createWalIndexStamp(): (bytes: Uint8Array | undefined) => string | undefined {
  const half = WAL_INDEX_HEADER_BYTES / 4;
  const last = new Uint32Array(half);
  let lastStamp: string | undefined;
  const parts: (string | number)[] = ["w"];
  return (bytes) => {
    if (!bytes || bytes.length < 2 * WAL_INDEX_HEADER_BYTES) return undefined;
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, (2 * WAL_INDEX_HEADER_BYTES) / 4);
    // iVersion (word 0) and isInit (byte 12) of the first copy.
    if (words[0] !== WAL_INDEX_VERSION || bytes[12] !== 1) return undefined;
    let same = lastStamp !== undefined;
    for (let i = 0; i < half; i++) {
      // A commit writing the header right now: the copies differ, and nothing can be said.
      if (words[i] !== words[i + half]) return undefined;
      if (words[i] !== last[i]) same = false;
    }
    if (same) return lastStamp;
    for (let i = 0; i < half; i++) {
      last[i] = words[i] as number;
      parts[i + 1] = words[i] as number;
    }
    lastStamp = parts.join(".");
    return lastStamp;
  };
}

/** Statements run on the cached prepared statements: with a result set, or rows as arrays of values. */
function createRunners(prepare: (sql: string) => Prepared) {
  const execute = (stmt: InStatement): ResultSet => {
    const sql = typeof stmt === "string" ? stmt : stmt.sql;
    const args = typeof stmt === "string" ? [] : toArgs(stmt.args);
    try {
      const { statement, columns, columnTypes } = prepare(sql);
      if (columns) {
        const rows = toRows(statement.all(args) as unknown[][], columns);
        return resultSet(columns, columnTypes, rows, 0, undefined);
      }
      const info = statement.run(args);
      return resultSet([], [], [], info.changes, BigInt(info.lastInsertRowid));
    } catch (error) {
      throw mapError(error);
    }
  };

  const executeValues = (stmt: InStatement): unknown[][] => {
    const { sql, args } = typeof stmt === "string" ? { sql: stmt, args: [] } : stmt;
    try {
      const { statement, columns } = prepare(sql);
      if (!columns) throw new LibsqlError("executeValues reads rows; this statement returns none", "SQL_NO_STATEMENT");
      return (statement.all(toArgs(args)) as unknown[][]).map(blobsAsArrayBuffers);
    } catch (error) {
      throw mapError(error);
    }
  };

  /** The first row alone: one step of the statement (`all` sets up a cursor and a batch of rows). */
  const executeFirstValues = (stmt: InStatement): unknown[] | undefined => {
    const { sql, args } = typeof stmt === "string" ? { sql: stmt, args: [] } : stmt;
    try {
      const { statement, columns } = prepare(sql);
      if (!columns)
        throw new LibsqlError("executeFirstValues reads a row; this statement returns none", "SQL_NO_STATEMENT");
      const row = statement.get(toArgs(args)) as unknown[] | undefined;
      return row && blobsAsArrayBuffers(row);
    } catch (error) {
      throw mapError(error);
    }
  };

  return { execute, executeValues, executeFirstValues };
}

/**
 * @example
 * const client = openFileClient("/var/lib/artifacts/.store/metadata.db", { timeout: 10_000 });
 */
export function openFileClient(path: string, options: FileClientOptions = {}): Client {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: options.timeout ?? 0 });
  } catch (error) {
    throw mapError(error);
  }
  let closed = false;

  const { prepare, clear: clearCache } = createStatementCache(db);

  const { execute, executeValues, executeFirstValues } = createRunners(prepare);

  const checkOpen = () => {
    if (closed) throw new LibsqlError("The client is closed", "CLIENT_CLOSED");
  };

  const batch = (stmts: (InStatement | [string, InArgs?])[], mode: TransactionMode = "deferred"): ResultSet[] => {
    checkOpen();
    execute(mode === "write" ? "BEGIN IMMEDIATE" : mode === "read" ? "BEGIN TRANSACTION READONLY" : "BEGIN DEFERRED");
    try {
      const results: ResultSet[] = [];
      for (let i = 0; i < stmts.length; i++) {
        const stmt = stmts[i] as InStatement | [string, InArgs?];
        try {
          if (!db.inTransaction)
            throw new LibsqlBatchError("The transaction has been rolled back", i, "TRANSACTION_CLOSED");
          results.push(execute(Array.isArray(stmt) ? { sql: stmt[0], args: stmt[1] ?? [] } : stmt));
        } catch (error) {
          if (error instanceof LibsqlError && !(error instanceof LibsqlBatchError)) {
            throw new LibsqlBatchError(
              error.message,
              i,
              error.code,
              error.extendedCode,
              error.rawCode,
              error.cause as Error,
            );
          }
          throw error;
        }
      }
      execute("COMMIT");
      return results;
    } finally {
      if (db.open && db.inTransaction) {
        try {
          execute("ROLLBACK");
        } catch {
          // the statement's own error is the one to report
        }
      }
    }
  };

  const changeStamp = createChangeStamp(db, options.walIndex);

  const client = {
    protocol: "file",
    /** Moves whenever anything is committed to the database (see {@link createChangeStamp}). */
    changeStamp(): string {
      checkOpen();
      return changeStamp();
    },
    get closed() {
      return closed;
    },
    async execute(stmtOrSql: InStatement, args?: InArgs) {
      checkOpen();
      return execute(typeof stmtOrSql === "string" ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql);
    },
    /** {@link ValuesClient}: the rows of a read as arrays of values, no row objects made. */
    async executeValues(stmt: InStatement) {
      checkOpen();
      return executeValues(stmt);
    },
    async executeFirstValues(stmt: InStatement) {
      checkOpen();
      return executeFirstValues(stmt);
    },
    async batch(stmts: (InStatement | [string, InArgs?])[], mode?: TransactionMode) {
      return batch(stmts, mode);
    },
    async migrate(stmts: InStatement[]) {
      return batch(stmts, "deferred");
    },
    async executeMultiple(sql: string) {
      checkOpen();
      try {
        db.exec(sql);
      } catch (error) {
        throw mapError(error);
      }
    },
    async transaction(): Promise<never> {
      // Nothing in the store opens an interactive transaction; a long-lived one would hold the
      // only connection across awaits and block every other request.
      throw new LibsqlError("interactive transactions are not supported by this client", "TRANSACTION_UNSUPPORTED");
    },
    async sync() {
      return undefined;
    },
    async reconnect() {},
    close() {
      if (closed) return;
      closed = true;
      clearCache();
      options.walIndex?.close();
      db.close();
    },
  };
  return client as unknown as Client;
}

/**
 * Changes the moment anything is committed to the database: `data_version` moves with every
 * other connection's commit (another process, another store on the same file), and
 * `total_changes()` with every row this connection writes. Equal stamps mean the same data,
 * so a read's result may be kept until the stamp moves (see `record-cache.ts`). In WAL mode
 * the WAL index header says the same without a statement (a read transaction costs ~30 µs
 * of CPU on a busy server, the header one small read).
 */
function createChangeStamp(db: Database.Database, walIndex: FileClientOptions["walIndex"]): () => string {
  let statement: Database.Statement | undefined;
  const walIndexStamp = createWalIndexStamp();
  return () => {
    const fromIndex = walIndexStamp(walIndex?.read());
    if (fromIndex !== undefined) return fromIndex;
    try {
      statement ??= db.prepare("SELECT data_version, total_changes() FROM pragma_data_version").raw(true);
      const [version, changes] = statement.get([]) as [number, number];
      return `s${version}:${changes}`;
    } catch (error) {
      throw mapError(error);
    }
  };
}

/** SQLite's errors as `LibsqlError`s with the code (`SQLITE_FULL`, `SQLITE_BUSY`, …) callers test. */
function mapError(error: unknown): unknown {
  if (error instanceof Database.SqliteError) {
    const extended = error.code;
    const rawCode = (error as { rawCode?: number }).rawCode;
    const base = rawCode === undefined ? extended : (BASE_CODES[rawCode & 0xff] ?? extended);
    return new LibsqlError(error.message, base, extended, rawCode, error);
  }
  return error;
}

const BASE_CODES: Record<number, string> = {
  1: "SQLITE_ERROR",
  2: "SQLITE_INTERNAL",
  3: "SQLITE_PERM",
  4: "SQLITE_ABORT",
  5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM",
  8: "SQLITE_READONLY",
  9: "SQLITE_INTERRUPT",
  10: "SQLITE_IOERR",
  11: "SQLITE_CORRUPT",
  12: "SQLITE_NOTFOUND",
  13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN",
  15: "SQLITE_PROTOCOL",
  16: "SQLITE_EMPTY",
  17: "SQLITE_SCHEMA",
  18: "SQLITE_TOOBIG",
  19: "SQLITE_CONSTRAINT",
  20: "SQLITE_MISMATCH",
  21: "SQLITE_MISUSE",
  22: "SQLITE_NOLFS",
  23: "SQLITE_AUTH",
  24: "SQLITE_FORMAT",
  25: "SQLITE_RANGE",
  26: "SQLITE_NOTADB",
  27: "SQLITE_NOTICE",
  28: "SQLITE_WARNING",
};

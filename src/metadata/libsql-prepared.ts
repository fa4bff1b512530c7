/**
 * Statements built once: drizzle renders a query's SQL text (with `sql.placeholder` for the
 * values) when the repository is created, and every call only binds values. Building the text
 * per call was a tenth of the server's CPU for small artifacts. The client keeps each text's
 * statement prepared (see `file-client.ts`), so a hot query costs SQLite's work and little else.
 */
import type { Client, InArgs, InStatement, ResultSet } from "@libsql/client";
import type { BatchItem } from "drizzle-orm/batch";
import { fillPlaceholders } from "drizzle-orm/sql";

/** A statement with its values, for a write batch (see `write-batcher.ts`). */
export interface BoundStatement {
  readonly statement: InStatement;
  /** The result as the drizzle query would have given it. */
  map(result: ResultSet): unknown;
}

export interface PreparedStatement<T> {
  bind(values?: Record<string, unknown>): BoundStatement;
  /** Runs alone (a read), with the rows as the drizzle query gives them. */
  all(values?: Record<string, unknown>): Promise<T[]>;
}

/** What drizzle's own batch uses of a query: its built text and its result mapping. */
interface DrizzlePrepared {
  getQuery(): { sql: string; params: unknown[] };
  mapResult(response: unknown, isFromBatch?: boolean): unknown;
}

/** A drizzle query (select, insert, update, delete or raw `sql`) whose values are placeholders. */
export function prepareStatement<T = unknown>(client: Client, query: BatchItem<"sqlite">): PreparedStatement<T> {
  const prepared = (query as unknown as { _prepare(): DrizzlePrepared })._prepare();
  const { sql, params } = prepared.getQuery();
  const bind = (values: Record<string, unknown> = {}): BoundStatement => ({
    statement: { sql, args: fillPlaceholders(params, values) as InArgs },
    map: (result) => prepared.mapResult(result, true),
  });
  return {
    bind,
    async all(values) {
      const bound = bind(values);
      return bound.map(await client.execute(bound.statement)) as T[];
    },
  };
}

/** A drizzle query built now, for a batch: what drizzle's own `db.batch` does per query. */
export function bindQuery(query: BatchItem<"sqlite">): BoundStatement {
  const prepared = (query as unknown as { _prepare(): DrizzlePrepared })._prepare();
  const { sql, params } = prepared.getQuery();
  return {
    statement: { sql, args: params as InArgs },
    map: (result) => prepared.mapResult(result, true),
  };
}

export function isBound(item: BatchItem<"sqlite"> | BoundStatement): item is BoundStatement {
  return typeof (item as BoundStatement).map === "function" && "statement" in item;
}

/**
 * A client that also answers a read with each row as the array of its values in column order,
 * making no row objects: for readers that decode rows by position (the search, a download's
 * lookup). Here rather than in file-client.ts, so the edge bundle (no native libsql) can hold it.
 */
export interface ValuesClient {
  executeValues(statement: InStatement): Promise<unknown[][]>;
  /** The first row alone, or undefined: for a read of one row (a version's lookup). */
  executeFirstValues(statement: InStatement): Promise<unknown[] | undefined>;
}

/** The rows of a read by position: a {@link ValuesClient}'s arrays, else `execute`'s rows (array-like too). */
export async function executeValues(client: Client, statement: InStatement): Promise<ArrayLike<unknown>[]> {
  const own = (client as Client & Partial<ValuesClient>).executeValues;
  return own ? own.call(client, statement) : (await client.execute(statement)).rows;
}

/** The first row of a read by position: a {@link ValuesClient}'s one step, else `execute`'s first row. */
export async function executeFirstValues(
  client: Client,
  statement: InStatement,
): Promise<ArrayLike<unknown> | undefined> {
  const own = (client as Client & Partial<ValuesClient>).executeFirstValues;
  return own ? own.call(client, statement) : (await client.execute(statement)).rows[0];
}

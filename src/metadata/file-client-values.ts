/**
 * Values in and out of the file client (see file-client.ts): arguments as libsql binds them, and
 * rows and result sets shaped as `@libsql/client` gives them.
 */
import type { InArgs, ResultSet, Row } from "@libsql/client";

export function toArgs(args: InArgs | undefined): unknown[] | Record<string, unknown> {
  if (args === undefined) return [];
  if (Array.isArray(args)) return args.map(toSqlValue);
  const named: Record<string, unknown> = {};
  for (const name in args) {
    const bare = name[0] === "@" || name[0] === "$" || name[0] === ":" ? name.slice(1) : name;
    named[bare] = toSqlValue(args[name]);
  }
  return named;
}

export function toSqlValue(value: unknown): unknown {
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new RangeError("Only finite numbers (not Infinity or NaN) can be passed as arguments");
    return value;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof Date) return value.valueOf();
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value === undefined) throw new TypeError("undefined cannot be passed as argument to the database");
  return value;
}

type RowClass = new (values: unknown[]) => Row;

/** One class per statement's column list (the cache keeps the list with the statement). */
const rowClasses = new WeakMap<string[], RowClass>();

/**
 * Rows as `@libsql/client` gives them: values by column name (own, enumerable; the first of
 * two equal names wins) and by index and `length` (not enumerable, so spreading or JSON gives
 * the names alone). The names are set in the constructor and the indices are getters on the
 * class's prototype, instead of a property definition per value of every row.
 */
export function rowClass(columns: string[]): RowClass {
  const existing = rowClasses.get(columns);
  if (existing) return existing;
  const named: [string, number][] = [];
  const taken = new Set<string>(["length", ...columns.map((_, index) => String(index))]);
  columns.forEach((name, index) => {
    if (taken.has(name)) return;
    taken.add(name);
    named.push([name, index]);
  });
  class FileRow {
    readonly #values: unknown[];
    constructor(values: unknown[]) {
      this.#values = values;
      for (const [name, index] of named) (this as Record<string, unknown>)[name] = values[index];
    }
    static valueAt(row: FileRow, index: number): unknown {
      return row.#values[index];
    }
  }
  Object.defineProperty(FileRow.prototype, "length", { value: columns.length });
  for (let index = 0; index < columns.length; index++) {
    Object.defineProperty(FileRow.prototype, index, {
      get(this: FileRow) {
        return FileRow.valueAt(this, index);
      },
    });
  }
  const created = FileRow as unknown as RowClass;
  rowClasses.set(columns, created);
  return created;
}

/** A row's blobs as `ArrayBuffer`s, what `@libsql/client` gives (in place). */
export function blobsAsArrayBuffers(values: unknown[]): unknown[] {
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value instanceof Uint8Array)
      values[index] = value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  }
  return values;
}

export function toRows(rows: unknown[][], columns: string[]): Row[] {
  const Row = rowClass(columns);
  return rows.map((values) => new Row(blobsAsArrayBuffers(values)));
}

export function resultSet(
  columns: string[],
  columnTypes: string[],
  rows: Row[],
  rowsAffected: number,
  lastInsertRowid: bigint | undefined,
): ResultSet {
  return {
    columns,
    columnTypes,
    rows,
    rowsAffected,
    lastInsertRowid,
    toJSON: () => ({ columns, columnTypes, rows: rows.map((row) => Array.from(row)), rowsAffected }),
  };
}

/**
 * Benchmark rows, their targets, the printed table and the JSON file. A row is either a
 * measured figure or a limit (what the machine and runtime can do at best, measured in the
 * same run); a figure names the limit it is judged against and, when the issue sets one, its
 * target and whether this run met it. A miss is reported, never an exit code.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface Limit {
  name: string;
  value: number;
  unit: string;
}

export interface Row {
  section: string;
  /** `"figure"`: what the store does; `"limit"`: the reference it is compared with. */
  kind: "figure" | "limit";
  name: string;
  value: number;
  unit: string;
  /** Extra figures, e.g. `p50 0.8 ms · p99 3.1 ms`. */
  detail?: string;
  /** Further numbers kept in the JSON (latencies, counts). */
  data?: Record<string, number | string>;
  limit?: Limit;
  /** value / limit.value (or the inverse for "lower is better" units). */
  ratio?: number;
  /** The target in words, e.g. `≥ 0.85 × native gzip L6`. */
  target?: string;
  pass?: boolean;
}

/** Units where a smaller value is better (latency, memory): ratios are limit / value. */
const LOWER_IS_BETTER = new Set(["ms", "MiB"]);

/** A measured figure compared with `limit`; `target` optionally as a minimum ratio of it. */
export function figure(
  section: string,
  name: string,
  value: number,
  unit: string,
  options: {
    detail?: string;
    data?: Record<string, number | string>;
    limit?: Limit;
    /** Pass when value ≥ minRatio × limit. */
    minRatio?: { ratio: number; label?: string };
    /** Pass when value ≥ this (absolute). */
    atLeast?: number;
    /** Pass when value ≤ this (absolute). */
    atMost?: number;
  } = {},
): Row {
  const row: Row = { section, kind: "figure", name, value, unit };
  if (options.detail) row.detail = options.detail;
  if (options.data) row.data = options.data;
  if (options.limit && Number.isFinite(options.limit.value) && options.limit.value > 0) {
    row.limit = options.limit;
    row.ratio = LOWER_IS_BETTER.has(unit) ? options.limit.value / value : value / options.limit.value;
  }
  if (options.minRatio && row.limit && row.ratio !== undefined) {
    row.target = `≥ ${options.minRatio.ratio} × ${options.minRatio.label ?? row.limit.name}`;
    row.pass = row.ratio >= options.minRatio.ratio;
  } else if (options.atLeast !== undefined) {
    row.target = `≥ ${options.atLeast.toLocaleString("en-US")} ${unit}`;
    row.pass = value >= options.atLeast;
  } else if (options.atMost !== undefined) {
    row.target = `≤ ${options.atMost.toLocaleString("en-US")} ${unit}`;
    row.pass = value <= options.atMost;
  }
  return row;
}

export function limitRow(section: string, name: string, value: number, unit: string, detail?: string): Row {
  return { section, kind: "limit", name: `limit: ${name}`, value, unit, ...(detail ? { detail } : {}) };
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return `– ${unit}`;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return `${value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

/** One aligned text table for every row, sections separated by a rule. */
export function renderTable(rows: readonly Row[]): string {
  const header = ["section", "figure", "value", "detail", "limit (same run)", "× limit", "target", "result"];
  const cells = rows.map((row) => [
    row.section,
    row.name,
    formatValue(row.value, row.unit),
    row.detail ?? "",
    row.limit ? `${row.limit.name} ${formatValue(row.limit.value, row.limit.unit)}` : "",
    row.ratio === undefined ? "" : `${row.ratio.toFixed(2)}×`,
    row.target ?? "",
    row.pass === undefined ? "" : row.pass ? "pass" : "MISS",
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((line) => (line[column] ?? "").length)),
  );
  const render = (line: string[]) =>
    line
      .map((cell, column) =>
        column === 2 || column === 5 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  const lines = [render(header), rule];
  let previousSection = rows[0]?.section;
  cells.forEach((line, index) => {
    const section = rows[index]?.section;
    if (section !== previousSection) lines.push(rule);
    previousSection = section;
    lines.push(render(line));
  });
  return lines.join("\n");
}

export async function writeJson(path: string, document: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(document, null, 2)}\n`);
}

/**
 * Section 3a: search p50/p99 at 100k and 1M metadata rows, every version with its structure
 * (library-direct on Bun; each size seeded, then queried, in processes of their own), next to a
 * bare libSQL round trip on the same file and the "by spec" statement run on the raw client
 * (SQLite's share of the time).
 */
import { join } from "node:path";
import { runJsonChild } from "./children.ts";
import type { BenchContext } from "./options.ts";
import { figure, limitRow, type Row } from "./report.ts";
import type { QueryResult, SearchRequest, SeedResult } from "./search-child.ts";

const SECTION = "search";
/** The structure searches, whose issue target is set at 100k versions (every kind has one at 1M). */
const STRUCTURE_KINDS = new Set(["failed test (flaky K)", "touched path (src/module-M/)", "has errors"]);

/** The p99 targets: every kind ≤ 2 ms at 1M rows, the structure searches ≤ 10 ms at 100k. */
function p99Target(name: string, rows: number): { atMost: number } | Record<string, never> {
  if (rows >= 1_000_000) return { atMost: 2 };
  if (rows === 100_000 && STRUCTURE_KINDS.has(name)) return { atMost: 10 };
  return {};
}

function rowsLabel(rows: number): string {
  return rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
}

export async function runSearch(context: BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const count of context.sizes.searchRows) {
    const label = rowsLabel(count);
    context.progress(`search: seeding ${label} rows and timing queries`);
    const request: SearchRequest = {
      phase: "seed",
      basePath: join(context.workDir, `search-${label}`),
      rows: count,
      queries: context.sizes.searchQueries,
      timeCapSeconds: context.options.quick ? 2 : 20,
    };
    const child = join(import.meta.dir, "search-child.ts");
    const seeded = await runJsonChild<SeedResult>("bun", child, ["--request", JSON.stringify(request)]);
    const result = await runJsonChild<QueryResult>("bun", child, [
      "--request",
      JSON.stringify({ ...request, phase: "query" }),
    ]);
    const roundTrip = { name: "libSQL SELECT 1 p99", value: result.roundTrip.p99Ms, unit: "ms" };
    rows.push(
      limitRow(
        SECTION,
        `libSQL round trip (SELECT 1) @ ${label} rows`,
        result.roundTrip.p99Ms,
        "ms",
        `p50 ${result.roundTrip.p50Ms.toFixed(3)} ms · seeded ${seeded.rows} rows + ${seeded.tagRows} tags + ${seeded.structureRows} structure rows in ${seeded.seedSeconds.toFixed(0)} s`,
      ),
    );
    const rawBySpec = { name: "same SQL, raw client p99", value: result.rawBySpec.p99Ms, unit: "ms" };
    rows.push(
      limitRow(
        SECTION,
        `"by spec" SQL on the raw libSQL client @ ${label} rows`,
        result.rawBySpec.p99Ms,
        "ms",
        `p50 ${result.rawBySpec.p50Ms.toFixed(3)} ms`,
      ),
    );
    for (const [name, latency] of Object.entries(result.queries)) {
      rows.push(
        figure(SECTION, `search ${name} @ ${label} rows, p99`, latency.p99Ms, "ms", {
          detail: `p50 ${latency.p50Ms.toFixed(3)} ms · ${latency.count} queries · ${latency.items} items`,
          data: { ...latency, rows: seeded.rows },
          limit: name === "by spec" ? rawBySpec : roundTrip,
          ...p99Target(name, count),
        }),
      );
    }
  }
  return rows;
}

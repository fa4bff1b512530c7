/**
 * Search latency at a given number of metadata rows, on Bun: `phase: "seed"` creates the
 * database (see seed.ts); `phase: "query"` opens the store on it and times typical queries
 * through `store.searchPage` (library-direct), next to a bare libSQL round trip on the same
 * file. Each phase runs in its own process and prints one JSON line.
 *
 * Usage: bun search-child.ts --request '<json SearchRequest>'
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import { STORE_DIRECTORY } from "../../src/backends/fs.ts";
import type { SearchFilters } from "../../src/core/search.ts";
import { openLibsqlClient } from "../../src/metadata/local.ts";
import { openArtifactStore } from "../../src/runtime/local.ts";
import { generateArtifacts, prCount, SPEC_COUNT, seedMetadata, specName } from "./seed.ts";
import { FLAKY_COUNT, MODULE_COUNT } from "./seed-structure.ts";
import { createRandom, quantile } from "./stats.ts";

export interface SearchRequest {
  phase: "seed" | "query";
  basePath: string;
  rows: number;
  /** Timed queries per kind (fewer when the time cap is reached first). */
  queries: number;
  timeCapSeconds: number;
}

export interface QueryLatency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  /** Items on the last page returned (0 would mean the query measured nothing). */
  items: number;
}

export interface SeedResult {
  rows: number;
  tagRows: number;
  structureRows: number;
  seedSeconds: number;
}

export interface QueryResult {
  roundTrip: QueryLatency;
  /** The SQL the store runs for "by spec", on the raw client: what SQLite alone takes. */
  rawBySpec: QueryLatency;
  queries: Record<string, QueryLatency>;
}

const PAGE = 50;
/** The statement drizzle builds for a search by spec (src/metadata/libsql.ts), written out. */
const RAW_BY_SPEC = `SELECT a.*, (SELECT group_concat(t.tag, char(31)) FROM artifact_tags t WHERE t.artifact_id = a.id) AS tags
  FROM artifacts a WHERE a.state = 'committed' AND a.spec_name = ? ORDER BY a.created_at DESC, a.id DESC LIMIT ?`;
const random = createRandom(7);
/** A spec drawn with the same popularity as the seeded data (1/(i+1)). */
function popularSpec(): string {
  const weights = Array.from({ length: SPEC_COUNT }, (_, index) => 1 / (index + 1));
  let draw = random() * weights.reduce((sum, weight) => sum + weight, 0);
  for (let index = 0; index < weights.length; index++) {
    draw -= weights[index] as number;
    if (draw <= 0) return specName(index);
  }
  return specName(0);
}
const anyType = () => (["diff", "log", "test"] as const)[Math.floor(random() * 3)] as string;

/**
 * Rounds of every kind run before any is timed: a server answering searches has its code
 * compiled and its heap at its working size, and the first kind timed would otherwise carry
 * the process's start (JIT tiers, the first collections while the heap grows) in its tail.
 */
const WARM_ROUNDS = 100;

async function timeQueries(request: SearchRequest, run: () => Promise<number>): Promise<QueryLatency> {
  for (let warmup = 0; warmup < 20; warmup++) await run();
  const latencies: number[] = [];
  let items = 0;
  const deadline = performance.now() + request.timeCapSeconds * 1000;
  while (latencies.length < request.queries && performance.now() < deadline) {
    const started = performance.now();
    items = await run();
    latencies.push(performance.now() - started);
  }
  return { count: latencies.length, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), items };
}

/** Phase 1 (its own process): creates the database and inserts the rows. */
async function seed(request: SearchRequest): Promise<SeedResult> {
  const started = performance.now();
  const path = join(request.basePath, STORE_DIRECTORY, "metadata.db");
  const seeded = await seedMetadata(
    path,
    generateArtifacts({
      rows: request.rows,
      expired: Math.floor(request.rows / 10),
      basePath: request.basePath,
      now: Date.now(),
    }),
    undefined,
    { structure: true },
  );
  // The seed writes without syncing: on disk before the queries start, so the kernel writing
  // back a gigabyte of the file's pages does not run beside them (a server's database is not
  // bulk-loaded while it answers).
  const file = await open(path, "r+");
  await file.sync();
  await file.close();
  return { ...seeded, seedSeconds: (performance.now() - started) / 1000 };
}

/**
 * Phase 2, in a fresh process so the seeding's garbage cannot put collector pauses into the
 * latencies: opens the store on the seeded database and times each query kind.
 */
async function query(request: SearchRequest): Promise<QueryResult> {
  const store = await openArtifactStore({ env: {}, overrides: { base_path: request.basePath } });
  const raw = await openLibsqlClient({ url: join(request.basePath, STORE_DIRECTORY, "metadata.db") });
  const search = async (filters: SearchFilters) => (await store.searchPage({ limit: PAGE, ...filters })).items.length;
  const secondPageMs: number[] = [];
  const kinds: Record<string, () => Promise<number>> = {
    "by spec": () => search({ specName: popularSpec() }),
    "by spec + type": () => search({ specName: popularSpec(), type: anyType() }),
    "by common tag (nightly)": () => search({ tags: ["nightly"] }),
    "by rare tag (pr-N)": () => search({ tags: [`pr-${1 + Math.floor(random() * prCount(request.rows))}`] }),
    "latest only, by spec": () => search({ specName: popularSpec(), latestOnly: true }),
    "failed test (flaky K)": () => search({ failedTest: `flaky ${Math.floor(random() * FLAKY_COUNT)}` }),
    "touched path (src/module-M/)": () => search({ touchedPath: `src/module-${Math.floor(random() * MODULE_COUNT)}/` }),
    "has errors": () => search({ hasErrors: true }),
    "second page, by spec": async () => {
      const spec = popularSpec();
      const first = await store.searchPage({ specName: spec, limit: PAGE });
      const started = performance.now();
      const second = await store.searchPage({ specName: spec, limit: PAGE, cursor: first.nextCursor ?? "" });
      secondPageMs.push(performance.now() - started); // only the second page counts
      return second.items.length;
    },
  };
  for (let round = 0; round < WARM_ROUNDS; round++) for (const run of Object.values(kinds)) await run();
  const queries: Record<string, QueryLatency> = {};
  for (const [name, run] of Object.entries(kinds)) queries[name] = await timeQueries(request, run);
  const secondPage = queries["second page, by spec"];
  if (secondPage) {
    const timed = secondPageMs.slice(-secondPage.count);
    Object.assign(secondPage, { p50Ms: quantile(timed, 0.5), p99Ms: quantile(timed, 0.99) });
  }
  const roundTrip = await timeQueries(request, async () => (await raw.execute("SELECT 1")).rows.length);
  const rawBySpec = await timeQueries(
    request,
    async () => (await raw.execute({ sql: RAW_BY_SPEC, args: [popularSpec(), PAGE + 1] })).rows.length,
  );
  raw.close();
  await store.close();
  return { roundTrip, rawBySpec, queries };
}

if (process.argv[2] === "--request") {
  const request = JSON.parse(process.argv[3] ?? "{}") as SearchRequest;
  console.log(JSON.stringify(request.phase === "seed" ? await seed(request) : await query(request)));
}

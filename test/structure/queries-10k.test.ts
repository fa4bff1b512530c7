/**
 * The structure queries on a store of 10,500 versions: exact answers across pages, newest
 * first, and query plans that use the structure indexes (no full scan of a structure table).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type Client, createClient, type InStatement } from "@libsql/client";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import type { SearchFilters } from "../../src/core/search.ts";
import { type ArtifactStore, createArtifactStore } from "../../src/core/store.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { seededStructure, seededVersion, seedStructuredVersions } from "../helpers/seed-structure.ts";
import { makeTempDir } from "../helpers/store.ts";

const VERSIONS = 10_500;

let dir: Awaited<ReturnType<typeof makeTempDir>>;
let client: Client;
let store: ArtifactStore;
/** SQL statements the repository sent, for EXPLAIN QUERY PLAN. */
const statements: InStatement[] = [];

beforeAll(async () => {
  dir = await makeTempDir("queries-10k");
  client = createClient({ url: `file:${join(dir.path, "metadata.db")}` });
  const recording = new Proxy(client, {
    get(target, property, receiver) {
      if (property === "execute") {
        return (statement: InStatement) => {
          statements.push(statement);
          return target.execute(statement);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const metadata = await createLibsqlMetadata({ client: recording });
  await seedStructuredVersions(metadata, VERSIONS, { concurrency: 256 });
  store = createArtifactStore({ backend: createMemoryBackend(), metadata });
}, 120_000);

afterAll(async () => {
  await store?.close();
  await dir?.cleanup();
});

/** Every page of a search, following the cursor; returns the seed index of each result. */
async function allPages(filters: SearchFilters, limit = 100): Promise<{ indices: number[]; pages: number }> {
  const indices: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await store.searchPage({ ...filters, limit, ...(cursor ? { cursor } : {}) });
    indices.push(...page.items.map((item) => item.metadata.seed as number));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { indices, pages };
}

/** Seed indices for which `predicate` holds, newest (highest) first: the order search promises. */
function expected(predicate: (index: number) => boolean): number[] {
  const result: number[] = [];
  for (let index = VERSIONS - 1; index >= 0; index--) if (predicate(index)) result.push(index);
  return result;
}

describe(`structure queries on ${VERSIONS.toLocaleString("en")} versions`, () => {
  test("failed_test: the reports where that test failed, every page, newest first", async () => {
    const failedFlaky2 = (index: number) =>
      seededStructure(index).tests.some((test) => test.name === "flaky 2" && test.status === "failed");
    const { indices, pages } = await allPages({ failedTest: "flaky 2" });
    expect(indices).toEqual(expected(failedFlaky2));
    expect(indices.length).toBe(70);
    expect(pages).toBe(1);
    // A test that passed everywhere matches nothing.
    expect((await store.searchPage({ failedTest: "creates a session" })).items).toEqual([]);
  });

  test("touched: prefix of a new path or of the old path of a rename, combined with a spec filter", async () => {
    const touches = (index: number, prefix: string) =>
      seededStructure(index).files.some((file) => file.path.startsWith(prefix) || file.oldPath?.startsWith(prefix));
    const payments = await allPages({ touchedPath: "src/payments/" });
    expect(payments.indices).toEqual(expected((index) => touches(index, "src/payments/")));
    expect(payments.indices.length).toBe(117);
    expect(payments.pages).toBe(2);
    const renamedFrom = await allPages({ touchedPath: "src/billing/" });
    expect(renamedFrom.indices).toEqual(payments.indices);
    // A prefix every diff matches, with a filter most of the newest matches fail: the page
    // cannot fill from the newest matches alone, and is still exact.
    const billing = await allPages({ touchedPath: "src/", specName: "billing" });
    expect(billing.indices).toEqual(
      expected((index) => touches(index, "src/") && seededVersion(index).specName === "billing"),
    );
    expect(billing.indices.length).toBe(700);
    const module7 = await allPages({ touchedPath: "src/module-7/", specName: "chat-app" });
    expect(module7.indices).toEqual(
      expected((index) => touches(index, "src/module-7/") && seededVersion(index).specName === "chat-app"),
    );
  });

  test("touched: a prefix of a few paths (each path's newest entries read apart) pages exactly, newest first", async () => {
    const touches = (index: number, prefix: string) =>
      seededStructure(index).files.some((file) => file.path.startsWith(prefix) || file.oldPath?.startsWith(prefix));
    // 11 paths each (module-1 and module-10 … module-19), ~87 versions each, many sharing a
    // creation time: a page of 20 fills from any one path's newest, so each must be read.
    for (const prefix of ["src/module-1", "test/module-2"]) {
      const { indices, pages } = await allPages({ touchedPath: prefix }, 20);
      expect(indices).toEqual(expected((index) => touches(index, prefix)));
      expect(pages).toBe(49);
    }
  });

  test("has_errors and has_failures page through every match exactly once", async () => {
    const withErrors = await allPages({ hasErrors: true });
    expect(withErrors.indices).toEqual(
      expected((index) => {
        const { summary } = seededStructure(index);
        return summary.kind === "log" && summary.errors > 0;
      }),
    );
    expect(withErrors.indices.length).toBe(875);
    expect(withErrors.pages).toBe(9);
    const failures = await allPages({ hasFailures: true, specName: "billing" });
    expect(failures.indices).toEqual(
      expected((index) => {
        const { summary } = seededStructure(index);
        return summary.kind === "test" && summary.failed > 0 && seededVersion(index).specName === "billing";
      }),
    );
  });

  test("each query's plan searches a structure index instead of scanning a structure table", async () => {
    const plans: Record<string, string> = {};
    for (const [name, filters] of [
      ["failed_test", { failedTest: "flaky 2" }],
      ["touched", { touchedPath: "src/payments/" }],
      ["has_errors", { hasErrors: true }],
      ["has_failures", { hasFailures: true }],
    ] as [string, SearchFilters][]) {
      statements.length = 0;
      await store.searchPage({ ...filters, limit: 50 });
      const search = statements.find(
        (statement) => typeof statement !== "string" && /from "artifacts"/i.test(statement.sql),
      );
      if (!search || typeof search === "string") throw new Error(`no search statement recorded for ${name}`);
      const plan = await client.execute({ sql: `EXPLAIN QUERY PLAN ${search.sql}`, args: search.args ?? [] });
      plans[name] = plan.rows.map((row) => String(row.detail)).join("\n");
    }
    expect(plans.failed_test).toContain("artifact_test_cases_failed_idx");
    expect(plans.touched).toContain("artifact_diff_files_path_idx");
    expect(plans.touched).toContain("artifact_diff_files_old_path_idx");
    // Errors and failures are common: the newest versions are walked and each one's summary
    // looked up by id, so a page never collects every such version first.
    for (const plan of [plans.has_errors, plans.has_failures]) {
      expect(plan).toContain("SCAN artifacts USING COVERING INDEX artifacts_created_idx");
      expect(plan).toContain("SEARCH artifact_summaries USING INTEGER PRIMARY KEY");
    }
    for (const plan of Object.values(plans)) {
      expect(plan).not.toMatch(/SCAN (artifact_test_cases|artifact_diff_files|artifact_summaries)\b(?! USING)/);
    }
  });
});

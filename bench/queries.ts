/**
 * Structure queries on a store of many versions: p50/p99 of each search the viewer and API
 * offer on extracted structure (failed test, touched path, logs with errors, reports with
 * failures), first page and the page after, plus the upload cost of extraction.
 *
 * Run: bun bench/queries.ts [--versions 10500] [--runs 200] [--upload-mib 64]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createMemoryBackend } from "../src/backends/memory.ts";
import type { SearchFilters } from "../src/core/search.ts";
import { createArtifactStore } from "../src/core/store.ts";
import { openLocalMetadata } from "../src/metadata/local.ts";
import { createNativeEngines } from "../src/runtime/engines.ts";
import { seedStructuredVersions } from "../test/helpers/seed-structure.ts";
import { makeLog } from "../test/helpers/store.ts";

const { values } = parseArgs({
  options: {
    versions: { type: "string", default: "10500" },
    runs: { type: "string", default: "200" },
    "upload-mib": { type: "string", default: "64" },
  },
});
const versions = Number(values.versions);
const runs = Number(values.runs);
const uploadMiB = Number(values["upload-mib"]);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const dir = await mkdtemp(join(tmpdir(), "bench-queries-"));
try {
  const metadata = await openLocalMetadata({ url: join(dir, "metadata.db") });
  const store = createArtifactStore({ backend: createMemoryBackend(), metadata, codecs: createNativeEngines() });
  const seeded = await seedStructuredVersions(metadata, versions);
  console.log(`seeded ${versions} versions with structure in ${(seeded.ms / 1000).toFixed(1)} s`);

  const queries: [string, SearchFilters][] = [
    ["failed_test=flaky 2", { failedTest: "flaky 2", limit: 50 }],
    ["touched=src/payments/", { touchedPath: "src/payments/", limit: 50 }],
    ["touched=src/module-7/ & spec", { touchedPath: "src/module-7/", specName: "chat-app", limit: 50 }],
    ["has_errors=1", { hasErrors: true, limit: 50 }],
    ["has_failures=1 & spec", { hasFailures: true, specName: "billing", limit: 50 }],
    ["plain spec (baseline)", { specName: "search", limit: 50 }],
  ];
  console.log(`\n${runs} runs each, page of 50, newest first (ms):`);
  console.log("query                              page  results     p50     p99");
  for (const [name, filters] of queries) {
    for (const pageNumber of [1, 2]) {
      const first = await store.searchPage(filters);
      if (pageNumber === 2 && !first.nextCursor) continue;
      const pageFilters = pageNumber === 1 ? filters : { ...filters, cursor: first.nextCursor as string };
      const timings: number[] = [];
      let results = 0;
      for (let run = 0; run < runs; run++) {
        const started = performance.now();
        const page = await store.searchPage(pageFilters);
        timings.push(performance.now() - started);
        results = page.items.length;
      }
      timings.sort((a, b) => a - b);
      console.log(
        `${name.padEnd(34)} ${String(pageNumber).padStart(4)} ${String(results).padStart(8)} ${percentile(timings, 50)
          .toFixed(2)
          .padStart(7)} ${percentile(timings, 99).toFixed(2).padStart(7)}`,
      );
    }
  }

  // Upload cost of extraction: the same log through the same store with extraction on and off,
  // for a dense log (every 5th line a warning, every 17th an error) and a quiet one (1 in 1000).
  const size = uploadMiB * 1024 * 1024;
  const dense = new TextEncoder().encode(makeLog(Math.ceil(size / 50))).slice(0, size);
  const quietLines: string[] = [];
  for (let index = 0; quietLines.length * 60 < size; index++) {
    quietLines.push(
      `2026-11-29T12:00:00Z ${index % 1000 === 999 ? "ERROR" : "INFO "} step ${index} finished in ${index % 977} ms`,
    );
  }
  const quiet = new TextEncoder().encode(`${quietLines.join("\n")}\n`).slice(0, size);
  console.log(`\nupload of a ${uploadMiB} MiB log (native gzip and SHA-256, memory backend), best of 3:`);
  for (const [label, log] of [
    ["dense", dense],
    ["quiet", quiet],
  ] as const) {
    for (const enabled of [false, true, false, true]) {
      const uploadStore = createArtifactStore({
        backend: createMemoryBackend(),
        metadata,
        codecs: createNativeEngines(),
        extraction: { enabled },
      });
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const started = performance.now();
        await uploadStore.upload({
          specName: "bench",
          taskId: `upload-${label}-${enabled}`,
          type: "log",
          content: log,
        });
        best = Math.min(best, performance.now() - started);
      }
      console.log(
        `  ${label} log, extraction ${enabled ? "on " : "off"}: ${((uploadMiB / best) * 1000).toFixed(0)} MiB/s (${best.toFixed(0)} ms)`,
      );
    }
  }
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}

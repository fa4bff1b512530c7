/** Command-line options and the sizes of a full and a quick (smoke) run. */
import { join } from "node:path";
import type { Row } from "./report.ts";
import { MIB } from "./stats.ts";

export const SECTIONS = ["throughput", "small", "search", "cleanup", "rss"] as const;
export type Section = (typeof SECTIONS)[number];

export interface Sizes {
  /** Bytes of each content kind for the throughput figures (64 MiB). */
  throughputBytes: number;
  repetitions: number;
  /** 4 KiB artifacts per load phase, and warm-up requests before it. */
  smallCount: number;
  smallWarmup: number;
  /** No new request starts after this many seconds of a load phase. */
  smallMaxSeconds: number;
  concurrency: number;
  /** Metadata rows of the search databases, and timed queries per query kind. */
  searchRows: number[];
  searchQueries: number;
  /** Expired artifacts (with blobs and sidecars) the cleanup removes; live ones it must keep. */
  cleanupExpired: number;
  cleanupLive: number;
  /** Artifacts in the plain-unlink sample that measures the cleanup's limit. */
  unlinkSample: number;
  /** Bytes uploaded and downloaded while the server's RSS is watched (1 GiB). */
  rssBytes: number;
}

export const FULL_SIZES: Sizes = {
  throughputBytes: 64 * MIB,
  repetitions: 3,
  smallCount: 10_000,
  smallWarmup: 500,
  smallMaxSeconds: 30,
  concurrency: 16,
  searchRows: [100_000, 1_000_000],
  searchQueries: 1000,
  cleanupExpired: 100_000,
  cleanupLive: 10_000,
  unlinkSample: 10_000,
  rssBytes: 1024 * MIB,
};

export const QUICK_SIZES: Sizes = {
  throughputBytes: 8 * MIB,
  repetitions: 1,
  smallCount: 500,
  smallWarmup: 50,
  smallMaxSeconds: 5,
  concurrency: 16,
  searchRows: [10_000, 50_000],
  searchQueries: 100,
  cleanupExpired: 3000,
  cleanupLive: 300,
  unlinkSample: 1000,
  rssBytes: 64 * MIB,
};

export interface BenchOptions {
  quick: boolean;
  sections: Section[];
  jsonPath: string;
  sizes: Sizes;
}

export const USAGE = `Usage: bun bench/run.ts [--quick] [--only ${SECTIONS.join("|")}[,…]] [--json PATH]

  --quick   smaller sizes (8 MiB, 500 requests, 10k/50k rows, 3k expired, 64 MiB): a smoke run
  --only    run only these sections (comma-separated)
  --json    where to write the results (default bench/results/latest.json)`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes("--quick");
  const optionValue = (name: string) => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const only = optionValue("--only");
  const sections = only ? only.split(",").map((name) => name.trim()) : [...SECTIONS];
  for (const name of sections) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`unknown section ${name}\n${USAGE}`);
  }
  return {
    quick,
    sections: sections as Section[],
    jsonPath: optionValue("--json") ?? join(import.meta.dir, "..", "results", "latest.json"),
    sizes: quick ? QUICK_SIZES : FULL_SIZES,
  };
}

/** What every section gets from the runner. */
export interface BenchContext {
  options: BenchOptions;
  sizes: Sizes;
  /** Temp directory of this run (removed at the end). */
  workDir: string;
  /** Node bundles of the scripts that run on both runtimes, and the private Node build of the server. */
  nodeScripts: { probe: string; staticServer: string; serverCli: string };
  /** Progress line on stderr. */
  progress(message: string): void;
  /** Facts for the JSON header (engine names, versions, notes). */
  facts: Record<string, string>;
}

export type SectionRunner = (context: BenchContext) => Promise<Row[]>;

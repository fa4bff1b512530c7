/**
 * The benchmark suite: the store's figures next to this machine's limits, measured in the same
 * run, with the targets of the performance issue judged from them. Prints one table and writes
 * JSON (default bench/results/latest.json). A missed target is reported, never an exit code;
 * a section that cannot run at all makes the exit code 1.
 *
 * Usage: bun bench/run.ts [--quick] [--only throughput,small,search,cleanup,rss] [--json PATH]
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createNativeEngines } from "../src/runtime/engines.ts";
import { bundleForNode, runJsonChild } from "./lib/children.ts";
import { runCleanup } from "./lib/cleanup.ts";
import { type BenchContext, parseOptions, type Section, type SectionRunner, USAGE } from "./lib/options.ts";
import type { ProbeRequest, ProbeResult } from "./lib/probe.ts";
import { type Row, renderTable, writeJson } from "./lib/report.ts";
import { runRss } from "./lib/rss.ts";
import { runSearch } from "./lib/search.ts";
import { buildNodeServer } from "./lib/servers.ts";
import { runSmall } from "./lib/small.ts";
import { runThroughput } from "./lib/throughput.ts";

const RUNNERS: Record<Section, SectionRunner> = {
  throughput: runThroughput,
  small: runSmall,
  search: runSearch,
  cleanup: runCleanup,
  rss: runRss,
};

/** Node runs bundles of the shared scripts and a private build of the server (see buildNodeServer). */
async function prepareNodeScripts(workDir: string, nodeBuild: string): Promise<BenchContext["nodeScripts"]> {
  const nodeDir = join(workDir, "node-scripts");
  return {
    probe: await bundleForNode(join(import.meta.dir, "lib", "probe.ts"), nodeDir),
    staticServer: await bundleForNode(join(import.meta.dir, "lib", "static-server.ts"), nodeDir),
    serverCli: buildNodeServer(nodeBuild),
  };
}

async function main(): Promise<number> {
  if (process.argv.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  const options = parseOptions(process.argv.slice(2));
  const workDir = await mkdtemp(join(tmpdir(), "artifact-store-bench-"));
  const startedAt = new Date();
  const progress = (message: string) =>
    process.stderr.write(
      `[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${message}\n`,
    );
  const facts: Record<string, string> = {
    "runtime (bun)": `bun ${Bun.version}`,
    "runtime (node)": `node ${spawnSync("node", ["--version"], { encoding: "utf8" }).stdout.trim()}`,
    "engine (bun)": createNativeEngines().name,
    "engine (node)": "(not started)",
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}`,
  };
  const rows: Row[] = [];
  const failures: string[] = [];
  const durations: Record<string, number> = {};
  // Inside the repository (bench/results/ is ignored by git) so the build resolves node_modules.
  const nodeBuild = join(import.meta.dir, "results", `.node-build-${process.pid}`);
  try {
    progress("building the Node server and bundling the Node scripts");
    const context: BenchContext = {
      options,
      sizes: options.sizes,
      workDir,
      nodeScripts: await prepareNodeScripts(workDir, nodeBuild),
      progress,
      facts,
    };
    const nodeProbe = await runJsonChild<ProbeResult>("node", context.nodeScripts.probe, [
      "--request",
      JSON.stringify({ workDir, level: 6, repetitions: 1, ops: [] } satisfies ProbeRequest),
    ]);
    facts["engine (node)"] = nodeProbe.engine;
    for (const section of options.sections) {
      const started = performance.now();
      try {
        rows.push(...(await RUNNERS[section](context)));
      } catch (error) {
        failures.push(`${section}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        progress(`section ${section} failed: ${String(error)}`);
      }
      durations[section] = Math.round((performance.now() - started) / 100) / 10;
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
    await rm(nodeBuild, { recursive: true, force: true });
  }
  printReport(rows, facts, durations, failures, options.quick);
  await writeJson(options.jsonPath, {
    startedAt: startedAt.toISOString(),
    quick: options.quick,
    sections: options.sections,
    sizes: options.sizes,
    facts,
    durationsSeconds: durations,
    failures,
    rows,
  });
  console.log(`\nJSON: ${options.jsonPath}`);
  return failures.length > 0 ? 1 : 0;
}

function printReport(
  rows: Row[],
  facts: Record<string, string>,
  durations: Record<string, number>,
  failures: string[],
  quick: boolean,
): void {
  console.log(`artifact-store benchmarks${quick ? " (--quick: smaller sizes, figures are a smoke test)" : ""}`);
  for (const [name, value] of Object.entries(facts)) console.log(`  ${name}: ${value}`);
  console.log(
    `  sections (s): ${Object.entries(durations)
      .map(([name, seconds]) => `${name} ${seconds}`)
      .join(", ")}`,
  );
  console.log("  MB/s = content megabytes (10^6 B) per second; limits are measured in this run.\n");
  console.log(renderTable(rows));
  const judged = rows.filter((row) => row.pass !== undefined);
  console.log(
    `\ntargets: ${judged.filter((row) => row.pass).length} met, ${judged.filter((row) => !row.pass).length} missed (misses never fail the run)`,
  );
  for (const failure of failures) console.error(`\nsection failed: ${failure}`);
}

process.exitCode = await main();

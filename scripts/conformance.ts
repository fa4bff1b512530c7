/**
 * Runs the conformance suite (`test/conformance/`) on the runtimes `bun test` does not cover:
 * Node 20 against the built `dist/`, and Deno from the sources. Starts the shared servers once
 * (fauxqs for S3 in this process, one sqld per runtime), runs each runtime's runner as a child
 * process, and ends with one line per runtime: `conformance <runtime>: N passed, M failed`.
 * Exits non-zero when a case failed or a runner did not report.
 *
 *   bun scripts/conformance.ts                         # node and deno
 *   bun scripts/conformance.ts --runtimes node         # one runtime
 *   bun scripts/conformance.ts --all                   # bun, node, deno and workerd
 *
 * Bun and workerd normally run inside `bun test` (`test/conformance/bun.test.ts`,
 * `test/conformance/workerd.test.ts`), which start their own servers.
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SERVICES_ENV, startConformanceServices } from "../test/conformance/services.ts";

const ALL_RUNTIMES = ["bun", "node", "deno", "workerd"] as const;
type Runtime = (typeof ALL_RUNTIMES)[number];

const repoRoot = join(import.meta.dirname, "..");
const bin = (name: string) => join(repoRoot, "node_modules", ".bin", name);

/** How each runtime's runner is started; `services` marks those that get the shared servers. */
const RUNNERS: Record<Runtime, { command: string[]; services: boolean }> = {
  bun: { command: [bin("bun"), "test", "--timeout", "120000", "test/conformance/bun.test.ts"], services: false },
  node: { command: ["node", "--test", "--test-reporter=spec", "test/conformance/node-runner.mjs"], services: true },
  deno: { command: [bin("deno"), "test", "-A", "test/conformance/deno-runner.ts"], services: true },
  workerd: {
    command: [bin("bun"), "test", "--timeout", "120000", "test/conformance/workerd.test.ts"],
    services: false,
  },
};

const SUMMARY = /conformance (\S+): (\d+) passed, (\d+) failed/;

interface Outcome {
  runtime: Runtime;
  passed: number;
  failed: number;
  exitCode: number | null;
  reported: boolean;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { runtimes: { type: "string" }, all: { type: "boolean", default: false } },
  });
  const runtimes = selectRuntimes(values.all ? ALL_RUNTIMES.join(",") : (values.runtimes ?? "node,deno"));
  if (runtimes.includes("node")) buildDist();
  const withServices = runtimes.filter((runtime) => RUNNERS[runtime].services);
  const services = await startConformanceServices(withServices);
  const outcomes: Outcome[] = [];
  try {
    // One runtime at a time: the machines running this have few cores, and the output stays readable.
    for (const runtime of runtimes) {
      const env = RUNNERS[runtime].services
        ? { [SERVICES_ENV]: JSON.stringify(services.forRuntime(runtime)) }
        : ({} as Record<string, string>);
      outcomes.push(await runRunner(runtime, env));
    }
  } finally {
    await services.stop();
  }
  console.log("");
  let ok = true;
  for (const outcome of outcomes) {
    // A runner that crashed, or failed outside the cases, counts as one failure.
    const broken = !outcome.reported || (outcome.exitCode !== 0 && outcome.failed === 0);
    if (broken)
      console.log(`(${outcome.runtime}: the runner exited with ${outcome.exitCode} and did not report cleanly)`);
    const failed = broken ? Math.max(outcome.failed, 1) : outcome.failed;
    if (failed > 0 || outcome.exitCode !== 0) ok = false;
    console.log(`conformance ${outcome.runtime}: ${outcome.passed} passed, ${failed} failed`);
  }
  return ok ? 0 : 1;
}

function selectRuntimes(list: string): Runtime[] {
  const names = list
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(ALL_RUNTIMES as readonly string[]).includes(name)) {
      throw new Error(`unknown runtime ${name}; choose from ${ALL_RUNTIMES.join(", ")}`);
    }
  }
  return names as Runtime[];
}

/** Node runs the built package: emit dist/ (without deleting it first, other runs may be reading it). */
function buildDist(): void {
  const result = spawnSync(bin("tsc"), ["-p", "tsconfig.build.json"], { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
}

/**
 * Runs one runner and reads its summary line. Its output is echoed with a `<runtime> | ` prefix,
 * so the only lines that start with `conformance <runtime>:` are the totals printed at the end.
 */
function runRunner(runtime: Runtime, env: Record<string, string>): Promise<Outcome> {
  const [command, ...args] = RUNNERS[runtime].command as [string, ...string[]];
  console.log(`\n=== conformance on ${runtime}: ${[command, ...args].join(" ")}`);
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const forward = (target: NodeJS.WriteStream) => {
    let partial = "";
    const decoder = new TextDecoder();
    return (chunk: Uint8Array | null) => {
      const text = chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
      output += text;
      const lines = (partial + text).split("\n");
      partial = chunk ? (lines.pop() ?? "") : "";
      for (const line of lines) if (line !== "" || chunk) target.write(`${runtime} | ${line}\n`);
    };
  };
  const toStdout = forward(process.stdout);
  const toStderr = forward(process.stderr);
  child.stdout.on("data", toStdout);
  child.stderr.on("data", toStderr);
  return new Promise((resolve) => {
    child.once("close", (exitCode) => {
      toStdout(null);
      toStderr(null);
      const match = [...output.matchAll(new RegExp(SUMMARY, "g"))].find((found) => found[1] === runtime);
      resolve({
        runtime,
        passed: Number(match?.[2] ?? 0),
        failed: Number(match?.[3] ?? 0),
        exitCode,
        reported: match !== undefined,
      });
    });
  });
}

process.exit(await main());

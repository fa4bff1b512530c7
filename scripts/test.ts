/**
 * `npm test`: the whole suite, in order — static checks (format, lint, types, migration bundle),
 * `bun test` (unit, integration, servers, CLI, backends, trust, scale-out, Bun and workerd
 * conformance), then the conformance suite on Node (built dist/) and Deno. Prints each part's
 * counts and ends with `tests: N passed, N failed`. Exits non-zero when anything failed.
 *
 * Usage: bun scripts/test.ts [--soak] [bun test arguments…]
 *   --soak   longer trust and scale-out runs (TEST_SOAK=1)
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const soak = process.argv.includes("--soak");
const extraArguments = process.argv.slice(2).filter((argument) => argument !== "--soak");
const env = { ...process.env, ...(soak ? { TEST_SOAK: "1" } : {}) };

interface Part {
  name: string;
  passed: number;
  failed: number;
  seconds: number;
}

/** Runs a command with its output passed through, and returns the output for counting. */
function run(command: string, args: string[]): Promise<{ code: number; output: string; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const forward = (target: NodeJS.WriteStream) => (chunk: Buffer) => {
      output += chunk.toString();
      target.write(chunk);
    };
    child.stdout.on("data", forward(process.stdout));
    child.stderr.on("data", forward(process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, output, seconds: (Date.now() - started) / 1000 }));
  });
}

const parts: Part[] = [];
const insideBunTest: string[] = [];

// 1. Static checks: each is one check that passes or fails.
for (const [name, command, args] of [
  ["format and lint (biome)", bin("biome"), ["check", "."]],
  ["types (tsc)", bin("tsc"), ["--noEmit", "-p", "."]],
  ["migration bundle", bin("bun"), ["scripts/bundle-migrations.ts", "--check"]],
] as const) {
  const result = await run(command, [...args]);
  parts.push({ name, passed: result.code === 0 ? 1 : 0, failed: result.code === 0 ? 0 : 1, seconds: result.seconds });
}

// 2. bun test: everything under test/.
{
  const result = await run(bin("bun"), ["test", "--timeout", "180000", ...extraArguments]);
  const passed = Number(/^\s*(\d+) pass$/m.exec(result.output)?.[1] ?? 0);
  const failed = Number(/^\s*(\d+) fail$/m.exec(result.output)?.[1] ?? 0);
  // A crash before the summary is a failure even without a count.
  parts.push({ name: "bun test", passed, failed: failed || (result.code === 0 ? 0 : 1), seconds: result.seconds });
  // Bun and workerd conformance run inside bun test (already counted above): name them too.
  for (const [, runtime, runtimePassed, runtimeFailed] of result.output.matchAll(
    /^conformance (\S+): (\d+) passed, (\d+) failed$/gm,
  )) {
    insideBunTest.push(`conformance on ${runtime}: ${runtimePassed} passed, ${runtimeFailed} failed (inside bun test)`);
  }
}

// 3. The conformance suite on the other runtimes (Bun and workerd run inside bun test).
{
  const result = await run(bin("bun"), ["scripts/conformance.ts"]);
  const lines = [...result.output.matchAll(/^conformance (\S+): (\d+) passed, (\d+) failed$/gm)];
  for (const [, runtime, passed, failed] of lines) {
    parts.push({
      name: `conformance on ${runtime}`,
      passed: Number(passed),
      failed: Number(failed),
      seconds: result.seconds,
    });
  }
  if (lines.length === 0 || (result.code !== 0 && lines.every((line) => line[3] === "0"))) {
    parts.push({ name: "conformance runner", passed: 0, failed: 1, seconds: result.seconds });
  }
}

const passed = parts.reduce((sum, part) => sum + part.passed, 0);
const failed = parts.reduce((sum, part) => sum + part.failed, 0);
console.log("\nsummary:");
for (const part of parts) {
  console.log(
    `  ${part.name.padEnd(28)} ${String(part.passed).padStart(5)} passed ${String(part.failed).padStart(4)} failed  ${part.seconds.toFixed(0)} s`,
  );
}
for (const line of insideBunTest) console.log(`    ${line}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);

/**
 * Child processes of the benchmark: measurement scripts that print one JSON line, run on Bun
 * from source or on Node from a bundle (Node 20 cannot run TypeScript), stopped by PID.
 */
import { spawn } from "node:child_process";
import { basename, join } from "node:path";

export const repoRoot = join(import.meta.dir, "..", "..");
export const bunBinary = join(repoRoot, "node_modules", ".bin", "bun");

export type Runtime = "bun" | "node";

/**
 * Bundles a benchmark script with its pure-JS packages for Node into `outDir` (a temp dir,
 * where node_modules cannot be resolved). Packages with native parts stay external and must
 * not be loaded on Node. Returns the bundle's path.
 */
export async function bundleForNode(entry: string, outDir: string): Promise<string> {
  const result = await Bun.build({
    entrypoints: [entry],
    target: "node",
    format: "esm",
    outdir: outDir,
    external: ["@libsql/client", "libsql"],
    naming: "[name].mjs",
  });
  if (!result.success) throw new Error(`bundling ${entry} for node failed:\n${result.logs.join("\n")}`);
  return join(outDir, basename(entry).replace(/\.ts$/, ".mjs"));
}

/** Command and arguments that run `script` (a .ts for Bun, its bundle for Node). */
export function commandFor(runtime: Runtime, script: string, args: readonly string[]): [string, string[]] {
  return runtime === "bun" ? [bunBinary, [script, ...args]] : ["node", [script, ...args]];
}

/**
 * Runs a measurement script and parses the last line it prints as JSON.
 * stderr is passed through so a failing child explains itself.
 */
export function runJsonChild<T>(
  runtime: Runtime,
  script: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<T> {
  const [command, commandArgs] = commandFor(runtime, script, args);
  return new Promise<T>((resolve, reject) => {
    const child = spawn(command, commandArgs, {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(
      () => {
        if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      },
      options.timeoutMs ?? 15 * 60_000,
    );
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").at(-1) ?? "";
      if (code !== 0) {
        reject(new Error(`${runtime} ${basename(script)} ${args.join(" ")} exited with ${code ?? signal}:\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${basename(script)} printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

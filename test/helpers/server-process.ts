/**
 * Runs the real server (Bun or Node) as a child process on 127.0.0.1 with a free port, and
 * stops it by PID. The port is read from the start-up line the server logs.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "..", "..");
export const bunBinary = join(repoRoot, "node_modules", ".bin", "bun");
export const denoBinary = join(repoRoot, "node_modules", ".bin", "deno");

let built = false;
/** Builds dist/ once per test run (Node runs the built files). */
export function ensureBuilt(): void {
  if (built) return;
  const result = spawnSync(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.build.json"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
  built = true;
}

export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the server wrote to stderr and stdout so far. */
  output(): string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) by PID and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServerProcess(options: {
  runtime: "bun" | "node" | "deno";
  basePath: string;
  env?: Record<string, string>;
}): Promise<ServerProcess> {
  if (options.runtime === "node") ensureBuilt();
  const [command, ...args] =
    options.runtime === "bun"
      ? [bunBinary, join(repoRoot, "src/runtime/cli.ts"), "serve", "--port", "0"]
      : options.runtime === "node"
        ? ["node", join(repoRoot, "bin/artifact-store.js"), "serve", "--port", "0"]
        : [denoBinary, "run", "-A", "--no-prompt", join(repoRoot, "src/runtime/deno.ts")];
  const child = spawn(command as string, args, {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: options.basePath,
      ARTIFACT_STORE_BASE_PATH: options.basePath,
      ...(options.runtime === "deno" ? { ARTIFACT_STORE_SERVER__PORT: "0", DENO_NO_UPDATE_CHECK: "1" } : {}),
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s:\n${output}`)), 20_000);
    const check = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url,
    pid: child.pid as number,
    child,
    output: () => output,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, signal);
      return exited;
    },
  };
}

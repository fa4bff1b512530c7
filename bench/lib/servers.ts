/**
 * The servers a benchmark talks to: the store's real server (Bun or Node) as a child process,
 * the trivial file server it is compared with, and the server's memory read from /proc.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bunBinary, commandFor, type Runtime, repoRoot } from "./children.ts";

/** Store server env for benchmarks: no quota, no scheduled sweep; everything else the defaults. */
export const BENCH_SERVER_ENV: Record<string, string> = {
  ARTIFACT_STORE_STORAGE_QUOTA__MAX_SIZE_GB: "null",
  ARTIFACT_STORE_SERVER__CLEANUP_INTERVAL: "0",
};

/**
 * Compiles src/ for Node into `outDir` (inside the repository, so packages resolve from its
 * node_modules). A private build, so a concurrent `npm run build` (which empties dist/)
 * cannot pull the files from under a running benchmark. Returns the CLI's path.
 */
export function buildNodeServer(outDir: string): string {
  const tsc = join(repoRoot, "node_modules", ".bin", "tsc");
  const args = ["-p", "tsconfig.build.json", "--outDir", outDir, "--declaration", "false", "--sourceMap", "false"];
  const result = spawnSync(tsc, args, { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`building the Node server failed:\n${result.stdout}${result.stderr}`);
  return join(outDir, "runtime", "cli.js");
}

export interface StoreServer {
  url: string;
  pid: number;
  /** Everything the server logged so far. */
  output(): string;
  /** SIGTERM by PID; resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts `artifact-store serve --port 0` (Bun from source, Node from `nodeCli`) with
 * `ARTIFACT_STORE_BASE_PATH` and HOME at `basePath` (no user config is read), and reads the
 * URL from its start-up line.
 */
export async function startStoreServer(
  runtime: Runtime,
  basePath: string,
  nodeCli: string,
  env: Record<string, string> = {},
): Promise<StoreServer> {
  const [command, script] = runtime === "bun" ? [bunBinary, join(repoRoot, "src/runtime/cli.ts")] : ["node", nodeCli];
  const child = spawn(command, [script, "serve", "--port", "0"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: basePath,
      ARTIFACT_STORE_BASE_PATH: basePath,
      ...BENCH_SERVER_ENV,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} server did not start in 30 s:\n${output}`)), 30_000);
    const check = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (!match?.[1]) return;
      clearTimeout(timer);
      resolve(match[1]);
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${runtime} server exited before listening:\n${output}`));
    });
  });
  return { url, pid: child.pid as number, output: () => output, stop: () => stopChild(child, exited) };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, "SIGTERM");
  await exited;
}

export interface StaticServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the trivial file server (`script` is static-server.ts for Bun, its bundle for Node). */
export function startStaticServer(runtime: Runtime, script: string): Promise<StaticServer> {
  const [command, args] = commandFor(runtime, script, []);
  const child = spawn(command, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise<StaticServer>((resolve, reject) => {
    let output = "";
    child.once("error", reject);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = /\{"port":(\d+)\}/.exec(output);
      if (!match) return;
      resolve({
        url: `http://127.0.0.1:${match[1]}`,
        pid: child.pid as number,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, "SIGTERM");
          await exited;
        },
      });
    });
    exited.then(() => reject(new Error(`static server (${runtime}) exited before listening: ${output}`)));
  });
}

export interface ProcessMemory {
  /** Resident set now, KiB. */
  rssKiB: number;
  /** Peak resident set since start or the last {@link resetPeakMemory}, KiB. */
  peakKiB: number;
}

export async function readProcessMemory(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: field("VmRSS"), peakKiB: field("VmHWM") };
}

/** Resets the process's peak RSS (VmHWM) to its current RSS; false where the kernel refuses. */
export async function resetPeakMemory(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `intervalMs` until stopped; resolves with the highest sample, KiB. */
export function sampleMemory(pid: number, intervalMs = 50): { stop(): Promise<number> } {
  let highest = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const memory = await readProcessMemory(pid).catch(() => undefined);
      if (memory) highest = Math.max(highest, memory.rssKiB);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return highest;
    },
  };
}

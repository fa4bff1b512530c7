/**
 * `wrangler dev --local` as a newcomer runs it: in a directory holding `wrangler.toml`, the
 * built bundle and `.dev.vars`, on 127.0.0.1 with a free port. Unlike Miniflare on its own,
 * wrangler dev does to requests what Cloudflare does: `Accept-Encoding` is replaced by
 * `br, gzip` (the client's value moves to `request.cf.clientAcceptEncoding`), and responses are
 * re-encoded for the client. It is started in its own process group and stopped by that PID.
 * `CLOUDFLARE_CF_FETCH_ENABLED=false` keeps Miniflare from fetching Cloudflare's `request.cf`
 * data at start and `WRANGLER_HIDE_BANNER` its update check (no network beyond loopback).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./server-process.ts";
import { freePort } from "./sqld.ts";

const READY_TIMEOUT_MS = 90_000;
const wranglerScript = join(repoRoot, "node_modules", "wrangler", "bin", "wrangler.js");

export interface WranglerDev {
  url: URL;
  pid: number;
  /** Everything wrangler (and the Worker's console) printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `wrangler dev --local` in `directory` and waits for its "Ready on" line and a first answer. */
export async function startWranglerDev(directory: string): Promise<WranglerDev> {
  const port = await freePort();
  const child = spawn(
    // wrangler runs on Node (20 here), whatever runs the tests.
    "node",
    [
      wranglerScript,
      "dev",
      "--local",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--show-interactive-dev-session=false",
    ],
    {
      cwd: directory,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "",
        HOME: directory,
        WRANGLER_SEND_METRICS: "false",
        // The banner is where wrangler asks npm for a newer version.
        WRANGLER_HIDE_BANNER: "true",
        WRANGLER_LOG_PATH: join(directory, ".wrangler", "logs"),
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        NO_COLOR: "1",
        FORCE_COLOR: "0",
      },
    },
  );
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // Already gone.
    }
  };
  const killOnExit = () => killGroup("SIGKILL");
  process.once("exit", killOnExit);
  let output = "";
  const decoder = new TextDecoder();
  child.stdout?.on("data", (chunk: Uint8Array) => (output += decoder.decode(chunk)));
  child.stderr?.on("data", (chunk: Uint8Array) => (output += decoder.decode(chunk)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = new URL(`http://127.0.0.1:${port}/`);
  const stop = async () => {
    killGroup("SIGTERM");
    const timer = setTimeout(() => killGroup("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    // workerd and esbuild are children of wrangler's group: make sure none outlives it.
    killGroup("SIGKILL");
    process.off("exit", killOnExit);
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!output.includes("Ready on") || !(await answers(url))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not start (exit code ${child.exitCode}):\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, pid: child.pid as number, output: () => output, stop };
}

async function answers(url: URL): Promise<boolean> {
  try {
    const response = await fetch(new URL("/favicon.ico", url));
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

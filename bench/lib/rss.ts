/**
 * Section 4: peak RSS growth of the server process over its idle RSS while it takes a 1 GiB
 * upload (generated while it is sent, never held) and sends it back, decoded and as stored gzip.
 * Memory is read from /proc/<pid>/status: VmRSS sampled every 20 ms, and VmHWM reset through
 * /proc/<pid>/clear_refs before each operation (the kernel may miss peaks that a garbage
 * collector returns with madvise, hence both).
 */
import { join } from "node:path";
import type { Runtime } from "./children.ts";
import { generatedLogStream, logBytes } from "./data.ts";
import type { BenchContext } from "./options.ts";
import { figure, type Row } from "./report.ts";
import { readProcessMemory, resetPeakMemory, sampleMemory, startStoreServer } from "./servers.ts";
import { MIB, megabytesPerSecond, sleep } from "./stats.ts";

const SECTION = "rss";
const KIB_PER_MIB = 1024;

interface Watched {
  /** RSS of the fresh server before any request: what the idle server holds (modules, runtime). */
  startMiB: number;
  idleMiB: number;
  peakMiB: number;
  seconds: number;
  /** Whether VmHWM could be reset (otherwise only the samples count). */
  peakReset: boolean;
}

/** Runs `action` while watching the process's memory; idle is read after a short pause before it. */
async function watch(pid: number, action: () => Promise<void>): Promise<Omit<Watched, "startMiB">> {
  await sleep(1000);
  const idle = await readProcessMemory(pid);
  const peakReset = (await resetPeakMemory(pid)) && (await readProcessMemory(pid)).peakKiB <= idle.rssKiB + 1024;
  const sampler = sampleMemory(pid, 20);
  const started = performance.now();
  await action();
  const seconds = (performance.now() - started) / 1000;
  const sampledPeak = await sampler.stop();
  const after = await readProcessMemory(pid);
  const peakKiB = Math.max(sampledPeak, after.rssKiB, peakReset ? after.peakKiB : 0);
  return { idleMiB: idle.rssKiB / KIB_PER_MIB, peakMiB: peakKiB / KIB_PER_MIB, seconds, peakReset };
}

async function drainResponse(response: Response, gzip: boolean): Promise<number> {
  if (response.status !== 200 || (response.headers.get("content-encoding") === "gzip") !== gzip) {
    throw new Error(`download: HTTP ${response.status}, content-encoding ${response.headers.get("content-encoding")}`);
  }
  let bytes = 0;
  for await (const chunk of response.body as ReadableStream<Uint8Array>) bytes += chunk.length;
  return bytes;
}

/**
 * Starts a fresh server on `basePath` (so each operation is watched from a true idle RSS, not
 * one left high by the previous operation), warms every code path up on a 4 MiB artifact,
 * then watches `action`.
 */
async function onFreshServer(
  context: BenchContext,
  runtime: Runtime,
  basePath: string,
  action: (baseUrl: string) => Promise<void>,
): Promise<Watched> {
  const server = await startStoreServer(runtime, basePath, context.nodeScripts.serverCli);
  try {
    await sleep(500);
    const start = await readProcessMemory(server.pid);
    const warmUrl = `${server.url}/v1/artifacts/bench/rss-warmup/log`;
    const warm = await fetch(warmUrl, { method: "PUT", body: logBytes(4 * MIB) });
    if (warm.status !== 201) throw new Error(`warm-up upload: HTTP ${warm.status} ${await warm.text()}`);
    await drainResponse(await fetch(warmUrl, { headers: { "Accept-Encoding": "identity" } }), false);
    await drainResponse(await fetch(warmUrl, { headers: { "Accept-Encoding": "gzip" }, decompress: false }), true);
    return { ...(await watch(server.pid, () => action(server.url))), startMiB: start.rssKiB / KIB_PER_MIB };
  } finally {
    await server.stop();
  }
}

async function measureRuntime(context: BenchContext, runtime: Runtime): Promise<Row[]> {
  const total = context.sizes.rssBytes;
  const label = total >= 1024 * MIB ? `${total / (1024 * MIB)} GiB` : `${total / MIB} MiB`;
  const basePath = join(context.workDir, `rss-${runtime}`);
  const path = "/v1/artifacts/bench/rss/log";
  const upload = await onFreshServer(context, runtime, basePath, async (baseUrl) => {
    const body = generatedLogStream(total);
    const response = await fetch(`${baseUrl}${path}`, { method: "PUT", body, duplex: "half" } as RequestInit);
    const result = (await response.json()) as { originalSize?: number };
    if (response.status !== 201 || result.originalSize !== total) {
      throw new Error(`${label} upload: HTTP ${response.status} ${JSON.stringify(result).slice(0, 300)}`);
    }
  });
  const download = (gzip: boolean) =>
    onFreshServer(context, runtime, basePath, async (baseUrl) => {
      const response = await fetch(`${baseUrl}${path}`, {
        headers: { "Accept-Encoding": gzip ? "gzip" : "identity" },
        decompress: false,
      });
      const bytes = await drainResponse(response, gzip);
      if (!gzip && bytes !== total) throw new Error(`download sent ${bytes} of ${total} bytes`);
    });
  const decoded = await download(false);
  const passthrough = await download(true);
  const row = (name: string, watched: Watched) =>
    figure(SECTION, `peak RSS growth, ${label} ${name} — HTTP ${runtime}`, watched.peakMiB - watched.idleMiB, "MiB", {
      detail: `idle ${watched.idleMiB.toFixed(0)} → peak ${watched.peakMiB.toFixed(0)} MiB · ${megabytesPerSecond(total, watched.seconds).toFixed(0)} MB/s${watched.peakReset ? "" : " · VmHWM not resettable, sampled only"}`,
      data: { ...watched, peakReset: String(watched.peakReset) },
      atMost: 64,
    });
  const start = figure(SECTION, `server RSS at start, before any request — HTTP ${runtime}`, upload.startMiB, "MiB", {
    detail:
      "what the idle server holds (runtime, modules, store); side-by-side.sh prints it as server_rss_at_start_MiB",
    data: { startMiB: upload.startMiB },
  });
  return [
    start,
    row("upload", upload),
    row("download decoded", decoded),
    row("download gzip passthrough", passthrough),
  ];
}

export async function runRss(context: BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of ["bun", "node"] as const) {
    context.progress(`rss: ${context.sizes.rssBytes / MIB} MiB up and down on the ${runtime} server`);
    rows.push(...(await measureRuntime(context, runtime)));
  }
  return rows;
}

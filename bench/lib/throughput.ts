/**
 * Section 1: upload and download MB/s of 64 MiB of log text and of random bytes — library-direct
 * (Bun), over HTTP on Bun and on Node — next to the limits of the same bytes in the same run:
 * file write (fsync) and read, native gzip/gunzip (one-shot and the store's stream engine),
 * SHA-256, two-core gzip, and a trivial server sending the stored file.
 * Every MB/s here is content megabytes (10^6 bytes of the original) per second.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Runtime, runJsonChild } from "./children.ts";
import { type ContentKind, contentBytes } from "./data.ts";
import type { LibraryRequest, LibraryResult } from "./library-child.ts";
import type { BenchContext } from "./options.ts";
import type { ProbeOp, ProbeRequest, ProbeResult } from "./probe.ts";
import { figure, type Limit, limitRow, type Row } from "./report.ts";
import { startStaticServer, startStoreServer } from "./servers.ts";
import { MIB, median, megabytesPerSecond } from "./stats.ts";

const SECTION = "throughput";
const LEVEL = 6;
const UNIT = "MB/s";

const LIMIT_OPS: { op: ProbeOp; label: string }[] = [
  { op: "file-write", label: "file write+fsync" },
  { op: "file-read", label: "file read" },
  { op: "gzip-oneshot", label: `gzip L${LEVEL} one-shot` },
  { op: "gzip-engine", label: `gzip L${LEVEL} single-thread stream` },
  { op: "gzip-two-workers", label: `gzip L${LEVEL} 2 workers, 4 MiB members` },
  { op: "gzip-parallel", label: `gzip L${LEVEL} store engine, parallel deflate (one member)` },
  { op: "gunzip-oneshot", label: "gunzip one-shot" },
  { op: "gunzip-engine", label: "gunzip store engine stream" },
  { op: "sha256-engine", label: "SHA-256 store engine" },
];
const PORTABLE_OPS: { op: ProbeOp; label: string }[] = [
  { op: "gzip-fflate", label: `gzip L${LEVEL} fflate (portable)` },
  { op: "sha256-noble", label: "SHA-256 @noble/hashes (portable)" },
];

interface HttpFigures {
  upload: number;
  downloadGzip: number;
  downloadDecoded: number;
  staticSend: number;
}

/** Median seconds of the three HTTP operations against one store server, plus the trivial server's send. */
async function measureHttp(
  context: BenchContext,
  runtime: Runtime,
  kind: ContentKind,
  content: Uint8Array<ArrayBuffer>,
  staticUrl: string,
): Promise<HttpFigures> {
  const basePath = join(context.workDir, `http-${runtime}-${kind}`);
  const server = await startStoreServer(runtime, basePath, context.nodeScripts.serverCli, {
    ARTIFACT_STORE_VERSIONING_ENABLED: "true",
  });
  try {
    const url = `${server.url}/v1/artifacts/bench/http-${kind}/log`;
    const uploads: number[] = [];
    let storedPath = "";
    let storedBytes = 0;
    for (let repetition = 0; repetition < context.sizes.repetitions; repetition++) {
      const started = performance.now();
      const response = await fetch(url, { method: "PUT", body: content });
      const result = (await response.json()) as { size: number; originalSize: number; uri: string };
      uploads.push((performance.now() - started) / 1000);
      if (response.status !== 201 || result.originalSize !== content.length) {
        throw new Error(`${runtime} upload failed: ${response.status} ${JSON.stringify(result).slice(0, 300)}`);
      }
      storedPath = fileURLToPath(result.uri);
      storedBytes = result.size;
    }
    const fetchBytes = async (target: string, gzip: boolean, expected: number) => {
      const started = performance.now();
      const response = await fetch(target, {
        headers: { "Accept-Encoding": gzip ? "gzip" : "identity" },
        decompress: false,
      });
      let bytes = 0;
      for await (const chunk of response.body as ReadableStream<Uint8Array>) bytes += chunk.length;
      if (
        response.status !== 200 ||
        bytes !== expected ||
        (response.headers.get("content-encoding") === "gzip") !== gzip
      ) {
        throw new Error(`${runtime} GET ${target}: ${response.status}, ${bytes} of ${expected} bytes`);
      }
      return (performance.now() - started) / 1000;
    };
    const repeat = async (action: () => Promise<number>) => {
      const runs: number[] = [];
      for (let repetition = 0; repetition < context.sizes.repetitions; repetition++) runs.push(await action());
      return median(runs);
    };
    const staticTarget = `${staticUrl}/file?path=${encodeURIComponent(storedPath)}`;
    return {
      upload: median(uploads),
      downloadGzip: await repeat(() => fetchBytes(url, true, storedBytes)),
      downloadDecoded: await repeat(() => fetchBytes(url, false, content.length)),
      staticSend: await repeat(() => fetchBytes(staticTarget, true, storedBytes)),
    };
  } finally {
    await server.stop();
  }
}

async function probeLimits(context: BenchContext, runtime: Runtime, contentFile: string, kind: ContentKind) {
  const script = runtime === "bun" ? join(import.meta.dir, "probe.ts") : context.nodeScripts.probe;
  const request = (ops: ProbeOp[], repetitions: number): ProbeRequest => ({
    contentFile,
    workDir: context.workDir,
    level: LEVEL,
    repetitions,
    ops,
  });
  const native = await runJsonChild<ProbeResult>(runtime, script, [
    "--request",
    JSON.stringify(
      request(
        LIMIT_OPS.map((entry) => entry.op),
        context.sizes.repetitions,
      ),
    ),
  ]);
  // The portable engines are slow and do not depend on the content much: log text only, once.
  const portable =
    kind === "log"
      ? await runJsonChild<ProbeResult>(runtime, script, [
          "--request",
          JSON.stringify(
            request(
              PORTABLE_OPS.map((entry) => entry.op),
              1,
            ),
          ),
        ])
      : undefined;
  context.facts[`engine (${runtime})`] = native.engine;
  context.facts[`runtime (${runtime})`] = native.runtime;
  return { ...native, seconds: { ...native.seconds, ...portable?.seconds } };
}

function limitRows(
  kind: ContentKind,
  runtime: Runtime,
  probe: ProbeResult,
): { rows: Row[]; mbps: (op: ProbeOp) => number } {
  const mbps = (op: ProbeOp) => megabytesPerSecond(probe.bytes, probe.seconds[op] ?? Number.NaN);
  const rows = [...LIMIT_OPS, ...PORTABLE_OPS]
    .filter((entry) => probe.seconds[entry.op] !== undefined)
    .map((entry) => limitRow(SECTION, `${kind} ${entry.label} (${runtime})`, mbps(entry.op), UNIT));
  return { rows, mbps };
}

const limitOf = (name: string, value: number): Limit => ({ name, value, unit: UNIT });

/** Limits of one runtime as MB/s per op. */
type LimitTable = Record<Runtime, (op: ProbeOp) => number>;

interface PathFigures {
  /** `library (bun)`, `HTTP bun`, `HTTP node` */
  path: string;
  runtime: Runtime;
  figures: HttpFigures;
}

async function measureLibrary(context: BenchContext, kind: ContentKind, contentFile: string): Promise<PathFigures> {
  const library = await runJsonChild<LibraryResult>("bun", join(import.meta.dir, "library-child.ts"), [
    "--request",
    JSON.stringify({
      basePath: join(context.workDir, `library-${kind}`),
      contentFile,
      repetitions: context.sizes.repetitions,
    } satisfies LibraryRequest),
  ]);
  const { upload, downloadGzip, downloadDecoded, storedFileRead } = library.seconds;
  // Library-direct has no "send": its passthrough is compared with a plain read of the stored file.
  return {
    path: "library (bun)",
    runtime: "bun",
    figures: { upload, downloadGzip, downloadDecoded, staticSend: storedFileRead },
  };
}

/** The figures of one path (library or HTTP on a runtime) with their limits and targets. */
function pathRows(label: string, kind: ContentKind, entry: PathFigures, limits: LimitTable, size: number): Row[] {
  const { path, runtime, figures } = entry;
  const mb = (seconds: number) => megabytesPerSecond(size, seconds);
  const best = (first: ProbeOp, second: ProbeOp) => Math.max(limits[runtime](first), limits[runtime](second));
  const isBunHttp = path === "HTTP bun";
  const rows: Row[] = [
    figure(SECTION, `upload ${label} — ${path}`, mb(figures.upload), UNIT, {
      limit: limitOf(`native gzip L${LEVEL} (${runtime})`, best("gzip-oneshot", "gzip-engine")),
      // The target is for the log over HTTP on Bun; elsewhere the ratio is shown only.
      ...(isBunHttp && kind === "log" ? { minRatio: { ratio: 0.85 } } : {}),
      data: { seconds: figures.upload },
    }),
  ];
  if (isBunHttp && kind === "log") {
    rows.push(
      figure(SECTION, `upload ${label} — ${path} (stretch)`, mb(figures.upload), UNIT, {
        limit: limitOf("2-core gzip ceiling (bun)", best("gzip-two-workers", "gzip-parallel")),
        minRatio: { ratio: 0.7 },
      }),
    );
  }
  const sendName = path.startsWith("library") ? "plain read of stored .gz (bun)" : `trivial server send (${runtime})`;
  rows.push(
    figure(SECTION, `download gzip passthrough ${label} — ${path}`, mb(figures.downloadGzip), UNIT, {
      limit: limitOf(sendName, mb(figures.staticSend)),
      minRatio: { ratio: 0.7 },
      data: { seconds: figures.downloadGzip },
    }),
    figure(SECTION, `download decoded ${label} — ${path}`, mb(figures.downloadDecoded), UNIT, {
      limit: limitOf(`native gunzip (${runtime})`, best("gunzip-oneshot", "gunzip-engine")),
      minRatio: { ratio: 0.7 },
      data: { seconds: figures.downloadDecoded },
    }),
  );
  return rows;
}

async function measureKind(context: BenchContext, kind: ContentKind, statics: Record<Runtime, string>): Promise<Row[]> {
  const size = context.sizes.throughputBytes;
  const label = `${kind} ${size / MIB} MiB`;
  const contentFile = join(context.workDir, `${kind}.bin`);
  const content = contentBytes(kind, size);
  await writeFile(contentFile, content);
  const rows: Row[] = [];
  const limits: LimitTable = { bun: () => Number.NaN, node: () => Number.NaN };
  for (const runtime of ["bun", "node"] as const) {
    context.progress(`throughput: ${label} limits on ${runtime}`);
    const { rows: probeRows, mbps } = limitRows(kind, runtime, await probeLimits(context, runtime, contentFile, kind));
    rows.push(...probeRows);
    limits[runtime] = mbps;
  }
  context.progress(`throughput: ${label} library-direct on bun`);
  const paths = [await measureLibrary(context, kind, contentFile)];
  rows.push(
    limitRow(
      SECTION,
      `${kind} plain read of the stored .gz (bun)`,
      megabytesPerSecond(size, paths[0]?.figures.staticSend ?? Number.NaN),
      UNIT,
    ),
  );
  for (const runtime of ["bun", "node"] as const) {
    context.progress(`throughput: ${label} over HTTP on ${runtime}`);
    const figures = await measureHttp(context, runtime, kind, content, statics[runtime]);
    const sendRate = megabytesPerSecond(size, figures.staticSend);
    rows.push(limitRow(SECTION, `${kind} trivial server sends the stored .gz (${runtime})`, sendRate, UNIT));
    paths.push({ path: `HTTP ${runtime}`, runtime, figures });
  }
  for (const entry of paths) rows.push(...pathRows(label, kind, entry, limits, size));
  return rows;
}

export async function runThroughput(context: BenchContext): Promise<Row[]> {
  const bunStatic = await startStaticServer("bun", join(import.meta.dir, "static-server.ts"));
  const nodeStatic = await startStaticServer("node", context.nodeScripts.staticServer);
  try {
    const rows: Row[] = [];
    for (const kind of ["log", "random"] as const) {
      rows.push(...(await measureKind(context, kind, { bun: bunStatic.url, node: nodeStatic.url })));
    }
    return rows;
  } finally {
    await bunStatic.stop();
    await nodeStatic.stop();
  }
}

/**
 * `npm run build:worker`: bundles the edge entry (src/runtime/worker.ts) for workerd into
 * dist/worker/worker.js, one ES module with everything inlined, and prints its size raw and
 * gzipped (what Workers' size limit counts). Also used by the tests, which bundle the same way.
 *
 * The entry is src/runtime/worker-main.ts (the Worker of src/runtime/worker.ts and a check of its
 * bindings at start-up).
 *
 * The AWS SDK's `@aws-sdk/xml-builder` maps its XML parser to a DOMParser variant for browsers
 * (its package.json `browser` and `react-native` fields); workerd has no DOMParser, so that one
 * import is resolved to the package's own pure-JavaScript parser instead.
 *
 *   bun scripts/build-worker.ts [--outfile dist/worker/worker.js] [--no-minify]
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build, type Metafile, type Plugin } from "esbuild";

const repoRoot = join(import.meta.dirname, "..");

export const WORKER_ENTRY = join(repoRoot, "src", "runtime", "worker-main.ts");
export const WORKER_OUTFILE = join(repoRoot, "dist", "worker", "worker.js");

/** Resolves `@aws-sdk/xml-builder`'s `./xml-parser` to `xml-parser.js`, never `xml-parser.browser.js`. */
export const awsXmlParserPlugin: Plugin = {
  name: "aws-sdk-xml-parser-without-dom",
  setup(builder) {
    builder.onResolve({ filter: /^\.\/xml-parser(\.browser)?(\.js)?$/ }, (args) => {
      if (!/[\\/]@aws-sdk[\\/]xml-builder[\\/]dist-(es|cjs)[\\/]/.test(args.importer)) return undefined;
      return { path: join(dirname(args.importer), "xml-parser.js") };
    });
  },
};

/**
 * esbuild options for a workerd bundle of `entry`: browser platform with the `workerd` and
 * `worker` conditions (what wrangler resolves), ES module output, no Node built-ins.
 */
export function workerBuildOptions(entry: string, outfile: string, minify = true): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    target: "es2022",
    minify,
    sourcemap: "external",
    metafile: true,
    logLevel: "error",
    // workerd's built-in modules.
    external: ["cloudflare:*"],
    plugins: [awsXmlParserPlugin],
  };
}

export interface WorkerBundle {
  outfile: string;
  bytes: number;
  gzipBytes: number;
  metafile: Metafile;
}

/** Builds the bundle and reports its size; the metafile lists every module in it. */
export async function buildWorkerBundle(
  options: { entry?: string; outfile?: string; minify?: boolean } = {},
): Promise<WorkerBundle> {
  const outfile = options.outfile ?? WORKER_OUTFILE;
  await mkdir(dirname(outfile), { recursive: true });
  const result = await build(workerBuildOptions(options.entry ?? WORKER_ENTRY, outfile, options.minify ?? true));
  const metafile = result.metafile as Metafile;
  await writeFile(`${outfile}.meta.json`, JSON.stringify(metafile));
  const code = await readFile(outfile);
  return { outfile, bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length, metafile };
}

export function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { outfile: { type: "string" }, "no-minify": { type: "boolean", default: false } },
  });
  const bundle = await buildWorkerBundle({
    ...(values.outfile ? { outfile: resolve(values.outfile) } : {}),
    minify: !values["no-minify"],
  });
  const modules = Object.keys(bundle.metafile.inputs).length;
  console.log(
    `${relative(process.cwd(), bundle.outfile)}: ${formatSize(bundle.bytes)} (${formatSize(bundle.gzipBytes)} gzipped), ${modules} modules`,
  );
}

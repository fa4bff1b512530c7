/**
 * The edge entry stays on Web APIs: bundling src/runtime/worker.ts for workerd, no module
 * reachable from it imports a Node built-in (`node:*` or a bare `fs`, `crypto`, `stream`, …),
 * none of the files DESIGN.md allows runtime specifics in is pulled in, and the bundle's text
 * uses neither the `Bun` nor the `Deno` global. The import graph is esbuild's metafile.
 */
import { afterAll, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { join } from "node:path";
import type { Metafile } from "esbuild";
import { buildWorkerBundle } from "../../scripts/build-worker.ts";
import { makeTempDir } from "../helpers/store.ts";

const directory = await makeTempDir("worker-purity");
afterAll(() => directory.cleanup());
// Unminified, so the text scan sees identifiers as written.
const bundle = await buildWorkerBundle({ outfile: join(directory.path, "worker.js"), minify: false });

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
/** Files allowed to use `node:` modules or the Bun/Deno globals (DESIGN.md), none of them for the edge. */
const RUNTIME_SPECIFIC_FILES = [
  "src/backends/fs.ts",
  "src/config/load.ts",
  "src/metadata/local.ts",
  "src/runtime/engines.ts",
  "src/runtime/local.ts",
  "src/runtime/server-common.ts",
  "src/runtime/bun.ts",
  "src/runtime/node.ts",
  "src/runtime/deno.ts",
  "src/runtime/cli.ts",
];

/** Every module reachable from the entry through static and dynamic imports. */
function reachableModules(metafile: Metafile, entry: string): { modules: string[]; builtinImports: string[] } {
  const seen = new Set<string>();
  const builtinImports: string[] = [];
  const queue = [entry];
  while (queue.length > 0) {
    const path = queue.pop() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of metafile.inputs[path]?.imports ?? []) {
      const specifier = imported.original ?? imported.path;
      if (NODE_BUILTINS.has(specifier) || NODE_BUILTINS.has(imported.path) || imported.path.startsWith("node:")) {
        builtinImports.push(`${path} imports ${specifier}`);
      }
      if (!imported.external && metafile.inputs[imported.path]) queue.push(imported.path);
    }
  }
  return { modules: [...seen], builtinImports };
}

test("no Node built-in and no runtime-specific file is reachable from the bundle's entry", () => {
  const { modules, builtinImports } = reachableModules(bundle.metafile, "src/runtime/worker-main.ts");
  console.log(`worker purity: ${modules.length} modules checked (reachable from src/runtime/worker-main.ts)`);
  expect(modules).toContain("src/runtime/worker.ts");
  expect(modules.length).toBeGreaterThan(100);
  // (In a git worktree whose node_modules is a link, module paths go through the link's target.)
  expect(modules.some((module) => module.endsWith("node_modules/@aws-sdk/xml-builder/dist-es/xml-parser.js"))).toBe(
    true,
  );
  expect(builtinImports).toEqual([]);
  expect(modules.filter((module) => RUNTIME_SPECIFIC_FILES.includes(module))).toEqual([]);
  // The DOMParser variant of the AWS SDK's XML parser would fail on workerd.
  expect(modules.filter((module) => module.endsWith("xml-parser.browser.js"))).toEqual([]);
  // Everything in the bundle came through the graph walked above.
  expect(Object.keys(bundle.metafile.inputs).sort()).toEqual([...modules].sort());
});

test("the bundle uses neither the Bun nor the Deno global, nor DOMParser", async () => {
  const code = await readFile(bundle.outfile, "utf8");
  // `Bun.…`, `typeof Bun`, `globalThis.Bun`, `new DOMParser` and the like.
  const uses = (name: string) =>
    [
      ...code.matchAll(
        new RegExp(`\\b${name}\\s*[.[(]|typeof\\s+${name}\\b|globalThis\\s*\\.\\s*${name}\\b|new\\s+${name}\\b`, "g"),
      ),
    ].length;
  expect({ Bun: uses("Bun"), Deno: uses("Deno"), DOMParser: uses("DOMParser") }).toEqual({
    Bun: 0,
    Deno: 0,
    DOMParser: 0,
  });
});

test("scripts/build-worker.ts --outfile takes an absolute path as it is", async () => {
  const outfile = join(directory.path, "absolute", "x.js");
  const script = join(import.meta.dir, "..", "..", "scripts", "build-worker.ts");
  const run = Bun.spawnSync([process.execPath, script, "--outfile", outfile], { cwd: directory.path });
  expect(run.exitCode).toBe(0);
  expect(new TextDecoder().decode(run.stdout)).toMatch(/^absolute\/x\.js: \d+\.\d KiB \(\d+\.\d KiB gzipped\)/);
  expect((await readFile(outfile, "utf8")).length).toBeGreaterThan(100_000);
});

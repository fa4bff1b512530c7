/**
 * The layers of DESIGN.md, enforced: every relative import in src/ points down (or within its
 * own layer), never up or sideways. A newcomer who adds `import … from "../http/…"` in the core
 * gets this test's message naming the file, the import and the layers it may use instead.
 */
import { expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, normalize, relative } from "node:path";

const SRC = join(import.meta.dir, "../../src");

/** Top to bottom. A layer imports its own files and the layers listed for it, nothing else. */
const LAYERS = {
  runtime: ["http", "client", "config", "core", "codec", "backends", "metadata", "lib", "contracts"],
  http: ["config", "core", "codec", "lib", "contracts"],
  client: ["core", "lib", "contracts"],
  config: ["core", "lib", "contracts"],
  /** The core knows backends and the metadata database only by their contracts. */
  core: ["codec", "lib", "contracts"],
  backends: ["codec", "lib", "contracts"],
  metadata: ["codec", "lib", "contracts"],
  codec: ["lib", "contracts"],
  lib: ["contracts"],
  contracts: [],
  /** `src/index.ts`, the pure root export: the library surface, never a runtime entry or the HTTP app. */
  entry: ["config", "core", "codec", "backends", "metadata", "lib", "contracts"],
} as const satisfies Record<string, readonly string[]>;
type Layer = keyof typeof LAYERS;

/**
 * Files that belong to another layer than their folder says, each with its reason.
 * Everything else takes its layer from its first folder under src/.
 */
const PLACED_ELSEWHERE: Record<string, { layer: Layer; reason: string }> = {};

/** Imports against the direction, each with its reason. Empty: there are none. */
const EXCEPTIONS: Record<string, string> = {};

function layerOf(file: string): Layer {
  const placed = PLACED_ELSEWHERE[file];
  if (placed) return placed.layer;
  if (file === "index.ts") return "entry";
  const folder = file.split("/")[0] as string;
  if (!(folder in LAYERS)) throw new Error(`src/${file}: folder ${folder}/ is in no layer; add it to LAYERS`);
  return folder as Layer;
}

async function sourceFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
    .map((entry) => relative(SRC, join(entry.parentPath, entry.name)).replaceAll("\\", "/"))
    .sort();
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function relativeImports(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) {
    found.add(match[1] as string);
  }
  return [...found];
}

const files = await sourceFiles(SRC);
const edges: { from: string; to: string }[] = [];
for (const file of files) {
  for (const specifier of relativeImports(await readFile(join(SRC, file), "utf8"))) {
    const to = normalize(join(dirname(file), specifier)).replaceAll("\\", "/");
    edges.push({ from: file, to });
  }
}

test("the import graph of src/ is walked (a broken walk would pass anything)", () => {
  expect(files.length).toBeGreaterThan(80);
  expect(edges.length).toBeGreaterThan(300);
  expect(edges).toContainEqual({ from: "core/store.ts", to: "core/settings.ts" });
  expect(edges).toContainEqual({ from: "runtime/worker.ts", to: "http/app.ts" });
});

test("every import in src/ follows DESIGN.md's layers: runtime > http > config > core > codec > lib > contracts, backends and metadata beside the core", () => {
  const violations = edges
    .filter(({ from, to }) => {
      if (`${from} -> ${to}` in EXCEPTIONS) return false;
      const source = layerOf(from);
      const target = layerOf(to);
      return source !== target && !(LAYERS[source] as readonly string[]).includes(target);
    })
    .map(
      ({ from, to }) =>
        `src/${from} (${layerOf(from)}) imports src/${to} (${layerOf(to)}); ${layerOf(from)} may import ${
          LAYERS[layerOf(from)].join(", ") || "nothing outside itself"
        }`,
    );
  expect(violations).toEqual([]);
});

test("every listed exception is still needed (a fixed one is removed from the list)", () => {
  const present = new Set(edges.map(({ from, to }) => `${from} -> ${to}`));
  expect(Object.keys(EXCEPTIONS).filter((edge) => !present.has(edge))).toEqual([]);
});

test("the layer rules themselves point down only: no two layers may import each other", () => {
  const cycles = Object.entries(LAYERS).flatMap(([layer, allowed]) =>
    allowed
      .filter((other) => (LAYERS[other as Layer] as readonly string[]).includes(layer))
      .map((other) => `${layer} <-> ${other}`),
  );
  expect(cycles).toEqual([]);
});

test("no two modules of src/ import each other, directly or round a loop (a cycle means a stage cut in the wrong place)", () => {
  const graph = new Map<string, string[]>();
  for (const { from, to } of edges) graph.set(from, [...(graph.get(from) ?? []), to]);
  const cycles = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") cycles.add([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  expect([...cycles]).toEqual([]);
});

/**
 * Small modules (STYLE.md): no file in src/ over 400 lines. A file that grows past it is asking
 * to be split along a seam, one idea per module. (Functions over 80 lines are refused by biome's
 * `noExcessiveLinesPerFunction`, configured for src/ in biome.json.)
 */
import { expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

const SRC = join(import.meta.dir, "../../src");
const MAX_LINES = 400;

/** Files allowed past the limit, each with its reason. Empty: there are none. */
const EXCEPTIONS: Record<string, string> = {};

async function sourceFiles(): Promise<string[]> {
  const entries = await readdir(SRC, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name))
    .map((entry) => relative(SRC, join(entry.parentPath, entry.name)).replaceAll("\\", "/"))
    .sort();
}

/** Lines as `wc -l` counts them (the last line's newline ends it). */
function lineCount(text: string): number {
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

test(`no file in src/ is over ${MAX_LINES} lines`, async () => {
  const files = await sourceFiles();
  expect(files.length).toBeGreaterThan(100);
  const tooLong: string[] = [];
  for (const file of Object.keys(EXCEPTIONS)) {
    if (!files.includes(file)) tooLong.push(`src/${file}: listed as an exception but gone; drop it`);
  }
  for (const file of files) {
    const lines = lineCount(await readFile(join(SRC, file), "utf8"));
    if (lines > MAX_LINES && !(file in EXCEPTIONS)) {
      tooLong.push(`src/${file}: ${lines} lines; split it along a seam (one idea per module, STYLE.md)`);
    }
    if (lines <= MAX_LINES && file in EXCEPTIONS)
      tooLong.push(`src/${file}: no longer over the limit; drop its exception`);
  }
  expect(tooLong).toEqual([]);
});

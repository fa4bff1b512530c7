/**
 * Precision: real logs, diffs and test reports that hold no secret come through redaction
 * untouched, with every rule on at its default (mask) — the generic rule counted apart, since
 * it is the one rule that guesses.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRedaction, DEFAULT_REDACTION } from "../../src/core/redaction/settings.ts";

const CORPORA = ["../corpus/real", "../corpus/redaction"].map((path) => join(import.meta.dir, path));

function corpusFiles(): string[] {
  return CORPORA.flatMap((root) =>
    readdirSync(root, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && !entry.name.endsWith(".md"))
      .map((entry) => join(entry.parentPath, entry.name)),
  ).sort();
}

function scan(file: string, disabledRules: string[] = []) {
  const scanner = createRedaction({ ...DEFAULT_REDACTION, disabledRules }).scannerFor("log");
  if (!scanner) throw new Error("redaction is on by default");
  const bytes = readFileSync(file);
  const out = [scanner.write(bytes), scanner.end()];
  return { findings: scanner.findings(), out: Buffer.concat(out) };
}

describe("precision on the clean corpus", () => {
  const files = corpusFiles();

  test("at least 30 real files: logs, diffs and test reports", () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
    for (const kind of ["/log/", "/diff/", "/junit/"]) expect(files.some((file) => file.includes(kind))).toBe(true);
  });

  test("the fixed-shape, keyword and structural rules find nothing; every byte passes unchanged", () => {
    const withFindings = files
      .map((file) => ({ file, ...scan(file, ["generic-secret"]) }))
      .filter(({ file, findings, out }) => findings.length > 0 || !out.equals(readFileSync(file)));
    expect(withFindings.map(({ file, findings }) => ({ file, findings }))).toEqual([]);
  });

  test("the generic rule (keyword + entropy) finds nothing either", () => {
    const generic = files.flatMap((file) =>
      scan(file)
        .findings.filter((finding) => finding.rule === "generic-secret")
        .map((finding) => ({ file, ...finding })),
    );
    expect(generic).toEqual([]);
  });
});

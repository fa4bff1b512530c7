import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createStructureExtractor } from "../../src/core/structure/extract.ts";
import type { ExtractedStructure } from "../../src/core/structure/types.ts";

const fixtures = join(import.meta.dir, "fixtures");
const fixture = (name: string) => Bun.file(join(fixtures, name)).text();

/** Feeds `content` in chunks of `chunkSize` bytes (1: every byte boundary is a chunk boundary). */
function extract(type: string, content: string | Uint8Array, chunkSize = 4096, maxBytes?: number): ExtractedStructure {
  const extractor = createStructureExtractor(type, maxBytes === undefined ? {} : { maxBytes });
  if (!extractor) throw new Error(`no extractor for ${type}`);
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  for (let offset = 0; offset < bytes.length; offset += chunkSize)
    extractor.write(bytes.subarray(offset, offset + chunkSize));
  return extractor.finish();
}

describe("test reports", () => {
  test("a JSON report after npm's banner still reads as JSON; NUnit is named as unsupported", () => {
    const banner = "\n> app@1.0.0 test\n> vitest run --reporter=json\n\n";
    const report = JSON.stringify({
      numTotalTests: 1,
      testResults: [
        { name: "/w/a.test.ts", assertionResults: [{ ancestorTitles: [], title: "works", status: "passed" }] },
      ],
    });
    for (const size of [1, 4096]) {
      expect(extract("test", banner + report, size).summary).toMatchObject({
        format: "jest",
        total: 1,
        parseError: null,
      });
    }
    const nunit =
      '<?xml version="1.0"?>\n<test-run id="2" testcasecount="1"><test-case name="A" result="Passed"/></test-run>';
    expect(extract("test", nunit).summary.parseError).toStartWith("an NUnit 3 report is not supported");
  });

  test("bun test --reporter=junit: suites are file › describe, failure text kept, skipped counted", async () => {
    const { summary, tests } = extract("test", await fixture("bun-junit.xml"));
    expect(summary).toMatchObject({
      kind: "test",
      format: "junit",
      total: 4,
      passed: 2,
      failed: 1,
      skipped: 1,
      parseError: null,
    });
    expect(tests.map((test) => [test.suite, test.name, test.status])).toEqual([
      ["sample.test.ts › math", "adds", "passed"],
      ["sample.test.ts › math", "fails <here>", "failed"],
      ["sample.test.ts › math", "skipped one", "skipped"],
      ["sample.test.ts", "top level", "passed"],
    ]);
    expect(tests[1]?.message).toContain("Expected: 3");
    expect(tests[1]?.durationMs).toBeCloseTo(7.392, 3);
  });

  test("node --test --test-reporter=junit and the default TAP output give the same outcomes", async () => {
    const junit = extract("test", await fixture("node-junit.xml"));
    const tap = extract("test", await fixture("node-test.tap"));
    expect(junit.summary).toMatchObject({ format: "junit", total: 4, passed: 2, failed: 1, skipped: 1 });
    expect(tap.summary).toMatchObject({ format: "tap", total: 4, passed: 2, failed: 1, skipped: 1 });
    const outcomes = (structure: ExtractedStructure) =>
      structure.tests.map((test) => [test.suite, test.name, test.status]);
    // node's placeholder classname "test" is not a suite; the describe block is.
    expect(outcomes(junit)).toEqual([
      ["math", "adds", "passed"],
      ["math", "fails <here>", "failed"],
      ["math", "skipped one", "skipped"],
      ["", "top level", "passed"],
    ]);
    expect(outcomes(tap)).toEqual(outcomes(junit));
    // The YAML block's error, then its stack.
    expect(tap.tests[1]?.message).toStartWith("2 == 3\n");
  });

  test("Jest/Vitest --json: file › ancestors as suite, todo is skipped, a file that failed to run is one failure", async () => {
    const { summary, tests } = extract("test", await fixture("jest.json"), 7);
    expect(summary).toMatchObject({ format: "jest", total: 4, passed: 1, failed: 2, skipped: 1, durationMs: 8 });
    expect(tests.map((test) => [test.suite, test.name, test.status])).toEqual([
      ["/work/ci/math.test.js › math", "adds", "passed"],
      ["/work/ci/math.test.js › math", "fails", "failed"],
      ["/work/ci/math.test.js", "later", "skipped"],
      ["/work/ci/broken.test.js", "(test file failed to run)", "failed"],
    ]);
    expect(tests[1]?.message).toContain("Expected: 3");
    expect(tests[3]?.message).toContain("SyntaxError");
  });

  test("pytest-json-report: node ids split into suite and name; error counts as failed, xfail as skipped", async () => {
    const { summary, tests } = extract("test", await fixture("pytest-json-report.json"), 13);
    expect(summary).toMatchObject({ format: "pytest-json", total: 6, passed: 2, failed: 2, skipped: 2 });
    expect(tests[0]).toMatchObject({
      suite: "tests/test_api.py › TestSession",
      name: "test_create[1]",
      status: "passed",
    });
    expect(tests[0]?.durationMs).toBeCloseTo(11.5, 3);
    expect(tests[1]).toMatchObject({
      name: "test_login",
      status: "failed",
      message: "AssertionError: assert 401 == 200",
    });
    expect(tests[2]).toMatchObject({
      name: "test_migrate",
      status: "failed",
      message: "ConnectionError: database unreachable",
    });
    expect(tests[4]).toMatchObject({ name: "test_known_bug", status: "skipped" });
  });

  test("CTRF JSON: suites from arrays or strings, pending is skipped, message and trace kept", async () => {
    const { summary, tests } = extract("test", await fixture("ctrf.json"));
    expect(summary).toMatchObject({ format: "ctrf", total: 3, passed: 1, failed: 1, skipped: 1 });
    expect(tests[0]).toMatchObject({ suite: "auth.spec.ts › login", name: "logs in", durationMs: 1200 });
    expect(tests[1]?.message).toBe("Timeout 3000ms exceeded\nat cart.spec.ts:12");
  });

  test("every chunk boundary gives the same result as one chunk (JSON and XML read as streams)", async () => {
    for (const name of ["jest.json", "bun-junit.xml", "pytest-json-report.json", "node-test.tap"]) {
      const text = await fixture(name);
      expect(extract("test", text, 1)).toEqual(extract("test", text, 1 << 20));
    }
  });

  test("malformed reports are flagged, never thrown: cut-off JSON, broken XML, plain text, JSON of another shape", async () => {
    const jest = await fixture("jest.json");
    const cut = extract("test", jest.slice(0, jest.indexOf('"name": "/work/ci/math.test.js"')));
    expect(cut.summary.parseError).toContain("ended early");
    expect(extract("test", "<testsuites><testcase name='a'>").summary.parseError).toContain("ended inside");
    expect(extract("test", "this is not a report").summary).toMatchObject({ format: null, total: 0 });
    expect(extract("test", "this is not a report").summary.parseError).toContain("not a recognised test report");
    expect(extract("test", '{"hello": [1, 2, 3]}').summary.parseError).toContain("not a Jest/Vitest");
    expect(extract("test", '{"testResults": [}').summary.parseError).toContain("invalid JSON");
    expect(extract("test", "").summary.parseError).toBe("empty test report");
    // What saxes refuses, the hand-written reader refuses too (bench/parsers.ts compares them).
    expect(extract("test", "<testsuite><testcase name=a/></testsuite>").summary.parseError).toContain(
      "malformed attribute in <testcase>",
    );
    expect(extract("test", "<testsuite/><testsuite/>").summary.parseError).toContain("after the root element ended");
  });

  test("the size cap stops reading: the summary says truncated, not malformed", async () => {
    const jest = await fixture("jest.json");
    const { summary } = extract("test", jest, 64, 600);
    expect(summary).toMatchObject({ truncated: true, parseError: null, bytesExamined: 600 });
  });
});

describe("diffs", () => {
  const gitDiff = [
    "diff --git a/src/app.ts b/src/app.ts",
    "index 1111111..2222222 100644",
    "--- a/src/app.ts",
    "+++ b/src/app.ts",
    "@@ -1,4 +1,5 @@",
    " import x from 'x';",
    "--- a line that was removed and looks like a header",
    "+const added = 1;",
    "+const other = 2;",
    " export default x;",
    "@@ -10 +11 @@",
    "-old",
    "+new",
    "diff --git a/docs/old.md b/docs/new.md",
    "similarity index 95%",
    "rename from docs/old.md",
    "rename to docs/new.md",
    "diff --git a/gone.txt b/gone.txt",
    "deleted file mode 100644",
    "--- a/gone.txt",
    "+++ /dev/null",
    "@@ -1,2 +0,0 @@",
    "-a",
    "-b",
    "diff --git a/logo.png b/logo.png",
    "new file mode 100644",
    "Binary files /dev/null and b/logo.png differ",
    "",
  ].join("\n");

  test("git diff: files with added/removed counts, renames, deletions, binaries; hunk counts tell content from headers", () => {
    const { summary, files } = extract("diff", gitDiff, 5);
    expect(summary).toMatchObject({ kind: "diff", files: 4, added: 3, removed: 4, parseError: null });
    expect(files).toMatchObject([
      { path: "src/app.ts", oldPath: null, status: "modified", added: 3, removed: 2, binary: false },
      { path: "docs/new.md", oldPath: "docs/old.md", status: "renamed", added: 0, removed: 0, binary: false },
      { path: "gone.txt", oldPath: null, status: "deleted", added: 0, removed: 2, binary: false },
      { path: "logo.png", oldPath: null, status: "added", added: 0, removed: 0, binary: true },
    ]);
  });

  test("plain diff -u output (no git header, timestamps after a tab)", () => {
    const plain = "--- a.txt.orig\t2026-11-29 12:00:00\n+++ a.txt\t2026-11-29 12:01:00\n@@ -1 +1,2 @@\n-x\n+y\n+z\n";
    expect(extract("diff", plain).files).toMatchObject([
      { path: "a.txt", oldPath: null, status: "modified", added: 2, removed: 1, binary: false },
    ]);
  });

  test("git's extended headers: copies, mode changes, similarity, a binary file's size; diff -ruN loses its top directory", () => {
    const diff = [
      "diff --git a/bin/run b/bin/run",
      "old mode 100644",
      "new mode 100755",
      "diff --git a/src/a.ts b/src/b.ts",
      "similarity index 92%",
      "copy from src/a.ts",
      "copy to src/b.ts",
      "--- a/src/a.ts",
      "+++ b/src/b.ts",
      "@@ -1 +1 @@",
      "-x",
      "+y",
      "diff --git a/logo.png b/logo.png",
      "index 0000000..4b825dc 100644",
      "GIT binary patch",
      "literal 343040",
      "zcmeIuF#!Mo0K%a4Pi+hZR7O+",
      "",
      "literal 0",
      "HcmV?d00001",
      "",
      "diff -ruN old/src/x.ts new/src/x.ts",
      "--- old/src/x.ts\t2026-11-29 12:00:00",
      "+++ new/src/x.ts\t2026-11-29 12:01:00",
      "@@ -0,0 +1 @@",
      "+z",
      "",
    ].join("\n");
    expect(extract("diff", diff, 7).files).toMatchObject([
      { path: "bin/run", status: "modified", oldMode: "100644", newMode: "100755" },
      { path: "src/b.ts", oldPath: "src/a.ts", status: "copied", similarity: 92, added: 1, removed: 1 },
      { path: "logo.png", binary: true, binarySize: 343040 },
      { path: "src/x.ts", status: "modified", added: 1 },
    ]);
  });

  test("content that is not a diff is stored and flagged", () => {
    expect(extract("diff", "hello\nworld\n").summary).toMatchObject({
      files: 0,
      parseError: "no unified-diff file sections found",
    });
    expect(extract("diff", "").summary.parseError).toBeNull();
  });
});

describe("logs", () => {
  test("line, error and warning counts with the documented patterns; a line counts once, errors win", () => {
    const log = [
      "INFO starting", // 1
      "WARN disk almost full", // 2 warning
      "warning: unused variable and then ERROR", // 3 error (both on one line)
      "TypeError: cannot read x", // 4 error
      "built with 0 errors", // 5 neither: 'errors' is not a pattern
      "npm ERR! code 1", // 6 error
      "error[E0308]: mismatched types", // 7 error
      "DeprecationWarning: old api", // 8 warning
      "Traceback (most recent call last):", // 9 error
      "INFO: no ERRORS here", // 10 neither
      "last line without newline FATAL", // 11 error
    ].join("\n");
    const { summary } = extract("log", log, 3);
    expect(summary).toMatchObject({ kind: "log", lines: 11, errors: 6, warnings: 2, firstErrorLine: 3 });
    if (summary.kind !== "log") throw new Error("not a log summary");
    expect(summary.firstErrors.map((entry) => entry.line)).toEqual([3, 4, 6, 7, 9, 11]);
  });

  test("UTF-8 error lines keep their text, whatever the chunking", () => {
    const log = "ok\nERROR: café ☕ failed\nend\n";
    for (const size of [1, 2, 3, 1024]) {
      const { summary } = extract("log", log, size);
      if (summary.kind !== "log") throw new Error("not a log summary");
      expect(summary.firstErrors).toEqual([{ line: 2, text: "ERROR: café ☕ failed" }]);
      expect(summary.lines).toBe(3);
    }
  });

  test("the cap bounds the bytes read; counts cover what was read", () => {
    const log = "ERROR one\n".repeat(1000);
    expect(extract("log", log, 100, 5000).summary).toMatchObject({
      lines: 500,
      errors: 500,
      truncated: true,
      bytesExamined: 5000,
    });
  });

  test("GitHub annotations, npm's lowercase levels, tsc, node's coded errors, go and ESLint; colour codes do not hide words", () => {
    const log = [
      "::error file=app.js,line=1::Missing semicolon", // 1 error
      "::warning::Node.js 16 actions are deprecated", // 2 warning
      "npm error code ELIFECYCLE", // 3 error
      "npm warn deprecated glob@7.2.3: Error: old", // 4 warning (the level is stated)
      "src/a.ts(3,7): error TS2769: No overload matches this call.", // 5 error
      'TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension ".ts"', // 6 error
      "--- FAIL: TestParse (0.00s)", // 7 error
      "  12:5  error  'x' is never reassigned  prefer-const", // 8 error
      "  3:1  warning  Unexpected console statement  no-console", // 9 warning
      "\u001b[31mERROR\u001b[39m build broke", // 10 error
      "type SOME_ERROR_CODE = 1", // 11 neither
      "logger.log(LogLevel.ERROR, msg); type Level = 'ERROR' | 'WARN';", // 12 neither: names in code
      " ERR_PNPM_PEER_DEP_ISSUES  Unmet peer dependencies", // 13 error
      "FAILURE: Build failed with an exception.", // 14 error
      "[WARNING] Using platform encoding", // 15 warning (Maven)
    ].join("\n");
    const { summary } = extract("log", log, 5);
    if (summary.kind !== "log") throw new Error("not a log summary");
    expect(summary.firstErrors.map((entry) => entry.line)).toEqual([1, 3, 5, 6, 7, 8, 10, 13, 14]);
    expect(summary.warnings).toBe(4);
    expect(summary.firstErrors[6]?.text).toBe("ERROR build broke");
  });

  test("types without structure and extraction switched off have no extractor", () => {
    expect(createStructureExtractor("coverage")).toBeUndefined();
    expect(createStructureExtractor("log", { enabled: false })).toBeUndefined();
  });
});

/**
 * The extractors on real artifacts nobody here wrote (test/corpus/real/, sources in SOURCES.md):
 * each file's counts must equal its producer's own summary (JUnit's tests=/failures=, node's
 * `# tests`, git's "N files changed", GitHub's annotations), or an independent count where the
 * producer writes none. Each file is also read one byte at a time, which must change nothing.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createStructureExtractor } from "../../src/core/structure/extract.ts";
import type { DiffSummary, ExtractedStructure, LogSummary, TestSummary } from "../../src/core/structure/types.ts";

const corpus = join(import.meta.dir, "..", "corpus", "real");

function extract(type: string, file: string, chunkSize?: number): ExtractedStructure {
  const extractor = createStructureExtractor(type);
  if (!extractor) throw new Error(`no extractor for ${type}`);
  const bytes = readFileSync(join(corpus, file));
  const size = chunkSize ?? bytes.length;
  for (let offset = 0; offset < bytes.length; offset += size) extractor.write(bytes.subarray(offset, offset + size));
  return extractor.finish();
}

/** file → the producer's summary: total, passed, failed, skipped, flaky. */
const TEST_REPORTS: [file: string, format: string, counts: [number, number, number, number, number]][] = [
  ["junit/surefire-flaky.xml", "junit", [1, 1, 0, 0, 1]],
  ["junit/surefire-rerun-flaky.xml", "junit", [4, 2, 2, 0, 2]],
  ["junit/surefire-mixed-flaky.xml", "junit", [3, 3, 0, 0, 1]],
  ["junit/nextest-basic.xml", "junit", [3, 2, 1, 0, 0]],
  ["junit/catch2-report.xml", "junit", [1, 0, 1, 0, 0]],
  ["junit/mocha-junit-reporter.xml", "junit", [1, 1, 0, 0, 0]],
  ["junit/c-unity-report.xml", "junit", [4, 3, 1, 0, 0]],
  ["junit/perl-tap-junit.xml", "junit", [1, 1, 0, 0, 0]],
  ["junit/go-junit-report.xml", "junit", [5, 2, 2, 1, 0]],
  ["junit/testmo-nested.xml", "junit", [9, 8, 1, 0, 0]],
  ["junit/pytest-tb-short.xml", "junit", [1, 0, 1, 0, 0]],
  ["junit/jest-junit-suite-failed.xml", "junit", [2, 0, 2, 0, 0]],
  ["tap/node-name-pattern.tap", "tap", [24, 14, 0, 10, 0]],
  ["tap/node-skip-pattern.tap", "tap", [3, 1, 0, 2, 0]],
  ["tap/node-sub-tests.tap", "tap", [4, 2, 0, 2, 0]],
  ["tap/node-flaky.tap", "tap", [6, 5, 1, 0, 2]],
  ["json/ctrf-playwright-shard-1.json", "ctrf", [53, 21, 3, 29, 0]],
];

/** file → git's own stat line (or an independent count): files, insertions, deletions, commits. */
const DIFFS: [file: string, counts: [number, number, number, number]][] = [
  ["diff/git-format-patch-side.patch", [3, 9, 0, 1]],
  ["diff/git-format-patch-cover-letter.patch", [4, 10, 3, 3]],
  ["diff/git-show-side.diff", [3, 9, 0, 1]],
  ["diff/git-log-p-main.diff", [5, 19, 3, 5]],
  ["diff/diff-ruN-logrotate.patch", [1, 7, 0, 0]],
  ["diff/lkml-diff-ruN-mail.patch", [1, 5, 0, 1]],
];

/** file → error lines, warning lines (GitHub's annotations, tsc's "Found N error", node's own count). */
const LOGS: [file: string, counts: [number, number]][] = [
  ["log/gha-deprecated-artifact.log", [1, 0]],
  ["log/gh-run-view-eslint.log", [2, 7]],
  ["log/tsc-build-ts4094.log", [1, 0]],
  ["log/node-assertion-error-exit.log", [1, 0]],
  ["log/node-unhandled-rejection-warning.log", [0, 2]],
  ["log/node-test-spec-color-tty.log", [1, 0]],
  // go test: `--- FAIL:` and the FAIL lines (go's summary: 1 failing test, 1 failing package).
  ["log/go-test-pass-fail-skip.log", [4, 0]],
  // go test with build failures: three compile errors and three FAIL lines.
  ["log/go-test-build-failed.log", [6, 0]],
];

describe("the real-world corpus", () => {
  test("every file in the corpus is checked here and named in SOURCES.md", () => {
    const sources = readFileSync(join(corpus, "SOURCES.md"), "utf8");
    const files = readdirSync(corpus, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .flatMap((dir) => readdirSync(join(corpus, dir.name)).map((name) => `${dir.name}/${name}`));
    const checked = [...TEST_REPORTS, ...DIFFS, ...LOGS]
      .map(([file]) => file)
      .concat("other/dotnet-trx-run-aborted.trx");
    expect(files.sort()).toEqual(checked.sort());
    for (const file of files) expect(sources).toContain(`| ${file} |`);
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  test("test reports: totals equal each producer's summary, whole or a byte at a time", () => {
    for (const [file, format, [total, passed, failed, skipped, flaky]] of TEST_REPORTS) {
      const whole = extract("test", file);
      const summary = whole.summary as TestSummary;
      expect({ file, format: summary.format, total: summary.total, passed: summary.passed }).toEqual({
        file,
        format: format as TestSummary["format"],
        total,
        passed,
      });
      expect({ file, failed: summary.failed, skipped: summary.skipped, flaky: summary.flaky ?? 0 }).toEqual({
        file,
        failed,
        skipped,
        flaky,
      });
      expect(summary.parseError).toBeNull();
      expect(extract("test", file, 1)).toEqual(whole);
    }
  });

  test("a failure keeps its whole message and stack, output is kept, skipped tests have no duration", () => {
    const nextest = extract("test", "junit/nextest-basic.xml").tests;
    expect(nextest[0]?.message).toContain("assertion `left == right` failed: 0 must equal 1");
    expect(nextest[0]?.stdout).toContain("test result: FAILED. 0 passed; 1 failed");
    expect(nextest[0]?.stderr).toContain("panicked at tests/parry3d.rs:154:5");
    const rerun = extract("test", "junit/surefire-rerun-flaky.xml").tests;
    expect(rerun.map((test) => [test.name, test.status, test.flaky, test.retries])).toEqual([
      ["throwsAlways", "failed", false, 3],
      ["failsAssertionAlways", "failed", false, 3],
      ["failsAssertionOnlyFirstAttempt", "passed", true, 1],
      ["throwsOnlyFirstAttempt", "passed", true, 1],
    ]);
    expect(rerun[0]?.message).toContain("at example.ExampleTests.throwsAlways(ExampleTests.java:26)");
    const go = extract("test", "junit/go-junit-report.xml").tests;
    expect(go.find((test) => test.status === "skipped")?.durationMs).toBeNull();
    expect(go.find((test) => test.name === "TestPackage3-2")?.durationMs).toBe(160);
    const tap = extract("test", "tap/node-flaky.tap").tests;
    expect(tap.find((test) => test.name === "flaky test that passes on retry")).toMatchObject({
      flaky: true,
      retries: 2,
    });
    expect(tap.find((test) => test.status === "failed")?.message).toStartWith("Always fails (attempt 4)");
    // node's snapshot writes `duration_ms: *`: not a measured duration.
    expect(tap.every((test) => test.durationMs === null)).toBe(true);
  });

  test("TRX is named as unsupported, not read as a broken JUnit report", () => {
    const { summary } = extract("test", "other/dotnet-trx-run-aborted.trx");
    expect(summary).toMatchObject({ kind: "test", format: null, total: 0 });
    expect(summary.parseError).toStartWith("a TRX report (Visual Studio / dotnet test --logger trx) is not supported");
  });

  test("diffs: files, insertions and deletions equal git's stat; one commit entry per commit", () => {
    for (const [file, [files, added, removed, commits]] of DIFFS) {
      const whole = extract("diff", file);
      const summary = whole.summary as DiffSummary;
      expect({ file, files: summary.files, added: summary.added, removed: summary.removed }).toEqual({
        file,
        files,
        added,
        removed,
      });
      expect({ file, commits: summary.commits?.length ?? 0 }).toEqual({ file, commits });
      expect(summary.parseError).toBeNull();
      expect(extract("diff", file, 1)).toEqual(whole);
    }
  });

  test("commit subject, message, author and date from format-patch, git show and git log -p", () => {
    const patch = extract("diff", "diff/git-format-patch-cover-letter.patch").summary as DiffSummary;
    expect(patch.commits?.map((commit) => [commit.subject, commit.author, commit.files, commit.added])).toEqual([
      ["*** SUBJECT HERE ***", "C O Mitter <committer@example.com>", 0, 0],
      ["Second", "A U Thor <author@example.com>", 3, 5],
      ["Third", "A U Thor <author@example.com>", 2, 5],
    ]);
    expect(patch.commits?.[1]).toMatchObject({
      hash: "1bde4ae5f36c8d9abe3a0fce0c6aab3c4a12fe44",
      date: "Mon, 26 Jun 2006 00:01:00 +0000",
      body: "This is the second commit.",
    });
    const log = extract("diff", "diff/git-log-p-main.diff");
    const commits = (log.summary as DiffSummary).commits ?? [];
    expect(commits.map((commit) => commit.subject)).toEqual([
      "Merge branch 'side'",
      "Side",
      "Third",
      "Second",
      "Initial",
    ]);
    expect(commits[3]).toMatchObject({ body: "This is the second commit.", date: "Mon Jun 26 00:01:00 2006 +0000" });
    expect(log.files.map((file) => [file.commit, file.path, file.status])).toEqual([
      [1, "dir/sub", "modified"],
      [1, "file0", "modified"],
      [1, "file3", "added"],
      [2, "dir/sub", "modified"],
      [2, "file1", "added"],
      [3, "dir/sub", "modified"],
      [3, "file0", "modified"],
      [3, "file2", "deleted"],
    ]);
    const mail = extract("diff", "diff/lkml-diff-ruN-mail.patch").summary as DiffSummary;
    expect(mail.commits?.[0]).toMatchObject({
      subject: "[DOC] kerneldoc for handle_bad_irq()",
      author: "Henne <henne@nachtwindheim.de>",
    });
  });

  test("diff -ruN paths lose their top-level directory as with git apply -p1, also with mailed timestamps", () => {
    expect(extract("diff", "diff/diff-ruN-logrotate.patch").files.map((file) => file.path)).toEqual(["config.h"]);
    expect(extract("diff", "diff/lkml-diff-ruN-mail.patch").files.map((file) => file.path)).toEqual([
      "kernel/irq/handle.c",
    ]);
  });

  test("logs: error and warning lines match the annotations and each tool's own count", () => {
    for (const [file, [errors, warnings]] of LOGS) {
      const whole = extract("log", file);
      const summary = whole.summary as LogSummary;
      expect({ file, errors: summary.errors, warnings: summary.warnings }).toEqual({ file, errors, warnings });
      expect(extract("log", file, 1)).toEqual(whole);
      // The first error line starts at the recorded byte offset (what the viewer reads with a Range request).
      const content = readFileSync(join(corpus, file));
      const lineAtOffset =
        summary.firstErrorOffset == null
          ? null
          : new TextDecoder().decode(content.subarray(summary.firstErrorOffset)).split("\n")[0];
      const lineByNumber =
        summary.firstErrorLine === null ? null : content.toString("utf8").split("\n")[summary.firstErrorLine - 1];
      expect({ file, line: lineAtOffset }).toEqual({ file, line: lineByNumber ?? null });
    }
    const tsc = extract("log", "log/tsc-build-ts4094.log").summary as LogSummary;
    expect(tsc.firstErrors[0]?.text).toStartWith("src/a.ts:1:14 - error TS4094:");
    const colour = extract("log", "log/node-test-spec-color-tty.log").summary as LogSummary;
    // Colour codes are gone from the stored line, and did not hide the error.
    expect(colour.firstErrors[0]?.text).toBe(
      "  [AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
    );
    const github = extract("log", "log/gha-deprecated-artifact.log").summary as LogSummary;
    expect(github.firstErrorLine).toBe(24);
  });
});

/**
 * The structure the store extracts from artifacts while they upload, as records: what a reviewer
 * asks first (which files, how many errors, which tests failed) without downloading the content.
 * The extractors (`src/core/structure/`) produce them, the metadata database stores them, the
 * viewer and the API show them.
 */

/** Fields every summary has. */
export interface SummaryCommon {
  /** Content bytes the extractor read (at most the extraction cap). */
  bytesExamined: number;
  /** True when the content was longer than the cap, or had more entries than are kept: figures cover what was read. */
  truncated: boolean;
  /** Why the content could not be read as its type (malformed report, not a diff); null when it could. */
  parseError: string | null;
}

/** A log: line count and lines that look like errors or warnings (see `log.ts` for the patterns). */
export interface LogSummary extends SummaryCommon {
  kind: "log";
  lines: number;
  /** Lines matching the error pattern. */
  errors: number;
  /** Lines matching the warning pattern and not the error pattern. */
  warnings: number;
  /** 1-based number of the first error line, or null. */
  firstErrorLine: number | null;
  /** Byte offset in the content where the first error line starts: its context is one Range read away. */
  firstErrorOffset?: number | null;
  /** The first error lines (at most 20, each cut at 300 characters). */
  firstErrors: { line: number; text: string }[];
}

/** A unified diff: files touched and lines added/removed. */
export interface DiffSummary extends SummaryCommon {
  kind: "diff";
  /** Distinct paths touched (a file changed by two commits of a `git log -p` counts once). */
  files: number;
  added: number;
  removed: number;
  /**
   * The commits of `git show`, `git format-patch` or `git log -p` input, in input order (at most
   * 200; absent for a plain diff). A file entry's `commit` is an index into this list.
   */
  commits?: DiffCommit[];
}

/** One commit of a diff made by `git show`, `git format-patch` or `git log -p`. */
export interface DiffCommit {
  /** The commit id, when the input names it. */
  hash: string | null;
  /** `Name <email>`. */
  author: string | null;
  /** As the input writes it (RFC 2822 for format-patch, git's default format for show/log). */
  date: string | null;
  /** The first line of the message, without format-patch's `[PATCH n/m]` prefix. */
  subject: string;
  /** The rest of the message (at most 4 KiB), without the diffstat. */
  body: string;
  files: number;
  added: number;
  removed: number;
}

/** Report formats the test extractor reads. */
export type TestReportFormat = "junit" | "jest" | "pytest-json" | "ctrf" | "tap";

/** A test report: totals over the per-test outcomes. */
export interface TestSummary extends SummaryCommon {
  kind: "test";
  /** The report format recognised, or null when none was. */
  format: TestReportFormat | null;
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  /** Tests that failed at first and passed on a retry (counted as passed too). */
  flaky?: number;
  /** Sum of the test durations, when the report gives them. */
  durationMs: number | null;
}

export type ArtifactSummary = LogSummary | DiffSummary | TestSummary;

export type DiffFileStatus = "added" | "deleted" | "modified" | "renamed" | "copied";

/** One file of a diff. */
export interface DiffFileEntry {
  /** Path after the change (before it, for a deleted file). */
  path: string;
  /** Path before a rename or the source of a copy, else null. */
  oldPath: string | null;
  status: DiffFileStatus;
  added: number;
  removed: number;
  binary: boolean;
  /** Size in bytes of a binary file after the change, when the diff says it (`GIT binary patch`: `literal N`). */
  binarySize?: number | null;
  /** File modes (`100644`, `100755`, `120000`) when the diff names them: a mode change, a new or deleted file. */
  oldMode?: string | null;
  newMode?: string | null;
  /** `similarity index` of a rename or copy, in percent. */
  similarity?: number | null;
  /** Index into the summary's `commits` of the commit that changed the file, or null for a plain diff. */
  commit?: number | null;
}

export type TestStatus = "passed" | "failed" | "skipped";

/** Orders of a report's tests: as reported, failures first (then passed, then skipped), or slowest first. */
export type TestCaseOrder = "report" | "failures-first" | "duration";

/** One test of a report. */
export interface TestCaseEntry {
  /** Enclosing suites joined with " › " (file, describe blocks, class), possibly empty. */
  suite: string;
  /** The test's own name. */
  name: string;
  /** Errors count as failed; todo, pending, xfail count as skipped. */
  status: TestStatus;
  /** Only when the report measured it: a skipped test's `time="0"` is not a duration. */
  durationMs: number | null;
  /** Failure or skip message with its stack trace (at most 8 KiB). */
  message: string | null;
  /** Failed at first and passed on a retry (Surefire `flakyFailure`, node's `# FLAKY`, CTRF `flaky`). */
  flaky?: boolean;
  /** Times the test was run again (Surefire `rerunFailure`s, node's `# FLAKY n re-tries`, CTRF `retries`). */
  retries?: number;
  /** What the test printed, when the report keeps it (at most 4 KiB each). */
  stdout?: string | null;
  stderr?: string | null;
}

/** What an upload hands the metadata: the summary and its detail rows. */
export interface ExtractedStructure {
  summary: ArtifactSummary;
  files: DiffFileEntry[];
  tests: TestCaseEntry[];
}

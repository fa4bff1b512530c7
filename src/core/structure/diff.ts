/**
 * Diff extraction: files touched with lines added and removed, from unified diffs as `git diff`,
 * `git show`, `git log -p`, `git format-patch`, `diff -u` and `diff -ruN` write them. Hunk
 * headers give the line counts, so a removed line that starts with `--` is never taken for a
 * file header.
 *
 * - git's extended headers are read: `rename from/to`, `copy from/to`, `similarity index`,
 *   `old/new mode`, `new/deleted file mode`; a pure rename (no hunk) is a file of its own.
 * - Binary files are flagged; `GIT binary patch` gives the new content's size (`literal N`).
 * - Commit headers around the diffs (see `diff-commits.ts`) become the summary's `commits`.
 * - A recursive `diff -ruN old/src new/src` names every file under its top-level directories;
 *   their first path component is stripped as `git apply -p1` does, so `new/src/app.ts` is
 *   `src/app.ts` (git's `a/` and `b/` are stripped the same way).
 */
import { createCommitReader } from "./diff-commits.ts";
import { createLineReader } from "./lines.ts";
import {
  cap,
  type DiffFileEntry,
  type DiffSummary,
  type ExtractedStructure,
  LIMITS,
  type StructureExtractor,
} from "./types.ts";

const HUNK_HEADER = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/;
const GIT_HEADER = /^diff --git (?:"?a\/)?(.+?)"? (?:"?b\/)?(.+?)"?$/;
/** git's extended headers that describe the change itself (not `index`, whose hashes differ between attempts). */
const CHANGE_HEADER =
  /^(?:(?:new file mode|deleted file mode|old mode|new mode|rename from|rename to|copy from|copy to|Binary files) |GIT binary patch$)/;
/** `diff -ruN old/x new/x` (GNU diff's line before each file of a recursive diff). */
const DIFF_COMMAND = /^diff (?:-{1,2}\S+ )+(\S+) (\S+)$/;
/** A header's timestamp when a mailer turned diff's tab into spaces. */
const SPACED_TIMESTAMP =
  /\s{2,}(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4})?|\w{3} \w{3} +\d+ [\d:]+ \d{4})\s*$/;

/** `--- a/path\t2026-…` → `path`; `/dev/null` → null. `stripFirst`: drop the first path component (-p1). */
function headerPath(rest: string, stripFirst: boolean): string | null {
  let path = rest.includes("\t") ? (rest.split("\t")[0] ?? "") : rest.replace(SPACED_TIMESTAMP, "");
  if (path.startsWith('"') && path.endsWith('"')) path = path.slice(1, -1);
  if (path === "/dev/null") return null;
  if (stripFirst) path = stripComponent(path);
  else if (path.startsWith("a/") || path.startsWith("b/")) path = path.slice(2);
  return cap(path.trim(), LIMITS.path);
}

function stripComponent(path: string): string {
  const slash = path.indexOf("/");
  return slash === -1 ? path : path.slice(slash + 1);
}

interface FileState extends DiffFileEntry {
  /** Opened by `diff --git` (true) or by `diff -r…` (false) rather than by a `---` header. */
  fromGitHeader: boolean;
  fromDiffCommand: boolean;
  sawOldHeader: boolean;
  binaryNext: boolean;
  inBinaryPatch: boolean;
}

export interface DiffExtractorOptions {
  /**
   * Sees each line that is part of a file's change (hunk lines without their line numbers, and
   * git's extended headers), with the index of the file in `files` order: what a comparison of
   * two diffs fingerprints.
   */
  onChangeLine?: (fileIndex: number, line: string) => void;
}

/** Where the extractor is in the diff. */
interface DiffState {
  readonly onChangeLine: DiffExtractorOptions["onChangeLine"];
  readonly files: DiffFileEntry[];
  readonly commits: ReturnType<typeof createCommitReader>;
  readonly distinct: Set<string>;
  fileCount: number;
  added: number;
  removed: number;
  truncated: boolean;
  current: FileState | null;
  oldRemaining: number;
  newRemaining: number;
  bytes: number;
  sawContent: boolean;
}

export function createDiffExtractor(options: DiffExtractorOptions = {}): StructureExtractor {
  const state: DiffState = {
    onChangeLine: options.onChangeLine,
    files: [],
    commits: createCommitReader(),
    distinct: new Set<string>(),
    fileCount: 0,
    added: 0,
    removed: 0,
    truncated: false,
    current: null,
    oldRemaining: 0,
    newRemaining: 0,
    bytes: 0,
    sawContent: false,
  };
  const reader = createLineReader((line) => readLine(state, line));
  return {
    write(chunk) {
      state.bytes += chunk.length;
      reader.write(chunk);
    },
    finish(): ExtractedStructure {
      reader.end();
      closeFile(state);
      state.commits.finish();
      return summarize(state);
    },
  };
}

function summarize(state: DiffState): ExtractedStructure {
  const { commits, distinct, fileCount } = state;
  const summary: DiffSummary = {
    kind: "diff",
    files: distinct.size < LIMITS.files * 2 ? distinct.size : fileCount,
    added: state.added,
    removed: state.removed,
    bytesExamined: state.bytes,
    truncated: state.truncated || commits.count() > commits.commits.length,
    parseError:
      fileCount === 0 && commits.count() === 0 && state.sawContent ? "no unified-diff file sections found" : null,
  };
  if (commits.commits.length > 0) summary.commits = commits.commits;
  return { summary, files: state.files, tests: [] };
}

/** Ends the file being read: counted, and listed while the list has room. */
function closeFile(state: DiffState): void {
  const current = state.current;
  if (!current) return;
  state.fileCount++;
  if (state.distinct.size < LIMITS.files * 2) state.distinct.add(current.path);
  state.commits.addFile(current.commit ?? null, current.added, current.removed);
  if (state.files.length < LIMITS.files) {
    const {
      fromGitHeader,
      fromDiffCommand: _command,
      sawOldHeader: _old,
      binaryNext: _binary,
      inBinaryPatch: _data,
      ...entry
    } = current;
    // Plain `diff -u` names often differ (file.orig vs file) without a rename; git says so.
    if (fromGitHeader && entry.status === "modified" && entry.oldPath !== null && entry.oldPath !== entry.path)
      entry.status = "renamed";
    if (entry.status !== "renamed" && entry.status !== "copied") entry.oldPath = null;
    state.files.push(entry);
  } else state.truncated = true;
  state.current = null;
}

function startFile(state: DiffState, path: string, oldPath: string | null, opener: "git" | "command" | "header"): void {
  closeFile(state);
  state.current = {
    path,
    oldPath,
    status: "modified",
    added: 0,
    removed: 0,
    binary: false,
    binarySize: null,
    oldMode: null,
    newMode: null,
    similarity: null,
    commit: state.commits.current(),
    fromGitHeader: opener === "git",
    fromDiffCommand: opener === "command",
    sawOldHeader: false,
    binaryNext: false,
    inBinaryPatch: false,
  };
}

/** A line inside a hunk; false when the hunk ended early (a truncated hunk) and the line is a header. */
function hunkLine(state: DiffState, line: string): boolean {
  const first = line.charCodeAt(0);
  const current = state.current;
  if (state.onChangeLine && current && (first === 0x2b || first === 0x2d || first === 0x20 || line.length === 0))
    state.onChangeLine(state.fileCount, line);
  if (first === 0x2b /* + */) {
    state.newRemaining--;
    state.added++;
    if (current) current.added++;
    return true;
  }
  if (first === 0x2d /* - */) {
    state.oldRemaining--;
    state.removed++;
    if (current) current.removed++;
    return true;
  }
  if (first === 0x20 /* space */ || line.length === 0) {
    state.oldRemaining--;
    state.newRemaining--;
    return true;
  }
  if (first === 0x5c /* \ No newline at end of file */) return true;
  state.oldRemaining = 0;
  state.newRemaining = 0;
  return false;
}

/** git's extended headers of the file being read. */
function fileHeader(state: DiffState, file: FileState, line: string): void {
  // A binary patch's data lines (base85 after `literal N`) are part of the change too.
  if (state.onChangeLine && (file.inBinaryPatch || CHANGE_HEADER.test(line))) state.onChangeLine(state.fileCount, line);
  if (file.binaryNext) {
    file.binaryNext = false;
    const literal = /^literal (\d+)$/.exec(line);
    if (literal) file.binarySize = Number(literal[1]);
  }
  if (line.startsWith("new file mode ")) {
    file.status = "added";
    file.newMode = line.slice(14).trim();
  } else if (line.startsWith("deleted file mode ")) {
    file.status = "deleted";
    file.oldMode = line.slice(18).trim();
  } else if (line.startsWith("old mode ")) file.oldMode = line.slice(9).trim();
  else if (line.startsWith("new mode ")) file.newMode = line.slice(9).trim();
  else if (line.startsWith("rename from ")) {
    file.status = "renamed";
    file.oldPath = cap(line.slice(12), LIMITS.path);
  } else if (line.startsWith("rename to ")) file.path = cap(line.slice(10), LIMITS.path);
  else if (line.startsWith("copy from ")) {
    file.status = "copied";
    file.oldPath = cap(line.slice(10), LIMITS.path);
  } else if (line.startsWith("copy to ")) file.path = cap(line.slice(8), LIMITS.path);
  else if (line.startsWith("similarity index ")) file.similarity = Number.parseInt(line.slice(17), 10) || null;
  else if (line.startsWith("Binary files ")) file.binary = true;
  else if (line === "GIT binary patch") {
    file.binary = true;
    file.binaryNext = true;
    file.inBinaryPatch = true;
  }
}

function readLine(state: DiffState, line: string): void {
  if (line.length > 0) state.sawContent = true;
  if ((state.oldRemaining > 0 || state.newRemaining > 0) && hunkLine(state, line)) return;
  if (state.commits.line(line, state.fileCount > 0 || state.current !== null)) {
    // A new commit, or its message: the file before it has ended.
    if (state.current && state.commits.current() !== state.current.commit) closeFile(state);
    return;
  }
  if (line.startsWith("diff --git ")) {
    const match = GIT_HEADER.exec(line);
    const path = cap(match?.[2] ?? line.slice(11), LIMITS.path);
    startFile(state, path, match?.[1] ? cap(match[1], LIMITS.path) : null, "git");
    return;
  }
  if (line.startsWith("diff -")) {
    const match = DIFF_COMMAND.exec(line);
    if (match) {
      startFile(state, cap(stripComponent(match[2] ?? ""), LIMITS.path), null, "command");
      return;
    }
  }
  if (line.startsWith("@@ ")) {
    const match = HUNK_HEADER.exec(line);
    if (!match) return;
    state.oldRemaining = match[1] === undefined ? 1 : Number(match[1]);
    state.newRemaining = match[2] === undefined ? 1 : Number(match[2]);
    return;
  }
  if (line.startsWith("--- ")) oldHeader(state, line);
  else if (line.startsWith("+++ ") && state.current) newHeader(state.current, line);
  else if (state.current) fileHeader(state, state.current, line);
}

/** `--- a/path`: opens a file unless `diff --git` or `diff -r` already did. */
function oldHeader(state: DiffState, line: string): void {
  const opened = state.current;
  const path = headerPath(line.slice(4), opened?.fromDiffCommand === true);
  if (!opened || (!opened.fromGitHeader && !opened.fromDiffCommand) || opened.sawOldHeader)
    startFile(state, path ?? "", path, "header");
  const file = state.current as FileState | null;
  if (!file) return;
  file.sawOldHeader = true;
  if (path === null) file.status = "added";
  else file.oldPath = path;
}

/** `+++ b/path`: the new path, or `/dev/null` for a deleted file. */
function newHeader(file: FileState, line: string): void {
  const path = headerPath(line.slice(4), file.fromDiffCommand);
  if (path === null) {
    file.status = "deleted";
    file.path = file.oldPath ?? file.path;
  } else file.path = path;
}

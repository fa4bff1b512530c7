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

export function createDiffExtractor(options: DiffExtractorOptions = {}): StructureExtractor {
  const { onChangeLine } = options;
  const files: DiffFileEntry[] = [];
  const commits = createCommitReader();
  const distinct = new Set<string>();
  let fileCount = 0;
  let added = 0;
  let removed = 0;
  let truncated = false;
  let current: FileState | null = null;
  let oldRemaining = 0;
  let newRemaining = 0;
  let bytes = 0;
  let sawContent = false;

  const close = () => {
    if (!current) return;
    fileCount++;
    if (distinct.size < LIMITS.files * 2) distinct.add(current.path);
    commits.addFile(current.commit ?? null, current.added, current.removed);
    if (files.length < LIMITS.files) {
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
      files.push(entry);
    } else truncated = true;
    current = null;
  };

  const start = (path: string, oldPath: string | null, opener: "git" | "command" | "header") => {
    close();
    current = {
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
      commit: commits.current(),
      fromGitHeader: opener === "git",
      fromDiffCommand: opener === "command",
      sawOldHeader: false,
      binaryNext: false,
      inBinaryPatch: false,
    };
  };

  /** A line inside a hunk; false when the hunk ended early (a truncated hunk) and the line is a header. */
  const hunkLine = (line: string): boolean => {
    const first = line.charCodeAt(0);
    if (onChangeLine && current && (first === 0x2b || first === 0x2d || first === 0x20 || line.length === 0))
      onChangeLine(fileCount, line);
    if (first === 0x2b /* + */) {
      newRemaining--;
      added++;
      if (current) current.added++;
      return true;
    }
    if (first === 0x2d /* - */) {
      oldRemaining--;
      removed++;
      if (current) current.removed++;
      return true;
    }
    if (first === 0x20 /* space */ || line.length === 0) {
      oldRemaining--;
      newRemaining--;
      return true;
    }
    if (first === 0x5c /* \ No newline at end of file */) return true;
    oldRemaining = 0;
    newRemaining = 0;
    return false;
  };

  const fileHeader = (file: FileState, line: string) => {
    // A binary patch's data lines (base85 after `literal N`) are part of the change too.
    if (onChangeLine && (file.inBinaryPatch || CHANGE_HEADER.test(line))) onChangeLine(fileCount, line);
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
  };

  const onLine = (line: string) => {
    if (line.length > 0) sawContent = true;
    if ((oldRemaining > 0 || newRemaining > 0) && hunkLine(line)) return;
    if (commits.line(line, fileCount > 0 || current !== null)) {
      // A new commit, or its message: the file before it has ended.
      if (current && commits.current() !== current.commit) close();
      return;
    }
    if (line.startsWith("diff --git ")) {
      const match = GIT_HEADER.exec(line);
      const path = cap(match?.[2] ?? line.slice(11), LIMITS.path);
      start(path, match?.[1] ? cap(match[1], LIMITS.path) : null, "git");
      return;
    }
    if (line.startsWith("diff -")) {
      const match = DIFF_COMMAND.exec(line);
      if (match) {
        start(cap(stripComponent(match[2] ?? ""), LIMITS.path), null, "command");
        return;
      }
    }
    if (line.startsWith("@@ ")) {
      const match = HUNK_HEADER.exec(line);
      if (!match) return;
      oldRemaining = match[1] === undefined ? 1 : Number(match[1]);
      newRemaining = match[2] === undefined ? 1 : Number(match[2]);
      return;
    }
    if (line.startsWith("--- ")) {
      const opened = current as FileState | null;
      const path = headerPath(line.slice(4), opened?.fromDiffCommand === true);
      if (!opened || (!opened.fromGitHeader && !opened.fromDiffCommand) || opened.sawOldHeader)
        start(path ?? "", path, "header");
      const file = current as FileState | null;
      if (!file) return;
      file.sawOldHeader = true;
      if (path === null) file.status = "added";
      else file.oldPath = path;
      return;
    }
    if (line.startsWith("+++ ") && current) {
      const path = headerPath(line.slice(4), current.fromDiffCommand);
      if (path === null) {
        current.status = "deleted";
        current.path = current.oldPath ?? current.path;
      } else current.path = path;
      return;
    }
    if (current) fileHeader(current, line);
  };

  const reader = createLineReader(onLine);

  return {
    write(chunk) {
      bytes += chunk.length;
      reader.write(chunk);
    },
    finish(): ExtractedStructure {
      reader.end();
      close();
      commits.finish();
      const summary: DiffSummary = {
        kind: "diff",
        files: distinct.size < LIMITS.files * 2 ? distinct.size : fileCount,
        added,
        removed,
        bytesExamined: bytes,
        truncated: truncated || commits.count() > commits.commits.length,
        parseError:
          fileCount === 0 && commits.count() === 0 && sawContent ? "no unified-diff file sections found" : null,
      };
      if (commits.commits.length > 0) summary.commits = commits.commits;
      return { summary, files, tests: [] };
    },
  };
}

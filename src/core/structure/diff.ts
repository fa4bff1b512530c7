/**
 * Diff extraction: files touched with lines added and removed, from unified diffs as
 * `git diff`, `git format-patch` and `diff -u` write them. Hunk headers give the line counts,
 * so a removed line that starts with `--` is never taken for a file header.
 */
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

/** `--- a/path\t2026-…` → `path`; `/dev/null` → null. */
function headerPath(rest: string): string | null {
  let path = rest.split("\t")[0] ?? "";
  if (path.startsWith('"') && path.endsWith('"')) path = path.slice(1, -1);
  if (path === "/dev/null") return null;
  if (path.startsWith("a/") || path.startsWith("b/")) path = path.slice(2);
  return cap(path.trim(), LIMITS.path);
}

interface FileState extends DiffFileEntry {
  /** Set by `diff --git` or a `---` header; a plain `diff -u` file starts at `---`. */
  fromGitHeader: boolean;
  sawOldHeader: boolean;
}

export function createDiffExtractor(): StructureExtractor {
  const files: DiffFileEntry[] = [];
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
    if (files.length < LIMITS.files) {
      const { fromGitHeader, sawOldHeader: _old, ...entry } = current;
      // Plain `diff -u` names often differ (file.orig vs file) without a rename; git says so.
      if (fromGitHeader && entry.status === "modified" && entry.oldPath !== null && entry.oldPath !== entry.path)
        entry.status = "renamed";
      if (entry.status !== "renamed") entry.oldPath = null;
      files.push(entry);
    } else truncated = true;
    current = null;
  };

  const start = (path: string, oldPath: string | null, fromGitHeader: boolean) => {
    close();
    current = {
      path,
      oldPath,
      status: "modified",
      added: 0,
      removed: 0,
      binary: false,
      fromGitHeader,
      sawOldHeader: false,
    };
  };

  const onLine = (line: string) => {
    if (line.length > 0) sawContent = true;
    if (oldRemaining > 0 || newRemaining > 0) {
      const first = line.charCodeAt(0);
      if (first === 0x2b /* + */) {
        newRemaining--;
        added++;
        if (current) current.added++;
        return;
      }
      if (first === 0x2d /* - */) {
        oldRemaining--;
        removed++;
        if (current) current.removed++;
        return;
      }
      if (first === 0x20 /* space */ || line.length === 0) {
        oldRemaining--;
        newRemaining--;
        return;
      }
      if (first === 0x5c /* \ No newline at end of file */) return;
      // Anything else ends the hunk early (a truncated hunk): read it as a header.
      oldRemaining = 0;
      newRemaining = 0;
    }
    if (line.startsWith("diff --git ")) {
      const match = GIT_HEADER.exec(line);
      const path = cap(match?.[2] ?? line.slice(11), LIMITS.path);
      start(path, match?.[1] ? cap(match[1], LIMITS.path) : null, true);
      return;
    }
    if (line.startsWith("@@ ")) {
      const match = HUNK_HEADER.exec(line);
      if (!match) return;
      oldRemaining = match[1] === undefined ? 1 : Number(match[1]);
      newRemaining = match[2] === undefined ? 1 : Number(match[2]);
      return;
    }
    if (line.startsWith("--- ")) {
      const path = headerPath(line.slice(4));
      if (!current?.fromGitHeader || current.sawOldHeader) start(path ?? "", path, false);
      const file = current as FileState | null;
      if (!file) return;
      file.sawOldHeader = true;
      if (path === null) file.status = "added";
      else file.oldPath = path;
      return;
    }
    if (line.startsWith("+++ ") && current) {
      const path = headerPath(line.slice(4));
      if (path === null) {
        current.status = "deleted";
        current.path = current.oldPath ?? current.path;
      } else current.path = path;
      return;
    }
    if (!current) return;
    if (line.startsWith("new file mode")) current.status = "added";
    else if (line.startsWith("deleted file mode")) current.status = "deleted";
    else if (line.startsWith("rename from ")) current.oldPath = cap(line.slice(12), LIMITS.path);
    else if (line.startsWith("rename to ")) current.path = cap(line.slice(10), LIMITS.path);
    else if (line.startsWith("Binary files ") || line === "GIT binary patch") current.binary = true;
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
      const summary: DiffSummary = {
        kind: "diff",
        files: fileCount,
        added,
        removed,
        bytesExamined: bytes,
        truncated,
        parseError: fileCount === 0 && sawContent ? "no unified-diff file sections found" : null,
      };
      return { summary, files, tests: [] };
    },
  };
}

/**
 * The commit headers around the diffs of `git show`, `git log -p` and `git format-patch` (also
 * a patch mailed by hand: `From:` and `Subject: [PATCH] …` headers): who, when, subject and
 * message of each commit. The diff extractor hands every line outside a diff here first.
 */
import { cap, type DiffCommit, LIMITS } from "./types.ts";

/** `From <sha> Mon Sep 17 00:00:00 2001`: the first line of each format-patch mail. */
const MAIL_START = /^From ([0-9a-f]{7,64}) Mon Sep 17 00:00:00 2001$/;
/** `commit <sha>` of `git show` and `git log` (optionally followed by decorations). */
const LOG_START = /^commit ([0-9a-f]{7,64})\b/;
const MAIL_HEADER = /^(From|Date|Subject): ?(.*)$/;
const LOG_HEADER = /^(Author|Date|AuthorDate|Merge|Commit|CommitDate): *(.*)$/;

type Phase = "headers" | "message" | "stat" | "diff";

interface OpenCommit extends DiffCommit {
  style: "mail" | "log";
  phase: Phase;
  lastHeader: string;
  lines: string[];
  bodyLength: number;
}

/** Strips format-patch's `[PATCH]`, `[PATCH v2 3/7]`, `[RFC PATCH]`, or another `--subject-prefix` with `n/m`. */
function cleanSubject(subject: string): string {
  return subject.replace(/^\[(?:[^\]]*PATCH[^\]]*|[^\]]*\b\d+\/\d+)\]\s*/i, "").trim();
}

/** The commits read so far, and the one being read. */
interface CommitReadState {
  readonly commits: DiffCommit[];
  open: OpenCommit | null;
  /** Commits seen in all, also past the cap. */
  total: number;
}

export function createCommitReader() {
  const state: CommitReadState = { commits: [], open: null, total: 0 };
  const { commits } = state;
  return {
    commits,
    /** Commits seen in all, also past the cap. */
    count: () => state.total,
    /** Index of the commit files belong to now, or null outside any commit. */
    current: (): number | null => (commits.length === 0 ? null : commits.length - 1),
    /**
     * Reads one line outside a hunk. Returns true when the line was a commit header or message
     * line (the diff extractor skips it), false when it may be part of a diff.
     */
    line: (text: string, diffStarted: boolean): boolean => readLine(state, text, diffStarted),
    /** Adds a finished file's counts to the commit it belongs to. */
    addFile(index: number | null, added: number, removed: number) {
      const commit = index === null ? undefined : commits[index];
      if (!commit) return;
      commit.files++;
      commit.added += added;
      commit.removed += removed;
    },
    finish: () => closeCommit(state),
  };
}

function closeCommit(state: CommitReadState): void {
  if (!state.open) return;
  const { style: _style, phase: _phase, lastHeader: _last, lines, bodyLength: _length, ...commit } = state.open;
  while (lines.length > 0 && lines.at(-1)?.trim() === "") lines.pop();
  while (lines.length > 0 && lines[0]?.trim() === "") lines.shift();
  // `git show`/`git log`: the message's first line is the subject.
  if (!commit.subject && lines.length > 0) {
    commit.subject = (lines.shift() ?? "").trim();
    while (lines.length > 0 && lines[0]?.trim() === "") lines.shift();
  }
  commit.body = cap(lines.join("\n"), 4096);
  state.commits[state.commits.length - 1] = commit;
  state.open = null;
}

function startCommit(state: CommitReadState, hash: string | null, style: "mail" | "log"): void {
  closeCommit(state);
  state.total++;
  if (state.commits.length >= LIMITS.commits) return;
  const open: OpenCommit = {
    hash,
    author: null,
    date: null,
    subject: "",
    body: "",
    files: 0,
    added: 0,
    removed: 0,
    style,
    phase: "headers",
    lastHeader: "",
    lines: [],
    bodyLength: 0,
  };
  state.open = open;
  state.commits.push(open);
}

function readLine(state: CommitReadState, text: string, diffStarted: boolean): boolean {
  const mail = MAIL_START.exec(text);
  if (mail) {
    startCommit(state, mail[1] ?? null, "mail");
    return true;
  }
  const log = LOG_START.exec(text);
  if (log) {
    startCommit(state, log[1] ?? null, "log");
    return true;
  }
  // A patch mailed without format-patch's first line: its mail headers, before any diff.
  if (!state.open && !diffStarted && state.commits.length === 0 && /^(?:From|Subject|Date): /.test(text)) {
    startCommit(state, null, "mail");
    if (state.open) readHeader(state.open, text);
    return true;
  }
  const commit = state.open;
  if (!commit) return false;
  if (commit.phase === "headers") {
    readHeader(commit, text);
    return true;
  }
  const startsDiff = /^(?:diff |--- |Index: |Binary files )/.test(text);
  if (commit.phase === "message") return readMessage(commit, text, startsDiff);
  if (commit.phase === "stat") {
    if (!startsDiff) return true;
    commit.phase = "diff";
  }
  return false;
}

/** A header line of the commit (`From:`/`Subject:` of a mail, `Author:`/`Date:` of `git log`). */
function readHeader(commit: OpenCommit, line: string): void {
  if (line.trim() === "") {
    commit.phase = "message";
    return;
  }
  if (commit.style === "mail") {
    if (/^\s/.test(line) && commit.lastHeader === "Subject") {
      commit.subject = `${commit.subject} ${line.trim()}`; // a folded (continued) header
      return;
    }
    const match = MAIL_HEADER.exec(line);
    commit.lastHeader = match?.[1] ?? "";
    if (match?.[1] === "From") commit.author = cap(match[2] ?? "", LIMITS.name);
    else if (match?.[1] === "Date") commit.date = cap(match[2] ?? "", 100);
    else if (match?.[1] === "Subject") commit.subject = cleanSubject(match[2] ?? "");
    return;
  }
  const match = LOG_HEADER.exec(line);
  if (match?.[1] === "Author") commit.author = cap(match[2] ?? "", LIMITS.name);
  else if (match?.[1] === "Date" || match?.[1] === "AuthorDate") commit.date = cap(match[2] ?? "", 100);
}

/** A line of the commit message; false when the diff begins. */
function readMessage(commit: OpenCommit, text: string, startsDiff: boolean): boolean {
  if (commit.style === "log") {
    if (text.startsWith("    ") || text === "") {
      keepMessageLine(commit, text.slice(4), text.length);
      return true;
    }
    commit.phase = "diff";
    return false;
  }
  if (text === "---" || text === "-- ") {
    commit.phase = "stat"; // format-patch's diffstat (or a signature) follows, up to the first diff
    return true;
  }
  if (startsDiff) {
    commit.phase = "diff";
    return false;
  }
  keepMessageLine(commit, text, text.length);
  return true;
}

/** Keeps a message line while the message is under 8 KiB. */
function keepMessageLine(commit: OpenCommit, line: string, length: number): void {
  if (commit.bodyLength < 8192) {
    commit.lines.push(line);
    commit.bodyLength += length;
  }
}

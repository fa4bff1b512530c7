/**
 * Reads a page of a diff: the files `first` to `first + count - 1` (by position, as the extractor
 * counts them) as rows with old and new line numbers, up to `MAX_DIFF_LINES` rendered lines. The
 * reader stops after the page's last file, so the first page of a huge diff reads little.
 */
import type { Child } from "hono/jsx";
import { scanLines } from "./view-log.tsx";

/** Files rendered per page. */
export const DIFF_FILES_PER_PAGE = 20;
/** Lines of diff rendered per page at most; a file past it is cut with a note. */
export const MAX_DIFF_LINES = 10_000;

export type DiffRow =
  | { kind: "hunk"; text: string }
  | { kind: "add" | "del" | "ctx"; oldLine: number | null; newLine: number | null; text: string; words?: Child }
  | { kind: "meta"; text: string };

export type LineRow = Extract<DiffRow, { oldLine: number | null }>;

export interface RenderedFile {
  /** Position of the file in the diff (0-based): the same as in the extracted file list. */
  index: number;
  path: string;
  header: string[];
  rows: DiffRow[];
  /** The page's line budget ran out inside this file. */
  cut: boolean;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const DIFF_COMMAND = /^diff (?:-{1,2}\S+ )+\S+ \S+$/;

type Opener = "git" | "command" | "header";

/** Where the reader is in the diff. */
interface DiffReadState {
  readonly files: RenderedFile[];
  /** Position of the file being read (-1 before the first). */
  index: number;
  /** The file being read when it is on the page, else null. */
  current: RenderedFile | null;
  /** How the file being read was opened, also when it is outside the page. */
  opener: Opener | null;
  sawOldHeader: boolean;
  oldLine: number;
  newLine: number;
  oldRemaining: number;
  newRemaining: number;
  rendered: number;
  complete: boolean;
  readonly first: number;
  readonly last: number;
}

/**
 * Reads the files `first` to `first + count - 1` of the diff (by position, as the extractor
 * counts them), stopping after the last of them or after `MAX_DIFF_LINES` rendered lines.
 */
export async function loadDiff(
  body: ReadableStream<Uint8Array>,
  first = 0,
  count = DIFF_FILES_PER_PAGE,
): Promise<{ files: RenderedFile[]; complete: boolean }> {
  const state: DiffReadState = {
    files: [],
    index: -1,
    current: null,
    opener: null,
    sawOldHeader: false,
    oldLine: 0,
    newLine: 0,
    oldRemaining: 0,
    newRemaining: 0,
    rendered: 0,
    complete: true,
    first,
    last: first + count - 1,
  };
  await scanLines(body, (line) => readLine(state, line));
  return { files: state.files, complete: state.complete };
}

/** One line of the diff; false once the page's files are all read. */
function readLine(state: DiffReadState, line: string): boolean {
  if (state.oldRemaining > 0 || state.newRemaining > 0) {
    if (readHunkLine(state, line)) return true;
    state.oldRemaining = 0;
    state.newRemaining = 0;
  }
  if (line.startsWith("\\")) {
    push(state, { kind: "meta", text: line });
    return true;
  }
  if (opensFile(state, line)) {
    if (state.index >= state.last) return false; // the page's files are all read
    startFile(state, line, line.startsWith("diff --git ") ? "git" : line.startsWith("diff ") ? "command" : "header");
  }
  if (line.startsWith("--- ")) state.sawOldHeader = true;
  const hunk = HUNK.exec(line);
  if (hunk) {
    if (state.index === -1) startFile(state, "(diff)", "header");
    state.oldLine = Number(hunk[1]);
    state.oldRemaining = hunk[2] === undefined ? 1 : Number(hunk[2]);
    state.newLine = Number(hunk[3]);
    state.newRemaining = hunk[4] === undefined ? 1 : Number(hunk[4]);
    push(state, { kind: "hunk", text: line });
    return true;
  }
  state.current?.header.push(line);
  return true;
}

/** A line inside a hunk (added, removed, context, "\\ No newline"); false when it ends the hunk. */
function readHunkLine(state: DiffReadState, line: string): boolean {
  const sign = line[0];
  if (sign === "+") {
    push(state, { kind: "add", oldLine: null, newLine: state.newLine++, text: line.slice(1) });
    state.newRemaining--;
    return true;
  }
  if (sign === "-") {
    push(state, { kind: "del", oldLine: state.oldLine++, newLine: null, text: line.slice(1) });
    state.oldRemaining--;
    return true;
  }
  if (sign === " " || line === "") {
    push(state, { kind: "ctx", oldLine: state.oldLine++, newLine: state.newLine++, text: line.slice(1) });
    state.oldRemaining--;
    state.newRemaining--;
    return true;
  }
  if (sign === "\\") {
    push(state, { kind: "meta", text: line });
    return true;
  }
  return false;
}

function opensFile(state: DiffReadState, line: string): boolean {
  return (
    line.startsWith("diff --git ") ||
    (line.startsWith("diff -") && DIFF_COMMAND.test(line)) ||
    // A plain `diff -u` file starts at its `---` header; after `diff --git` the header is part of that file.
    (line.startsWith("--- ") && (state.opener === null || state.opener === "header" || state.sawOldHeader))
  );
}

function startFile(state: DiffReadState, path: string, how: Opener): void {
  const index = ++state.index;
  state.opener = how;
  state.sawOldHeader = false;
  state.current =
    index >= state.first && index <= state.last ? { index, path, header: [], rows: [], cut: false } : null;
  if (state.current) state.files.push(state.current);
  state.oldRemaining = 0;
  state.newRemaining = 0;
}

/** Adds a row to the file on the page, until the page's line budget runs out. */
function push(state: DiffReadState, row: DiffRow): void {
  const file = state.current;
  if (!file || file.cut) return;
  if (state.rendered >= MAX_DIFF_LINES) {
    file.cut = true;
    state.complete = false;
    return;
  }
  state.rendered++;
  file.rows.push(row);
}

/**
 * Log extraction: line count, error lines, warning lines (the rules are in `log-rules.ts`).
 * Scans each decoded chunk for candidate words with one cheap regular expression, runs the rules
 * (one global regular expression) only on the lines around those, and counts newlines between
 * matches, so a chunk costs a few passes of native code however many lines it holds.
 */
import { ANSI_SOURCE, LOG_CANDIDATE_SOURCE, LOG_RULES_SOURCE } from "./log-rules.ts";
import { cap, LIMITS, type LogSummary, type StructureExtractor } from "./types.ts";

/** Bytes decoded and scanned at once. */
const SEGMENT = 64 * 1024;
/** A carried partial line longer than this is scanned as it is rather than grown further. */
const MAX_CARRY = 64 * 1024;

/**
 * A decoder mapping each byte to one character, when the runtime has one: ASCII patterns and
 * newlines keep their byte offsets, and decoding is a copy without UTF-8 validation. Node's
 * `Buffer` (Bun, Node, Deno) decodes latin1 several times faster than `TextDecoder("latin1")`
 * (windows-1252 on Bun; both map bytes 0x80–0x9F to characters no rule matches). Without
 * either, UTF-8 is decoded: as correct, slower.
 */
function createByteDecoder(): ((bytes: Uint8Array) => string) | null {
  const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (NodeBuffer !== undefined) {
    return (bytes) => NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
  }
  try {
    const decoder = new TextDecoder("latin1");
    return (bytes) => decoder.decode(bytes);
  } catch {
    return null;
  }
}

const ANSI = new RegExp(ANSI_SOURCE, "g");

/** Byte offset in `data` of the start of its line `index` (0: the first). */
function lineStartByte(data: Uint8Array, index: number): number {
  let offset = 0;
  for (let line = 0; line < index; line++) {
    const newline = data.indexOf(0x0a, offset);
    if (newline === -1) return offset;
    offset = newline + 1;
  }
  return offset;
}
const STATED_WARNING = 1;
const ERROR = 2;
const WARNING = 4;

/** What the extractor has counted, and the line it has not settled yet. */
interface LogState {
  /** One pass finds every kind: group 1 is a stated warning, group 2 an error, group 3 a warning. */
  readonly pattern: RegExp;
  /** Words one of which every match holds: lines without any are not matched against `pattern`. */
  readonly candidates: RegExp;
  readonly byteDecoder: ((bytes: Uint8Array) => string) | null;
  readonly utf8: TextDecoder;
  /** Complete lines seen. */
  lines: number;
  errors: number;
  warnings: number;
  firstErrorLine: number | null;
  firstErrorOffset: number | null;
  /** Bytes scanned before the current segment: byte offsets of lines are this plus their place in it. */
  scanned: number;
  readonly firstErrors: { line: number; text: string }[];
  carry: Uint8Array;
  bytes: number;
  lastByte: number;
  /** The line (0-based) with matches not yet counted, what they were, its text if it may be an error, and where it starts. */
  pendingLine: number;
  pendingKinds: number;
  pendingText: string | null;
  pendingOffset: number | null;
}

export function createLogExtractor(): StructureExtractor & { summary(): LogSummary } {
  const state: LogState = {
    pattern: new RegExp(LOG_RULES_SOURCE, "gm"),
    candidates: new RegExp(LOG_CANDIDATE_SOURCE, "g"),
    byteDecoder: createByteDecoder(),
    utf8: new TextDecoder("utf-8"),
    lines: 0,
    errors: 0,
    warnings: 0,
    firstErrorLine: null,
    firstErrorOffset: null,
    scanned: 0,
    firstErrors: [],
    carry: new Uint8Array(0),
    bytes: 0,
    lastByte: 0x0a,
    pendingLine: -1,
    pendingKinds: 0,
    pendingText: null,
    pendingOffset: null,
  };
  return {
    write: (chunk) => write(state, chunk),
    finish() {
      if (state.carry.length > 0) scan(state, state.carry);
      state.carry = new Uint8Array(0);
      return { summary: summarize(state), files: [], tests: [] };
    },
    summary: () => summarize(state),
  };
}

function summarize(state: LogState): LogSummary {
  settle(state);
  return {
    kind: "log",
    lines: state.lines + (state.bytes > 0 && state.lastByte !== 0x0a ? 1 : 0),
    errors: state.errors,
    warnings: state.warnings,
    firstErrorLine: state.firstErrorLine,
    firstErrorOffset: state.firstErrorOffset,
    firstErrors: state.firstErrors,
    bytesExamined: state.bytes,
    truncated: false,
    parseError: null,
  };
}

/** Counts the pending line: a stated warning stays a warning, otherwise an error wins over a warning. */
function settle(state: LogState): void {
  if (state.pendingLine === -1) return;
  if (state.pendingKinds & ERROR && !(state.pendingKinds & STATED_WARNING)) {
    state.errors++;
    if (state.firstErrorLine === null) {
      state.firstErrorLine = state.pendingLine + 1;
      state.firstErrorOffset = state.pendingOffset;
    }
    if (state.pendingText !== null && state.firstErrors.length < LIMITS.firstErrors)
      state.firstErrors.push({ line: state.pendingLine + 1, text: state.pendingText });
  } else state.warnings++;
  state.pendingLine = -1;
  state.pendingKinds = 0;
  state.pendingText = null;
  state.pendingOffset = null;
}

function write(state: LogState, chunk: Uint8Array): void {
  if (chunk.length === 0) return;
  state.bytes += chunk.length;
  state.lastByte = chunk[chunk.length - 1] as number;
  let start = 0;
  if (state.carry.length > 0) {
    start = finishCarriedLine(state, chunk);
    if (start === -1) return;
  }
  // Then whole lines, in segments of about SEGMENT bytes.
  const lastNewline = chunk.lastIndexOf(0x0a);
  while (start <= lastNewline) {
    let stop = lastNewline + 1;
    if (stop - start > SEGMENT) {
      const cut = chunk.lastIndexOf(0x0a, start + SEGMENT - 1);
      stop = cut >= start ? cut + 1 : chunk.indexOf(0x0a, start + SEGMENT) + 1;
    }
    scan(state, chunk.subarray(start, stop));
    start = stop;
  }
  if (start < chunk.length) state.carry = chunk.slice(start);
  if (state.carry.length > MAX_CARRY) {
    scan(state, state.carry);
    state.carry = new Uint8Array(0);
  }
}

/**
 * Finishes the line carried over from the last chunk: only that line is copied, never the whole
 * chunk. Returns where the chunk's own lines start, or -1 when the line goes on past the chunk.
 */
function finishCarriedLine(state: LogState, chunk: Uint8Array): number {
  const first = chunk.indexOf(0x0a);
  const end = first === -1 ? chunk.length : first + 1;
  const joined = new Uint8Array(state.carry.length + end);
  joined.set(state.carry, 0);
  joined.set(chunk.subarray(0, end), state.carry.length);
  state.carry = new Uint8Array(0);
  if (first === -1) {
    state.carry = joined;
    if (joined.length > MAX_CARRY) {
      // A huge line: count what it holds so far and keep its line open (no newline counted).
      scan(state, joined);
      state.carry = new Uint8Array(0);
    }
    return -1;
  }
  scan(state, joined);
  return end;
}

/** Scans whole lines (`data` ends at a line end, or is a line too long to wait for). */
function scan(state: LogState, data: Uint8Array): void {
  const { byteDecoder, utf8 } = state;
  // Only complete lines are decoded, so UTF-8 never splits inside a character. Colour codes
  // are removed first (they split words: ESC[31mERROR would not be a whole word).
  const coloured = data.includes(0x1b);
  const text = coloured ? utf8.decode(data).replace(ANSI, "") : byteDecoder ? byteDecoder(data) : utf8.decode(data);
  let position = 0;
  let line = state.lines;
  forEachRuleMatch(state, text, (kind, index) => {
    for (let next = text.indexOf("\n", position); next !== -1 && next < index; next = text.indexOf("\n", position)) {
      line++;
      position = next + 1;
    }
    recordMatch(state, kind, index, line, text, data, coloured);
  });
  for (let next = text.indexOf("\n", position); next !== -1; next = text.indexOf("\n", position)) {
    line++;
    position = next + 1;
  }
  state.lines = line;
  state.scanned += data.length;
}

/**
 * Every match of the rules in `text`, in order, as one pass of them over all of it would find:
 * the rules run only on windows of whole lines around lines holding a candidate word (one
 * cheap pass of native code finds those). A window starts at a line start and ends after a line
 * end, and no match starts on an earlier line or reaches past the line end after its word, so
 * windows match as the whole does.
 */
function forEachRuleMatch(state: LogState, text: string, visit: (kind: number, index: number) => void): void {
  const { candidates } = state;
  let windowStart = 0;
  let windowEnd = -1;
  candidates.lastIndex = 0;
  for (let hit = candidates.exec(text); hit !== null; hit = candidates.exec(text)) {
    const newline = text.indexOf("\n", hit.index);
    const lineEnd = newline === -1 ? text.length : newline + 1;
    const start = text.lastIndexOf("\n", hit.index - 1) + 1;
    if (start > windowEnd) {
      if (windowEnd !== -1) runRules(state.pattern, text, windowStart, windowEnd, visit);
      windowStart = start;
    }
    windowEnd = lineEnd;
    candidates.lastIndex = lineEnd;
  }
  if (windowEnd !== -1) runRules(state.pattern, text, windowStart, windowEnd, visit);
}

/** The rules over `text` from `start` (a line start) to `end` (after a line end, or the end). */
function runRules(
  pattern: RegExp,
  text: string,
  start: number,
  end: number,
  visit: (kind: number, index: number) => void,
): void {
  const window = start === 0 && end === text.length ? text : text.slice(start, end);
  pattern.lastIndex = 0;
  for (let match = pattern.exec(window); match !== null; match = pattern.exec(window)) {
    visit(match[1] !== undefined ? STATED_WARNING : match[2] !== undefined ? ERROR : WARNING, start + match.index);
    if (match[0].length === 0) pattern.lastIndex++;
  }
}

/** A match of `kind` at `index` on `line` of `text` (decoded from `data`): the first error's text and offset. */
function recordMatch(
  state: LogState,
  kind: number,
  index: number,
  line: number,
  text: string,
  data: Uint8Array,
  coloured: boolean,
): void {
  if (line !== state.pendingLine) {
    settle(state);
    state.pendingLine = line;
  }
  state.pendingKinds |= kind;
  if (kind !== ERROR) return;
  // With the byte decoder, offsets are byte offsets: error lines are decoded as UTF-8 from the bytes.
  const byteOffsets = state.byteDecoder !== null && !coloured;
  if (state.pendingText === null && state.firstErrors.length < LIMITS.firstErrors) {
    const start = text.lastIndexOf("\n", index) + 1;
    const found = text.indexOf("\n", index);
    const stop = found === -1 ? text.length : found;
    const lineText = byteOffsets ? state.utf8.decode(data.subarray(start, stop)) : text.slice(start, stop);
    state.pendingText = cap(lineText, LIMITS.errorText);
  }
  if (state.firstErrorLine === null && state.pendingOffset === null) {
    // Where the first error line starts in the content: the viewer reads its context with a Range request.
    state.pendingOffset =
      state.scanned + (byteOffsets ? text.lastIndexOf("\n", index) + 1 : lineStartByte(data, line - state.lines));
  }
}

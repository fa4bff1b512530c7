/**
 * Log extraction: line count, error lines, warning lines (the rules are in `log-rules.ts`).
 * Scans each decoded chunk with one global regular expression and counts newlines between
 * matches, so a chunk costs one pass of native code however many lines it holds.
 */
import { ANSI_SOURCE, LOG_ERROR_SOURCE, LOG_STATED_WARNING_SOURCE, LOG_WARNING_SOURCE } from "./log-rules.ts";
import { cap, LIMITS, type LogSummary, type StructureExtractor } from "./types.ts";

/** Bytes decoded and scanned at once. */
const SEGMENT = 64 * 1024;
/** A carried partial line longer than this is scanned as it is rather than grown further. */
const MAX_CARRY = 64 * 1024;

/**
 * A decoder mapping each byte to one character, when the runtime has one: ASCII patterns and
 * newlines keep their byte offsets, and decoding is a copy without UTF-8 validation (the
 * fastest decoding measured on Bun). Without one, UTF-8 is decoded: as correct, slower.
 */
function createByteDecoder(): TextDecoder | null {
  try {
    return new TextDecoder("latin1");
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

export function createLogExtractor(): StructureExtractor & { summary(): LogSummary } {
  // One pass finds every kind: group 1 is a stated warning, group 2 an error, group 3 a warning.
  const pattern = new RegExp(`(${LOG_STATED_WARNING_SOURCE})|(${LOG_ERROR_SOURCE})|(${LOG_WARNING_SOURCE})`, "gm");
  const byteDecoder = createByteDecoder();
  const utf8 = new TextDecoder("utf-8");
  let lines = 0; // complete lines seen
  let errors = 0;
  let warnings = 0;
  let firstErrorLine: number | null = null;
  let firstErrorOffset: number | null = null;
  // Bytes scanned before the current segment: byte offsets of lines are this plus their place in it.
  let scanned = 0;
  let pendingOffset: number | null = null;
  const firstErrors: { line: number; text: string }[] = [];
  let carry: Uint8Array = new Uint8Array(0);
  let bytes = 0;
  let lastByte = 0x0a;
  // The line (0-based) with matches not yet counted, what they were, and its text if it may be an error.
  let pendingLine = -1;
  let pendingKinds = 0;
  let pendingText: string | null = null;

  /** Counts the pending line: a stated warning stays a warning, otherwise an error wins over a warning. */
  const settle = () => {
    if (pendingLine === -1) return;
    if (pendingKinds & ERROR && !(pendingKinds & STATED_WARNING)) {
      errors++;
      if (firstErrorLine === null) {
        firstErrorLine = pendingLine + 1;
        firstErrorOffset = pendingOffset;
      }
      if (pendingText !== null && firstErrors.length < LIMITS.firstErrors)
        firstErrors.push({ line: pendingLine + 1, text: pendingText });
    } else warnings++;
    pendingLine = -1;
    pendingKinds = 0;
    pendingText = null;
    pendingOffset = null;
  };

  /** Scans whole lines (`data` ends at a line end, or is a line too long to wait for). */
  const scan = (data: Uint8Array) => {
    // Only complete lines are decoded, so UTF-8 never splits inside a character. Colour codes
    // are removed first (they split words: ESC[31mERROR would not be a whole word).
    const coloured = data.includes(0x1b);
    const text = coloured
      ? utf8.decode(data).replace(ANSI, "")
      : byteDecoder
        ? byteDecoder.decode(data)
        : utf8.decode(data);
    // With the byte decoder, offsets are byte offsets: error lines are decoded as UTF-8 from the bytes.
    const lineText = (start: number, stop: number) =>
      byteDecoder && !coloured ? utf8.decode(data.subarray(start, stop)) : text.slice(start, stop);
    let position = 0;
    let line = lines;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      for (
        let next = text.indexOf("\n", position);
        next !== -1 && next < match.index;
        next = text.indexOf("\n", position)
      ) {
        line++;
        position = next + 1;
      }
      if (line !== pendingLine) {
        settle();
        pendingLine = line;
      }
      const kind = match[1] !== undefined ? STATED_WARNING : match[2] !== undefined ? ERROR : WARNING;
      pendingKinds |= kind;
      if (kind === ERROR && pendingText === null && firstErrors.length < LIMITS.firstErrors) {
        const start = text.lastIndexOf("\n", match.index) + 1;
        const stop = text.indexOf("\n", match.index);
        pendingText = cap(lineText(start, stop === -1 ? text.length : stop), LIMITS.errorText);
      }
      if (kind === ERROR && firstErrorLine === null && pendingOffset === null) {
        // Where the first error line starts in the content: the viewer reads its context with a Range request.
        pendingOffset =
          scanned +
          (byteDecoder && !coloured ? text.lastIndexOf("\n", match.index) + 1 : lineStartByte(data, line - lines));
      }
      if (match[0].length === 0) pattern.lastIndex++;
    }
    for (let next = text.indexOf("\n", position); next !== -1; next = text.indexOf("\n", position)) {
      line++;
      position = next + 1;
    }
    lines = line;
    scanned += data.length;
  };

  const summary = (): LogSummary => {
    settle();
    return {
      kind: "log",
      lines: lines + (bytes > 0 && lastByte !== 0x0a ? 1 : 0),
      errors,
      warnings,
      firstErrorLine,
      firstErrorOffset,
      firstErrors,
      bytesExamined: bytes,
      truncated: false,
      parseError: null,
    };
  };
  return {
    write(chunk) {
      if (chunk.length === 0) return;
      bytes += chunk.length;
      lastByte = chunk[chunk.length - 1] as number;
      let start = 0;
      if (carry.length > 0) {
        // Finish the line carried over: only that line is copied, never the whole chunk.
        const first = chunk.indexOf(0x0a);
        const end = first === -1 ? chunk.length : first + 1;
        const joined = new Uint8Array(carry.length + end);
        joined.set(carry, 0);
        joined.set(chunk.subarray(0, end), carry.length);
        carry = new Uint8Array(0);
        if (first === -1) {
          carry = joined;
          if (carry.length > MAX_CARRY) {
            // A huge line: count what it holds so far and keep its line open (no newline counted).
            scan(carry);
            carry = new Uint8Array(0);
          }
          return;
        }
        scan(joined);
        start = end;
      }
      // Then whole lines, in segments of about SEGMENT bytes.
      const lastNewline = chunk.lastIndexOf(0x0a);
      while (start <= lastNewline) {
        let stop = lastNewline + 1;
        if (stop - start > SEGMENT) {
          const cut = chunk.lastIndexOf(0x0a, start + SEGMENT - 1);
          stop = cut >= start ? cut + 1 : chunk.indexOf(0x0a, start + SEGMENT) + 1;
        }
        scan(chunk.subarray(start, stop));
        start = stop;
      }
      if (start < chunk.length) carry = chunk.slice(start);
      if (carry.length > MAX_CARRY) {
        scan(carry);
        carry = new Uint8Array(0);
      }
    },
    finish() {
      if (carry.length > 0) scan(carry);
      carry = new Uint8Array(0);
      return { summary: summary(), files: [], tests: [] };
    },
    summary,
  };
}

/**
 * Log extraction: line count, error lines, warning lines. Scans each decoded chunk with one
 * global regular expression and counts newlines between matches, so a chunk costs one pass
 * of native code however many lines it holds.
 *
 * A line is an **error** line when it contains (case as shown):
 * - a whole word `ERROR`, `FATAL`, `CRITICAL` or `PANIC`;
 * - `Error:` or `Exception:`, alone or ending a word (`TypeError:`, `java.io.IOException:`);
 * - `error:`, `fatal:` or `panic:`, optionally with a bracketed code (`error[E0308]:`);
 * - `npm ERR!`, or starts with `Traceback (most recent call last)`.
 * A line is a **warning** line when it is not an error line and contains a whole word `WARN`
 * or `WARNING`, `Warning:` alone or ending a word (`DeprecationWarning:`), or `warning:`
 * (optionally `warning[code]:`). Words such as `errors` or `0 errors` do not count.
 */
import { cap, LIMITS, type LogSummary, type StructureExtractor } from "./types.ts";

const ERROR_SOURCE = String.raw`\b(?:ERROR|FATAL|CRITICAL|PANIC)\b|(?:Error|Exception):|\b(?:error|fatal|panic)(?:\[[^\]\n]{0,40}\])?:|\bnpm ERR!|^Traceback \(most recent call last\)`;
const WARNING_SOURCE = String.raw`\b(?:WARN|WARNING)\b|Warning:|\bwarning(?:\[[^\]\n]{0,40}\])?:`;

/** Error and warning patterns, exported for the viewer and the documentation. */
export const LOG_ERROR_PATTERN = new RegExp(ERROR_SOURCE, "m");
export const LOG_WARNING_PATTERN = new RegExp(WARNING_SOURCE, "m");

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

export function createLogExtractor(): StructureExtractor & { summary(): LogSummary } {
  // One pass finds both kinds; group 1 is an error, group 2 a warning.
  const pattern = new RegExp(`(${ERROR_SOURCE})|(${WARNING_SOURCE})`, "gm");
  const byteDecoder = createByteDecoder();
  const utf8 = new TextDecoder("utf-8");
  let lines = 0; // complete lines seen
  let errors = 0;
  let warnings = 0;
  let firstErrorLine: number | null = null;
  const firstErrors: { line: number; text: string }[] = [];
  let carry: Uint8Array = new Uint8Array(0);
  let bytes = 0;
  let lastByte = 0x0a;
  // The line (0-based) of the last match and what it was counted as.
  let lastLine = -1;
  let lastKind: "error" | "warning" | null = null;

  /** Scans whole lines (`data` ends at a line end, or is a line too long to wait for). */
  const scan = (data: Uint8Array) => {
    // Only complete lines are decoded, so UTF-8 never splits inside a character.
    const text = byteDecoder ? byteDecoder.decode(data) : utf8.decode(data);
    // With the byte decoder, offsets are byte offsets: error lines are decoded as UTF-8 from the bytes.
    const lineText = (start: number, stop: number) =>
      byteDecoder ? utf8.decode(data.subarray(start, stop)) : text.slice(start, stop);
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
      const kind = match[1] !== undefined ? "error" : "warning";
      if (line !== lastLine) {
        lastLine = line;
        lastKind = kind;
        if (kind === "error") recordError(text, match.index, line, lineText);
        else warnings++;
      } else if (kind === "error" && lastKind === "warning") {
        // A warning word came first on this line; the line is an error line.
        warnings--;
        lastKind = "error";
        recordError(text, match.index, line, lineText);
      }
      if (match[0].length === 0) pattern.lastIndex++;
    }
    for (let next = text.indexOf("\n", position); next !== -1; next = text.indexOf("\n", position)) {
      line++;
      position = next + 1;
    }
    lines = line;
  };

  const recordError = (
    text: string,
    index: number,
    line: number,
    lineText: (start: number, stop: number) => string,
  ) => {
    errors++;
    if (firstErrorLine === null) firstErrorLine = line + 1;
    if (firstErrors.length < LIMITS.firstErrors) {
      const start = text.lastIndexOf("\n", index) + 1;
      const stop = text.indexOf("\n", index);
      firstErrors.push({
        line: line + 1,
        text: cap(lineText(start, stop === -1 ? text.length : stop), LIMITS.errorText),
      });
    }
  };

  const summary = (): LogSummary => ({
    kind: "log",
    lines: lines + (bytes > 0 && lastByte !== 0x0a ? 1 : 0),
    errors,
    warnings,
    firstErrorLine,
    firstErrors,
    bytesExamined: bytes,
    truncated: false,
    parseError: null,
  });

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

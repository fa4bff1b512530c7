/**
 * The log extractor runs its rules only around lines that hold a candidate word, with a lead
 * that skips positions where no rule starts, on text decoded byte for byte. These tests hold it
 * to what one plain pass of the rules over the whole text finds: the same lines, counts, first
 * errors and offsets, on real logs, on lines that match only through the rules themselves, at
 * every chunk boundary, and on non-ASCII text. (No rule reaches over a line end, so chunking
 * cannot change what a line is.)
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogExtractor } from "../../src/core/structure/log.ts";
import {
  LOG_ERROR_SOURCE,
  LOG_STATED_WARNING_SOURCE,
  LOG_WARNING_SOURCE,
  stripAnsi,
} from "../../src/core/structure/log-rules.ts";
import type { LogSummary } from "../../src/core/structure/types.ts";

const encoder = new TextEncoder();

/** One global pass of the three rule sets over the whole text: the meaning the fast paths must keep. */
function onePass(content: string): Pick<LogSummary, "lines" | "errors" | "warnings" | "firstErrorLine"> {
  const text = stripAnsi(content);
  const pattern = new RegExp(`(${LOG_STATED_WARNING_SOURCE})|(${LOG_ERROR_SOURCE})|(${LOG_WARNING_SOURCE})`, "gm");
  const kinds = new Map<number, Set<"stated" | "error" | "warning">>();
  for (const match of text.matchAll(pattern)) {
    const line = text.slice(0, match.index).split("\n").length;
    const set = kinds.get(line) ?? new Set();
    set.add(match[1] !== undefined ? "stated" : match[2] !== undefined ? "error" : "warning");
    kinds.set(line, set);
  }
  const errorLines = [...kinds].filter(([, set]) => set.has("error") && !set.has("stated")).map(([line]) => line);
  // A colour code after the last newline still makes a last line (the bytes do not end with one).
  const lines = text.split("\n").length - 1 + (content !== "" && !content.endsWith("\n") ? 1 : 0);
  return {
    lines,
    errors: errorLines.length,
    warnings: kinds.size - errorLines.length,
    firstErrorLine: errorLines.length > 0 ? Math.min(...errorLines) : null,
  };
}

function extract(content: string | Uint8Array, chunkSize: number): LogSummary {
  const bytes = typeof content === "string" ? encoder.encode(content) : content;
  const extractor = createLogExtractor();
  for (let offset = 0; offset < bytes.length; offset += chunkSize)
    extractor.write(bytes.subarray(offset, offset + chunkSize));
  return extractor.finish().summary as LogSummary;
}

/** Pieces of log lines: rule words, near misses, spans over lines, colour codes and non-ASCII. */
const PIECES = [
  "ERROR",
  "ERR",
  "ERRORS",
  "error",
  "Error:",
  "error:",
  "errors",
  "Errors",
  "FAIL",
  "FAILED",
  "FAILURE: Build failed",
  "WARN",
  "WARNING",
  "Warning:",
  "warning",
  "warning:",
  "warn",
  "npm ERR!",
  "npm error",
  "npm warn",
  "##[error]",
  "##[warning]",
  "::error file=a.ts::",
  "::warning ::",
  "(node:12) DeprecationWarning: ",
  "Traceback (most recent call last)",
  "pkg/a.go:15: ",
  "    a_test.go:9: ",
  "ERR_PNPM_X",
  "TypeError [ERR_X]:",
  "error TS2769:",
  "'ERROR'",
  "LogLevel.ERROR",
  "warning[Error:]:",
  "::error ##[warning]::",
  "E\u001b[1mRROR",
  "\u001b[31m",
  "\u001b[0m",
  "12:5",
  "3:1",
  "  ",
  " ",
  "\t",
  ":",
  "\r",
  "7",
  "x",
  "step",
  "café",
  "☕",
  "à",
  "€",
  "…",
  "\u00a0",
  "\u0085",
  "\n",
  "\n",
  "\n",
  "\n  12:5\n  error  x\n",
  "\n  12:5  error  x\n",
];

function generated(seed: number, pieces: number): string {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
  return Array.from({ length: pieces }, () => PIECES[next() % PIECES.length]).join("");
}

const corpus = join(import.meta.dir, "../corpus/real/log");
const realLogs = readdirSync(corpus).map((name) => ({ name, text: readFileSync(join(corpus, name), "utf8") }));

describe("log extractor fast paths", () => {
  test("real logs: the counts and first error line of one pass of the rules, whatever the chunking", () => {
    expect(realLogs.length).toBeGreaterThan(5);
    for (const { name, text } of realLogs) {
      const expected = onePass(text);
      for (const size of [1, 13, 4096, 1 << 20])
        expect({ name, size, ...extract(text, size) }).toMatchObject({ name, size, ...expected });
    }
  });

  test("lines that match only through the rules: names in code, words in brackets, ESLint's columns on one line", () => {
    const log = [
      "INFO step compiled",
      "  12:5", // ESLint's pattern stays within a line: this line and the next are neither
      "  error  Missing semicolon",
      "logger.log(LogLevel.ERROR); code = 'ERROR'", // candidate words, no rule: neither
      "warning[Error:]: the warning rule swallows the error", // a warning
      "::error ##[warning]::", // the error rule swallows the stated warning: an error
      "built with 0 errors",
      "",
      "  3:1  warning  Unexpected console",
      "  12:5  error  Missing semicolon",
    ].join("\n");
    const summary = extract(log, 1 << 20);
    expect(summary).toMatchObject({ lines: 10, errors: 2, warnings: 2, firstErrorLine: 6 });
    expect(summary.firstErrors).toEqual([
      { line: 6, text: "::error ##[warning]::" },
      { line: 10, text: "  12:5  error  Missing semicolon" },
    ]);
    expect(summary).toMatchObject(onePass(log));
  });

  test("generated lines: every chunk boundary, candidate words cut between chunks, non-ASCII bytes", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const text = generated(seed, 40 + (seed % 80));
      const expected = onePass(text);
      const whole = extract(text, 1 << 20);
      expect({ seed, ...whole }).toMatchObject({ seed, ...expected });
      for (const size of [1, 2, 3, 17])
        expect({ seed, size, ...extract(text, size) }).toEqual({ seed, size, ...whole });
    }
  });

  test("first error offsets are byte offsets of the line's start after multi-byte characters", () => {
    const log = "café ☕ à € …\n\u00a0\u0085\n  12:5  error x ☕\nok\n";
    const summary = extract(log, 5);
    const start = encoder.encode("café ☕ à € …\n\u00a0\u0085\n").length;
    expect(summary).toMatchObject({ errors: 1, firstErrorLine: 3, firstErrorOffset: start });
    expect(summary.firstErrors).toEqual([{ line: 3, text: "  12:5  error x ☕" }]);
    expect(summary).toMatchObject(onePass(log));
  });

  test("a log larger than one scanned segment: counts and offsets as in one piece", () => {
    const block = `${"x".repeat(70)} INFO step\n`.repeat(3000);
    const log = `${block}  12:5  error  late\n${block}WARN tail\n`;
    const summary = extract(log, 256 * 1024);
    expect(summary).toMatchObject({ lines: 6002, errors: 1, warnings: 1, firstErrorLine: 3001 });
    expect(summary.firstErrorOffset).toBe(block.length);
    expect(extract(log, 1000)).toEqual(summary);
  });
});

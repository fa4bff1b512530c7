/**
 * What makes a log line an error or a warning, in one place: the extractor counts with these
 * rules, the viewer marks lines with them, and the live view's script receives their sources.
 *
 * A line is an **error** line when it contains (case as shown):
 * - a whole word `ERROR`, `FATAL`, `CRITICAL`, `PANIC`, `FAIL` or `FAILED` (Maven `[ERROR]`,
 *   `go test`'s `--- FAIL:`, Jest's `FAIL src/…`, pytest's `FAILED tests/…`), but not as a name
 *   in code (`LogLevel.ERROR`, `'ERROR'`, `ERROR_CODE`); pnpm's `ERR_PNPM_…`; Gradle's
 *   `FAILURE: Build failed`;
 * - `Error:` or `Exception:`, alone or ending a word (`TypeError:`, `java.io.IOException:`), also
 *   with node's bracketed code (`TypeError [ERR_UNKNOWN_FILE_EXTENSION]:`);
 * - `error:`, `fatal:` or `panic:`, optionally with a bracketed code (`error[E0308]:`), or tsc's
 *   `error TS2769:`; ESLint's `  12:5  error  …`; Go's compile errors (`pkg/a.go:15: undefined: x`
 *   at the start of a line; `go test`'s indented `    a_test.go:9: …` log lines are not errors);
 * - `npm ERR!` or npm 10's lowercase `npm error`; GitHub Actions' `##[error]` and `::error …::`;
 * - or starts with `Traceback (most recent call last)`.
 *
 * A line is a **warning** line when it is not an error line and contains a whole word `WARN` or
 * `WARNING`, `Warning:` alone or ending a word (`DeprecationWarning:`), `warning:` (also
 * `warning[code]:`), ESLint's `  3:1  warning  …`. Some lines say their level outright and are
 * warnings whatever else they hold: GitHub's `##[warning]` and `::warning …::`, `npm warn`, and
 * node's `(node:1234) SomeWarning: …` (which often quotes an `Error:`).
 *
 * Words such as `errors` or `0 errors` count as neither. Colour codes (ANSI escape sequences) are
 * ignored: the rules see the text a terminal shows.
 */

export const LOG_ERROR_SOURCE = [
  // An upper-case level word, not a name in code: `LogLevel.ERROR`, `'ERROR'`, `ERROR_CODE` are not errors.
  String.raw`(?<![\w.'"\`$-])(?:ERROR|FATAL|CRITICAL|PANIC|FAIL|FAILED)(?![\w.'"\`-])`,
  String.raw`\bERR_PNPM_[A-Z_]+\b`,
  "^FAILURE: Build failed",
  String.raw`(?:Error|Exception)(?: \[[A-Z][A-Z0-9_]*\])?:`,
  String.raw`\b(?:error|fatal|panic)(?:\[[^\]\n]{0,40}\])?:`,
  String.raw`\berror TS\d+:`,
  // ESLint's and Go's rules name ASCII blanks where `\s` would do: `\s` also takes a newline (a
  // match would start on an earlier line) and a no-break space, which the extractor's byte-for-byte
  // decoding sees at the end of `à` (bytes C3 A0) where UTF-8 decoding does not.
  String.raw`^[\t\v\f\r ]+\d+:\d+[\t\v\f\r ]+error[\t\n\v\f\r ]`,
  String.raw`^[^\t\n\v\f\r :]+\.go:\d+(?::\d+)?: `,
  String.raw`\bnpm ERR!`,
  String.raw`\bnpm error\b`,
  String.raw`##\[error\]`,
  String.raw`::error(?: [^\n:]*)?::`,
  String.raw`^Traceback \(most recent call last\)`,
].join("|");

/** Lines that name their level as a warning: never counted as errors. */
export const LOG_STATED_WARNING_SOURCE = [
  String.raw`##\[warning\]`,
  String.raw`::warning(?: [^\n:]*)?::`,
  String.raw`\bnpm warn\b`,
  String.raw`^\(node:[^)\n]*\) [A-Za-z]*Warning:`,
].join("|");

export const LOG_WARNING_SOURCE = [
  String.raw`(?<![\w.'"\`$-])(?:WARN|WARNING)(?![\w.'"\`-])`,
  "Warning:",
  String.raw`\bwarning(?:\[[^\]\n]{0,40}\])?:`,
  String.raw`^[\t\v\f\r ]+\d+:\d+[\t\v\f\r ]+warning[\t\n\v\f\r ]`,
].join("|");

/**
 * Every rule in one pattern: group 1 is a stated warning, group 2 an error, group 3 a warning.
 * The lead changes no match (each rule starts at a line start or with one of these characters)
 * but lets the engine pass at once a position where no rule can start: several times faster.
 */
export const LOG_RULES_SOURCE = `(?:^|(?=[#:nEFCPWefpw]))(?:(${LOG_STATED_WARNING_SOURCE})|(${LOG_ERROR_SOURCE})|(${LOG_WARNING_SOURCE}))`;

/**
 * Text that every match of the rules above contains, spelled as the rules spell it: a line holding
 * none of these is neither an error nor a warning, so the extractor runs the rules only on lines
 * that hold one. A new rule must contain one of these words (or add its own here), start at a
 * line start or with a character of the lead in `LOG_RULES_SOURCE`, and not reach past the end
 * of the line its word is on (a newline may end it).
 */
export const LOG_CANDIDATE_SOURCE = [
  "ERR", // ERROR, ERR_PNPM_, npm ERR!
  "FATAL",
  "CRITICAL",
  "PANIC",
  "FAIL", // FAIL, FAILED, FAILURE
  "Error",
  "Exception",
  "error",
  "fatal",
  "panic",
  String.raw`\.go:`,
  "Traceback",
  "warn", // warn, warning
  "Warning",
  "WARN", // WARN, WARNING
].join("|");

/** ANSI escape sequences: CSI (colours, cursor moves), OSC (titles, links) and two-byte escapes. */
export const ANSI_SOURCE = String.raw`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])`;

const ANSI = new RegExp(ANSI_SOURCE, "g");
const ERROR = new RegExp(LOG_ERROR_SOURCE, "m");
const STATED_WARNING = new RegExp(LOG_STATED_WARNING_SOURCE, "m");
const WARNING = new RegExp(LOG_WARNING_SOURCE, "m");

/** The text without ANSI escape sequences. */
export function stripAnsi(text: string): string {
  return text.includes("\x1b") ? text.replace(ANSI, "") : text;
}

/**
 * Whether one line (without its newline) is an error line, a warning line or neither.
 *
 * @example
 * classifyLogLine("src/a.ts(3,7): error TS2769: No overload matches this call."); // "error"
 * classifyLogLine("npm warn deprecated glob@7.2.3"); // "warning"
 */
export function classifyLogLine(line: string): "error" | "warning" | null {
  const text = stripAnsi(line);
  if (STATED_WARNING.test(text)) return "warning";
  if (ERROR.test(text)) return "error";
  if (WARNING.test(text)) return "warning";
  return null;
}

/** A folding marker: GitHub's `##[group]Title` / `::group::Title` and their ends, after any timestamp prefix. */
const GROUP_START = /(?:^|[\s\]])(?:##\[group\]|::group::)(.*)$/;
const GROUP_END = /(?:^|[\s\]])(?:##\[endgroup\]|::endgroup::)\s*$/;

/** `{ start: title }` for a line opening a folded group, `{ end: true }` for one closing it, else null. */
export function groupMarker(line: string): { start: string } | { end: true } | null {
  if (!line.includes("group")) return null;
  const text = stripAnsi(line);
  const start = GROUP_START.exec(text);
  if (start) return { start: (start[1] ?? "").trim() };
  return GROUP_END.test(text) ? { end: true } : null;
}

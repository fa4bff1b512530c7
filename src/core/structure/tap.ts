/**
 * TAP (Test Anything Protocol, versions 13 and 14), as `node --test` writes it when its output
 * is not a terminal, and `tap`, `tape`, `prove`. Subtests are indented by four spaces.
 * `not ok` is failed (unless `# TODO`), `# SKIP` and `# TODO` are skipped, `# FLAKY n re-tries`
 * marks a test that passed on a retry; `duration_ms`, `error` and `stack` come from the YAML block.
 *
 * Totals are counted the way the producer's summary counts them. node marks each `describe`
 * block `type: 'suite'` and counts a `test()` that has subtests as a test too (`# tests 4` for a
 * test with three subtests): so once a document says `type: 'suite'`, only those points are
 * suites. A producer that never says it (tap, tape) nests subtests under a parent point that is
 * a grouping, not a test of its own.
 */
import { createLineReader } from "./lines.ts";
import { joinSuite, type TestCollector } from "./test-collector.ts";
import { LIMITS, type TestStatus } from "./types.ts";

const TEST_POINT = /^(\s*)(not ok|ok)\b(?:\s+\d+)?(?:\s*-)?\s*(.*)$/;
const DIRECTIVE = /\s+#\s*(SKIP|TODO)\b\s*(.*)$/i;
const FLAKY = /\s+#\s*FLAKY\b\s*(?:(\d+)\s+re-?tr(?:y|ies))?.*$/i;
const SUBTEST = /^(\s*)# Subtest: (.*)$/;

interface PendingPoint {
  level: number;
  name: string;
  status: TestStatus;
  message: string | null;
  durationMs: number | null;
  retries: number;
  /** Has subtests: a suite unless the document marks suites with `type: 'suite'`. */
  hasSubtests: boolean;
  /** Its YAML said `type: 'suite'` (or `'test'`). */
  declaredType: "suite" | "test" | null;
  inStack: boolean;
  inYaml: boolean;
  yamlIndent: number;
}

/** True when the text starts like TAP. */
export function looksLikeTap(start: string): boolean {
  return /^(?:TAP version \d+|1\.\.\d+|(?:not )?ok\b|# Subtest:)/.test(start);
}

/** Where the reader is in the document. */
interface TapReadState {
  readonly collector: TestCollector;
  /** The names of the subtests the current point is nested in, by level. */
  readonly subtestNames: string[];
  readonly hasChildren: boolean[];
  point: PendingPoint | null;
  declaresSuites: boolean;
  /** Points with subtests and no declared type, held until the end decides what they are. */
  readonly undecided: { suite: string; point: PendingPoint }[];
}

export function createTapReader(collector: TestCollector) {
  const state: TapReadState = {
    collector,
    subtestNames: [],
    hasChildren: [],
    point: null,
    declaresSuites: false,
    undecided: [],
  };
  const reader = createLineReader((line) => readLine(state, line));
  return {
    write: reader.write,
    end() {
      reader.end();
      flush(state);
      // node (which declares its suites) counts a test with subtests as a test; other producers do not.
      if (state.declaresSuites) for (const { suite, point: parent } of state.undecided) add(state, suite, parent);
    },
  };
}

function add(state: TapReadState, suite: string, current: PendingPoint): void {
  state.collector.add({
    suite,
    name: current.name,
    status: current.status,
    durationMs: current.durationMs,
    message: current.message,
    flaky: current.retries > 0 && current.status === "passed",
    retries: current.retries,
  });
}

/** The pending point is complete (its YAML block read): a test, a suite, or undecided until the end. */
function flush(state: TapReadState): void {
  const current = state.point;
  if (!current) return;
  state.point = null;
  if (current.declaredType === "suite") {
    state.declaresSuites = true;
    return;
  }
  const suite = joinSuite(state.subtestNames.slice(0, current.level));
  if (current.hasSubtests && current.declaredType === null) {
    if (state.undecided.length < 10_000) state.undecided.push({ suite, point: current });
    return;
  }
  add(state, suite, current);
}

function readLine(state: TapReadState, line: string): void {
  const point = state.point;
  if (point?.inYaml) {
    yamlLine(point, line);
    return;
  }
  if (point && line.trim() === "---" && line.length - line.trimStart().length > point.yamlIndent - 2) {
    point.inYaml = true;
    return;
  }
  if (/^# (?:suites|tests) \d+$/.test(line)) state.declaresSuites = true; // node's summary: its counting rules apply
  const subtest = SUBTEST.exec(line);
  if (subtest) {
    flush(state);
    const level = Math.floor((subtest[1] as string).length / 4);
    state.subtestNames.length = level;
    state.subtestNames[level] = subtest[2] as string;
    return;
  }
  const match = TEST_POINT.exec(line);
  if (!match) return;
  flush(state);
  state.point = testPoint(state, match);
}

/** A test point (`ok 3 - name # SKIP why`), pending until its YAML block is read. */
function testPoint(state: TapReadState, match: RegExpExecArray): PendingPoint {
  const level = Math.floor((match[1] as string).length / 4);
  let description = match[3] as string;
  let status: TestStatus = match[2] === "ok" ? "passed" : "failed";
  let message: string | null = null;
  const directive = DIRECTIVE.exec(description);
  let retries = 0;
  if (directive) {
    description = description.slice(0, directive.index);
    status = "skipped";
    message = directive[2] ? directive[2] : null;
  } else {
    const flaky = FLAKY.exec(description);
    if (flaky) {
      description = description.slice(0, flaky.index);
      retries = Math.max(1, Number(flaky[1] ?? 1));
    }
  }
  const { hasChildren } = state;
  const hasSubtests = hasChildren[level] === true;
  hasChildren[level] = false;
  if (level > 0) hasChildren[level - 1] = true;
  hasChildren.length = level + 1;
  return {
    level,
    name: description.trim(),
    status,
    message,
    durationMs: null,
    retries,
    hasSubtests,
    declaredType: null,
    inStack: false,
    inYaml: false,
    yamlIndent: (match[1] as string).length + 2,
  };
}

/** A line of the point's YAML block: duration, type, message and stack. */
function yamlLine(current: PendingPoint, line: string): void {
  const trimmed = line.trim();
  if (trimmed === "...") {
    current.inYaml = false;
    return;
  }
  const indent = line.length - line.trimStart().length;
  if (current.inStack && indent > current.yamlIndent) {
    // A block scalar (`stack: |-`): its lines follow the message.
    if ((current.message ?? "").length < LIMITS.message) current.message = `${current.message ?? ""}\n${trimmed}`;
    return;
  }
  current.inStack = false;
  const separator = trimmed.indexOf(":");
  if (separator === -1) return;
  const key = trimmed.slice(0, separator);
  const value = trimmed
    .slice(separator + 1)
    .trim()
    .replace(/^'(.*)'$/, "$1")
    .replace(/^"(.*)"$/, "$1");
  if (key === "duration_ms" && value !== "" && Number.isFinite(Number(value))) current.durationMs = Number(value);
  else if (key === "type" && (value === "suite" || value === "test")) current.declaredType = value;
  else if ((key === "error" || key === "message") && value && !/^[|>]/.test(value) && current.message === null)
    current.message = value.slice(0, LIMITS.message);
  else if (key === "stack" && current.status === "failed") {
    if (/^[|>]/.test(value)) current.inStack = true;
    else if (value) current.message = `${current.message ?? ""}\n${value}`.trim();
  }
}

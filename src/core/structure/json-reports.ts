/**
 * JSON test reports, read as a stream (see `json-stream.ts`):
 * - **Jest / Vitest** `--json` (`--reporter=json`): `testResults[].assertionResults[]` with
 *   `ancestorTitles`, `title`, `status` (`passed`, `failed`; `pending`, `skipped`, `todo`,
 *   `disabled` count as skipped), `duration` (ms), `failureMessages`. Suite: the file
 *   (`testResults[].name`) and the ancestor titles. A file that failed to run and holds no
 *   test counts as one failed test named `(test file failed to run)`.
 * - **pytest-json-report** (`pytest --json-report`): `tests[]` with `nodeid`, `outcome`
 *   (`passed`, `failed`, `error` → failed; `skipped`, `xfailed` → skipped; `xpassed` → passed)
 *   and `setup`/`call`/`teardown` stages (`duration` in seconds, `crash.message`, `longrepr`).
 *   Suite: the node id up to its last `::`.
 * - **CTRF** (Common Test Report Format, reporters for Jest, Vitest, Playwright, Cypress,
 *   pytest, Go and more): `results.tests[]` with `name`, `status` (`pending`, `other` → skipped),
 *   `duration` (ms), `message`, `trace`, `suite`, `filePath`.
 */
import { createJsonReader, type JsonPath, type JsonScalar } from "./json-stream.ts";
import { joinSuite, type TestCollector } from "./test-collector.ts";
import { LIMITS, type TestCaseEntry, type TestReportFormat, type TestStatus } from "./types.ts";

type RecordKind = "jest-file" | "jest-test" | "pytest" | "ctrf";

const WANTED: Record<RecordKind, ReadonlySet<string>> = {
  "jest-file": new Set(["name", "message", "status"]),
  "jest-test": new Set([
    "ancestorTitles.*",
    "title",
    "fullName",
    "status",
    "duration",
    "failureMessages.*",
    "invocations",
  ]),
  pytest: new Set([
    "nodeid",
    "outcome",
    "setup.duration",
    "call.duration",
    "teardown.duration",
    "setup.crash.message",
    "call.crash.message",
    "teardown.crash.message",
    "setup.longrepr",
    "call.longrepr",
    "teardown.longrepr",
    "setup.stdout",
    "call.stdout",
    "teardown.stdout",
    "setup.stderr",
    "call.stderr",
    "teardown.stderr",
  ]),
  ctrf: new Set([
    "name",
    "status",
    "duration",
    "message",
    "trace",
    "suite",
    "suite.*",
    "filePath",
    "flaky",
    "retries",
    "stdout.*",
    "stderr.*",
  ]),
};

interface OpenRecord {
  kind: RecordKind;
  depth: number;
  fields: Map<string, JsonScalar[]>;
}

/** A test being read: its suites so far, and the fields of its entry known yet. */
interface PendingTest extends Pick<TestCaseEntry, "name" | "status" | "durationMs" | "message" | "flaky" | "retries"> {
  ancestors: string[];
}

function recordKind(path: JsonPath): RecordKind | null {
  const [first, second, third, fourth] = path;
  if (path.length === 2 && first === "testResults" && typeof second === "number") return "jest-file";
  if (path.length === 4 && first === "testResults" && third === "assertionResults" && typeof fourth === "number")
    return "jest-test";
  if (path.length === 2 && first === "tests" && typeof second === "number") return "pytest";
  if (path.length === 3 && first === "results" && second === "tests" && typeof third === "number") return "ctrf";
  return null;
}

const text = (values: JsonScalar[] | undefined): string | null =>
  values?.find((value): value is string => typeof value === "string") ?? null;
const number = (values: JsonScalar[] | undefined): number | null =>
  values?.find((value): value is number => typeof value === "number") ?? null;
const joined = (values: (JsonScalar[] | undefined)[]): string | null =>
  values
    .flatMap((list) => list ?? [])
    .filter((value): value is string => typeof value === "string" && value.length > 0)
    .join("") || null;

/** What the reader has seen of the report. */
interface ReportReadState {
  readonly collector: TestCollector;
  /** The records (a test, a Jest file) being read, innermost last. */
  readonly open: OpenRecord[];
  readonly rootKeys: Set<string>;
  format: TestReportFormat | null;
  /** A Jest file's tests, held until the file's own record names it. */
  pending: PendingTest[];
}

export function createJsonReportReader(collector: TestCollector) {
  const state: ReportReadState = { collector, open: [], rootKeys: new Set<string>(), format: null, pending: [] };
  const reader = createJsonReader(
    {
      open: (path, kind) => openValue(state, path, kind),
      close: (path, kind) => closeValue(state, path, kind),
      value: (path, value) => readValue(state, path, value),
    },
    LIMITS.message,
  );
  return {
    write: reader.write,
    end() {
      reader.end();
      if (state.pending.length > 0) flushJestFile(state, "", null);
    },
    /** The format seen, from the records or, for a report without tests, from its top-level keys. */
    format(): TestReportFormat | null {
      const { format, rootKeys } = state;
      if (format) return format;
      if (rootKeys.has("numTotalTests") || rootKeys.has("testResults")) return "jest";
      if (rootKeys.has("exitcode") || rootKeys.has("collectors")) return "pytest-json";
      if (rootKeys.has("results")) return "ctrf";
      return null;
    },
    /** Flushes what a cut-off document held (the extraction cap was reached). */
    abandon() {
      if (state.pending.length > 0) flushJestFile(state, "", null);
    },
  };
}

function openValue(state: ReportReadState, path: JsonPath, kind: "object" | "array"): void {
  if (path.length === 1 && typeof path[0] === "string" && state.rootKeys.size < 100) state.rootKeys.add(path[0]);
  if (kind !== "object") return;
  const kindOfRecord = recordKind(path);
  if (kindOfRecord) state.open.push({ kind: kindOfRecord, depth: path.length, fields: new Map() });
}

function closeValue(state: ReportReadState, path: JsonPath, kind: "object" | "array"): void {
  const top = state.open.at(-1);
  if (kind === "object" && top && top.depth === path.length) {
    state.open.pop();
    finishRecord(state, top);
  }
}

/** A value inside a record: kept when the record's kind wants that field. */
function readValue(state: ReportReadState, path: JsonPath, value: JsonScalar): void {
  if (path.length === 1 && typeof path[0] === "string" && state.rootKeys.size < 100) state.rootKeys.add(path[0]);
  const top = state.open.at(-1);
  if (!top || path.length <= top.depth) return;
  let key = "";
  for (let index = top.depth; index < path.length; index++) {
    const segment = path[index];
    key += (index === top.depth ? "" : ".") + (typeof segment === "number" ? "*" : segment);
  }
  if (!WANTED[top.kind].has(key)) return;
  const values = top.fields.get(key);
  if (!values) top.fields.set(key, [value]);
  else if (values.length < 32) values.push(value);
}

function flushJestFile(state: ReportReadState, file: string, fields: Map<string, JsonScalar[]> | null): void {
  const { pending } = state;
  if (pending.length === 0 && fields && text(fields.get("status")) === "failed") {
    pending.push({
      ancestors: [],
      name: "(test file failed to run)",
      status: "failed",
      durationMs: null,
      message: text(fields.get("message")),
    });
  }
  for (const test of pending) state.collector.add({ ...test, suite: joinSuite([file, ...test.ancestors]) });
  state.pending = [];
}

function finishRecord(state: ReportReadState, record: OpenRecord): void {
  const { fields } = record;
  if (record.kind === "jest-test") {
    state.format = "jest";
    const test = jestTest(fields);
    if (state.pending.length < LIMITS.tests) state.pending.push(test);
    else state.collector.add({ ...test, suite: joinSuite(test.ancestors) });
  } else if (record.kind === "jest-file") {
    state.format = "jest";
    flushJestFile(state, text(fields.get("name")) ?? "", fields);
  } else if (record.kind === "pytest") {
    if (text(fields.get("nodeid")) === null) return; // not pytest-json-report's shape
    state.format = "pytest-json";
    addPytestTest(state.collector, fields);
  } else {
    state.format = "ctrf";
    addCtrfTest(state.collector, fields);
  }
}

/** One of a Jest file's `assertionResults`. */
function jestTest(fields: Map<string, JsonScalar[]>): PendingTest {
  const status = text(fields.get("status"));
  // jest-circus with retryTimes: `invocations` counts the runs.
  const retries = Math.max(0, (number(fields.get("invocations")) ?? 1) - 1);
  const testStatus: TestStatus =
    status === "passed" || status === "focused" ? "passed" : status === "failed" ? "failed" : "skipped";
  return {
    ancestors: (fields.get("ancestorTitles.*") ?? []).filter((value): value is string => typeof value === "string"),
    name: text(fields.get("title")) ?? text(fields.get("fullName")) ?? "",
    status: testStatus,
    durationMs: number(fields.get("duration")),
    message: (fields.get("failureMessages.*") ?? []).filter((value) => typeof value === "string").join("\n") || null,
    retries,
    flaky: retries > 0 && testStatus === "passed",
  };
}

/** One of pytest-json-report's `tests` (its `nodeid` is there). */
function addPytestTest(collector: TestCollector, fields: Map<string, JsonScalar[]>): void {
  const nodeId = text(fields.get("nodeid")) as string;
  const outcome = text(fields.get("outcome"));
  const split = nodeId.lastIndexOf("::");
  const stages = ["setup", "call", "teardown"];
  const durations = stages.map((stage) => number(fields.get(`${stage}.duration`))).filter((value) => value !== null);
  const message =
    stages.map((stage) => text(fields.get(`${stage}.crash.message`))).find((value) => value) ??
    stages.map((stage) => text(fields.get(`${stage}.longrepr`))).find((value) => value) ??
    null;
  collector.add({
    suite: split === -1 ? "" : nodeId.slice(0, split).replaceAll("::", " › "),
    name: split === -1 ? nodeId : nodeId.slice(split + 2),
    status:
      outcome === "passed" || outcome === "xpassed"
        ? "passed"
        : outcome === "failed" || outcome === "error"
          ? "failed"
          : "skipped",
    durationMs: durations.length > 0 ? durations.reduce((sum, value) => sum + value, 0) * 1000 : null,
    message,
    stdout: joined(stages.map((stage) => fields.get(`${stage}.stdout`))),
    stderr: joined(stages.map((stage) => fields.get(`${stage}.stderr`))),
  });
}

/** One of a CTRF report's `results.tests`. */
function addCtrfTest(collector: TestCollector, fields: Map<string, JsonScalar[]>): void {
  const status = text(fields.get("status"));
  const suites = (fields.get("suite.*") ?? fields.get("suite") ?? []).filter(
    (value): value is string => typeof value === "string",
  );
  collector.add({
    suite: joinSuite(suites.length > 0 ? suites : [text(fields.get("filePath"))]),
    name: text(fields.get("name")) ?? "",
    status: status === "passed" ? "passed" : status === "failed" ? "failed" : "skipped",
    durationMs: number(fields.get("duration")),
    message: [text(fields.get("message")), text(fields.get("trace"))].filter(Boolean).join("\n") || null,
    flaky: fields.get("flaky")?.[0] === true,
    retries: number(fields.get("retries")) ?? 0,
    stdout: (fields.get("stdout.*") ?? []).filter((value) => typeof value === "string").join("\n") || null,
    stderr: (fields.get("stderr.*") ?? []).filter((value) => typeof value === "string").join("\n") || null,
  });
}

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
import { LIMITS, type TestReportFormat, type TestStatus } from "./types.ts";

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

interface PendingTest {
  ancestors: string[];
  name: string;
  status: TestStatus;
  durationMs: number | null;
  message: string | null;
  flaky?: boolean;
  retries?: number;
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

export function createJsonReportReader(collector: TestCollector) {
  const open: OpenRecord[] = [];
  const rootKeys = new Set<string>();
  let format: TestReportFormat | null = null;
  let pending: PendingTest[] = [];

  const flushJestFile = (file: string, fields: Map<string, JsonScalar[]> | null) => {
    if (pending.length === 0 && fields && text(fields.get("status")) === "failed") {
      pending.push({
        ancestors: [],
        name: "(test file failed to run)",
        status: "failed",
        durationMs: null,
        message: text(fields.get("message")),
      });
    }
    for (const test of pending) collector.add({ ...test, suite: joinSuite([file, ...test.ancestors]) });
    pending = [];
  };

  const finishRecord = (record: OpenRecord) => {
    const { fields } = record;
    if (record.kind === "jest-test") {
      format = "jest";
      const status = text(fields.get("status"));
      // jest-circus with retryTimes: `invocations` counts the runs.
      const retries = Math.max(0, (number(fields.get("invocations")) ?? 1) - 1);
      const testStatus: TestStatus =
        status === "passed" || status === "focused" ? "passed" : status === "failed" ? "failed" : "skipped";
      const test: PendingTest = {
        ancestors: (fields.get("ancestorTitles.*") ?? []).filter((value): value is string => typeof value === "string"),
        name: text(fields.get("title")) ?? text(fields.get("fullName")) ?? "",
        status: testStatus,
        durationMs: number(fields.get("duration")),
        message:
          (fields.get("failureMessages.*") ?? []).filter((value) => typeof value === "string").join("\n") || null,
        retries,
        flaky: retries > 0 && testStatus === "passed",
      };
      if (pending.length < LIMITS.tests) pending.push(test);
      else collector.add({ ...test, suite: joinSuite(test.ancestors) });
    } else if (record.kind === "jest-file") {
      format = "jest";
      flushJestFile(text(fields.get("name")) ?? "", fields);
    } else if (record.kind === "pytest") {
      const nodeId = text(fields.get("nodeid"));
      if (nodeId === null) return; // not pytest-json-report's shape
      format = "pytest-json";
      const outcome = text(fields.get("outcome"));
      const split = nodeId.lastIndexOf("::");
      const stages = ["setup", "call", "teardown"];
      const durations = stages
        .map((stage) => number(fields.get(`${stage}.duration`)))
        .filter((value) => value !== null);
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
    } else {
      format = "ctrf";
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
  };

  const reader = createJsonReader(
    {
      open(path, kind) {
        if (path.length === 1 && typeof path[0] === "string" && rootKeys.size < 100) rootKeys.add(path[0]);
        if (kind !== "object") return;
        const kindOfRecord = recordKind(path);
        if (kindOfRecord) open.push({ kind: kindOfRecord, depth: path.length, fields: new Map() });
      },
      close(path, kind) {
        const top = open.at(-1);
        if (kind === "object" && top && top.depth === path.length) {
          open.pop();
          finishRecord(top);
        }
      },
      value(path, value) {
        if (path.length === 1 && typeof path[0] === "string" && rootKeys.size < 100) rootKeys.add(path[0]);
        const top = open.at(-1);
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
      },
    },
    LIMITS.message,
  );

  return {
    write: reader.write,
    end() {
      reader.end();
      if (pending.length > 0) flushJestFile("", null);
    },
    /** The format seen, from the records or, for a report without tests, from its top-level keys. */
    format(): TestReportFormat | null {
      if (format) return format;
      if (rootKeys.has("numTotalTests") || rootKeys.has("testResults")) return "jest";
      if (rootKeys.has("exitcode") || rootKeys.has("collectors")) return "pytest-json";
      if (rootKeys.has("results")) return "ctrf";
      return null;
    },
    /** Flushes what a cut-off document held (the extraction cap was reached). */
    abandon() {
      if (pending.length > 0) flushJestFile("", null);
    },
  };
}

/**
 * JUnit XML, as written by `bun test --reporter=junit`, `node --test --test-reporter=junit`,
 * `pytest --junitxml`, Maven Surefire, Gradle, go-junit-report, jest-junit, cargo-nextest,
 * Catch2, Playwright and others.
 *
 * A `<testcase>` is one test: `<failure>` or `<error>` make it failed, `<skipped>` skipped,
 * otherwise passed. Its suite is the chain of enclosing `<testsuite name>`s, followed by its
 * `classname` when that adds something (node writes the placeholder `test`, which is left out).
 * The failure's text (the stack trace) is kept whole up to the message cap, after its `message`
 * attribute when the text does not already start with it. Surefire's reruns: `flakyFailure` /
 * `flakyError` mark a test that passed on a retry (flaky), `rerunFailure` / `rerunError` count the
 * retries of one that kept failing. `<system-out>` / `<system-err>` of a test are kept.
 *
 * TRX and NUnit XML are recognised by their root element and named in the parse error.
 */

import { joinSuite, type TestCollector } from "./test-collector.ts";
import { LIMITS, type TestStatus } from "./types.ts";
import { createXmlReader } from "./xml-stream.ts";

interface OpenCase {
  suite: string;
  name: string;
  status: TestStatus;
  durationMs: number | null;
  messageAttribute: string;
  details: string;
  flaky: boolean;
  retries: number;
  stdout: string;
  stderr: string;
}

/** Root elements of formats that are not JUnit, with the name the parse error gives them. */
const OTHER_FORMATS: Record<string, string> = {
  TestRun: "a TRX report (Visual Studio / dotnet test --logger trx)",
  "test-run": "an NUnit 3 report",
  "test-results": "an NUnit 2 report",
  assemblies: "an xUnit.net v2 XML report",
};

type Capture = "details" | "stdout" | "stderr" | null;

/** Where the reader is in the report. */
interface JunitReadState {
  readonly collector: TestCollector;
  /** Names of the open `<testsuite>` elements. */
  readonly suites: string[];
  current: OpenCase | null;
  /** What the text being read belongs to. */
  capture: Capture;
  sawRoot: boolean;
  depth: number;
}

export function createJunitReader(collector: TestCollector) {
  const state: JunitReadState = { collector, suites: [], current: null, capture: null, sawRoot: false, depth: 0 };
  const reader = createXmlReader({
    open: (name, attributes, selfClosing) => openElement(state, name, attributes, selfClosing),
    close: (name) => closeElement(state, name),
    text(text) {
      const { current, capture } = state;
      if (!current || capture === null) return;
      const limit = capture === "details" ? LIMITS.message : LIMITS.output;
      if (current[capture].length < limit) current[capture] += text;
    },
  });
  return {
    write: reader.write,
    /** "junit" once a JUnit element was seen, else null (another XML format). */
    format: () => (state.sawRoot ? ("junit" as const) : null),
    end() {
      reader.end();
      finishCase(state);
      if (!state.sawRoot) throw new Error("XML without <testsuites>, <testsuite> or <testcase>: not a JUnit report");
    },
  };
}

function finishCase(state: JunitReadState): void {
  const current = state.current;
  if (!current) return;
  const details = current.details.trim();
  const attribute = current.messageAttribute.trim();
  // Playwright's message attribute is the test's path and the text holds the error: keep both.
  const message =
    attribute && details && !details.startsWith(attribute) ? `${attribute}\n\n${details}` : details || attribute;
  state.collector.add({
    suite: current.suite,
    name: current.name,
    status: current.status,
    durationMs: current.durationMs,
    message: message || null,
    flaky: current.flaky && current.status === "passed",
    retries: current.retries,
    stdout: current.stdout,
    stderr: current.stderr,
  });
  state.current = null;
  state.capture = null;
}

function openElement(
  state: JunitReadState,
  name: string,
  attributes: Record<string, string>,
  selfClosing: boolean,
): void {
  if (state.depth++ === 0 && OTHER_FORMATS[name]) {
    throw new Error(
      `${OTHER_FORMATS[name]} is not supported: upload JUnit XML (most runners write it, e.g. dotnet test --logger junit), Jest/Vitest JSON, pytest-json-report, CTRF JSON or TAP`,
    );
  }
  if (name === "testsuites" || name === "testsuite") state.sawRoot = true;
  if (name === "testsuite") state.suites.push(attributes.name ?? "");
  else if (name === "testcase") openCase(state, attributes);
  else if (state.current && state.capture === null) openCaseChild(state, state.current, name, attributes, selfClosing);
}

function openCase(state: JunitReadState, attributes: Record<string, string>): void {
  finishCase(state);
  state.sawRoot = true;
  const className = attributes.classname ?? "";
  const chain = [...state.suites];
  if (className && className !== "test" && className !== chain.at(-1)) chain.push(className);
  const seconds = Number(attributes.time);
  state.current = {
    suite: joinSuite(chain),
    name: attributes.name ?? "",
    status: "passed",
    durationMs: attributes.time !== undefined && Number.isFinite(seconds) ? seconds * 1000 : null,
    messageAttribute: "",
    details: "",
    flaky: false,
    retries: 0,
    stdout: "",
    stderr: "",
  };
}

/** An element inside a `<testcase>`: its outcome, retries, and output. */
function openCaseChild(
  state: JunitReadState,
  current: OpenCase,
  name: string,
  attributes: Record<string, string>,
  selfClosing: boolean,
): void {
  if (name === "failure" || name === "error") {
    current.status = "failed";
    current.messageAttribute ||= attributes.message ?? attributes.type ?? "";
    state.capture = selfClosing ? null : "details";
  } else if (name === "skipped") {
    if (current.status !== "failed") current.status = "skipped";
    const message = attributes.message;
    if (message && message !== "true") current.messageAttribute ||= message;
    state.capture = selfClosing ? null : "details";
  } else if (name === "flakyFailure" || name === "flakyError") {
    current.flaky = true;
    current.retries++;
  } else if (name === "rerunFailure" || name === "rerunError") {
    current.retries++;
  } else if (name === "system-out" && !selfClosing) state.capture = "stdout";
  else if (name === "system-err" && !selfClosing) state.capture = "stderr";
}

function closeElement(state: JunitReadState, name: string): void {
  state.depth--;
  const capture = state.capture;
  if (name === "testsuite") state.suites.pop();
  else if (name === "testcase") finishCase(state);
  else if (
    (capture === "details" && (name === "failure" || name === "error" || name === "skipped")) ||
    (capture === "stdout" && name === "system-out") ||
    (capture === "stderr" && name === "system-err")
  )
    state.capture = null;
}

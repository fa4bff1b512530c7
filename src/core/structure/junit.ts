/**
 * JUnit XML, as written by `bun test --reporter=junit`, `node --test --test-reporter=junit`,
 * `pytest --junitxml`, Maven Surefire, Gradle, go-junit-report, jest-junit and others.
 *
 * A `<testcase>` is one test: `<failure>` or `<error>` make it failed, `<skipped>` skipped,
 * otherwise passed. Its suite is the chain of enclosing `<testsuite name>`s, followed by its
 * `classname` when that adds something (node writes the placeholder `test`, which is left out).
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
}

export function createJunitReader(collector: TestCollector) {
  const suites: string[] = [];
  let current: OpenCase | null = null;
  let capturing = false;
  let sawRoot = false;

  const finishCase = () => {
    if (!current) return;
    const details = current.details.trim();
    collector.add({
      suite: current.suite,
      name: current.name,
      status: current.status,
      durationMs: current.durationMs,
      message: details || current.messageAttribute || null,
    });
    current = null;
    capturing = false;
  };

  const reader = createXmlReader({
    open(name, attributes, selfClosing) {
      if (name === "testsuites" || name === "testsuite") sawRoot = true;
      if (name === "testsuite") suites.push(attributes.name ?? "");
      else if (name === "testcase") {
        finishCase();
        sawRoot = true;
        const className = attributes.classname ?? "";
        const chain = [...suites];
        if (className && className !== "test" && className !== chain.at(-1)) chain.push(className);
        const seconds = Number(attributes.time);
        current = {
          suite: joinSuite(chain),
          name: attributes.name ?? "",
          status: "passed",
          durationMs: attributes.time !== undefined && Number.isFinite(seconds) ? seconds * 1000 : null,
          messageAttribute: "",
          details: "",
        };
      } else if (current && (name === "failure" || name === "error")) {
        current.status = "failed";
        current.messageAttribute ||= attributes.message ?? attributes.type ?? "";
        capturing = !selfClosing;
      } else if (current && name === "skipped") {
        if (current.status !== "failed") current.status = "skipped";
        const message = attributes.message;
        if (message && message !== "true") current.messageAttribute ||= message;
        capturing = !selfClosing;
      }
    },
    close(name) {
      if (name === "testsuite") suites.pop();
      else if (name === "testcase") finishCase();
      else if (name === "failure" || name === "error" || name === "skipped") capturing = false;
    },
    text(text) {
      if (capturing && current && current.details.length < LIMITS.message) current.details += text;
    },
  });

  return {
    write: reader.write,
    end() {
      reader.end();
      finishCase();
      if (!sawRoot) throw new Error("XML without <testsuites>, <testsuite> or <testcase>: not a JUnit report");
    },
  };
}

/**
 * TAP (Test Anything Protocol, versions 13 and 14), as `node --test` writes it when its output
 * is not a terminal, and `tap`, `tape`, `prove`. Subtests are indented by four spaces; a test
 * point that has subtests (or whose YAML block says `type: 'suite'`) is a suite, not a test.
 * `not ok` is failed (unless `# TODO`), `# SKIP` and `# TODO` are skipped; `duration_ms` and
 * `error` come from the YAML block.
 */
import { createLineReader } from "./lines.ts";
import { joinSuite, type TestCollector } from "./test-collector.ts";
import { LIMITS, type TestStatus } from "./types.ts";

const TEST_POINT = /^(\s*)(not ok|ok)\b(?:\s+\d+)?(?:\s*-)?\s*(.*)$/;
const DIRECTIVE = /\s+#\s*(SKIP|TODO)\b\s*(.*)$/i;
const SUBTEST = /^(\s*)# Subtest: (.*)$/;

interface PendingPoint {
  level: number;
  name: string;
  status: TestStatus;
  message: string | null;
  durationMs: number | null;
  isSuite: boolean;
  inYaml: boolean;
  yamlIndent: number;
}

/** True when the text starts like TAP. */
export function looksLikeTap(start: string): boolean {
  return /^(?:TAP version \d+|1\.\.\d+|(?:not )?ok\b|# Subtest:)/.test(start);
}

export function createTapReader(collector: TestCollector) {
  const subtestNames: string[] = [];
  const hasChildren: boolean[] = [];
  let point: PendingPoint | null = null;

  const flush = () => {
    if (!point) return;
    const current = point;
    point = null;
    if (current.isSuite) return;
    collector.add({
      suite: joinSuite(subtestNames.slice(0, current.level)),
      name: current.name,
      status: current.status,
      durationMs: current.durationMs,
      message: current.message,
    });
  };

  const yamlLine = (current: PendingPoint, line: string) => {
    const trimmed = line.trim();
    if (trimmed === "...") {
      current.inYaml = false;
      return;
    }
    const separator = trimmed.indexOf(":");
    if (separator === -1) return;
    const key = trimmed.slice(0, separator);
    const value = trimmed
      .slice(separator + 1)
      .trim()
      .replace(/^'(.*)'$/, "$1")
      .replace(/^"(.*)"$/, "$1");
    if (key === "duration_ms" && Number.isFinite(Number(value))) current.durationMs = Number(value);
    else if (key === "type" && value === "suite") current.isSuite = true;
    else if ((key === "error" || key === "message") && value && !/^[|>]/.test(value) && current.message === null)
      current.message = value.slice(0, LIMITS.message);
  };

  const reader = createLineReader((line) => {
    if (point?.inYaml) {
      yamlLine(point, line);
      return;
    }
    if (point && line.trim() === "---" && line.length - line.trimStart().length > point.yamlIndent - 2) {
      point.inYaml = true;
      return;
    }
    const subtest = SUBTEST.exec(line);
    if (subtest) {
      flush();
      const level = Math.floor((subtest[1] as string).length / 4);
      subtestNames.length = level;
      subtestNames[level] = subtest[2] as string;
      return;
    }
    const match = TEST_POINT.exec(line);
    if (!match) return;
    flush();
    const level = Math.floor((match[1] as string).length / 4);
    let description = match[3] as string;
    let status: TestStatus = match[2] === "ok" ? "passed" : "failed";
    let message: string | null = null;
    const directive = DIRECTIVE.exec(description);
    if (directive) {
      description = description.slice(0, directive.index);
      status = "skipped";
      message = directive[2] ? directive[2] : null;
    }
    const isSuite = hasChildren[level] === true;
    hasChildren[level] = false;
    if (level > 0) hasChildren[level - 1] = true;
    hasChildren.length = level + 1;
    point = {
      level,
      name: description.trim(),
      status,
      message,
      durationMs: null,
      isSuite,
      inYaml: false,
      yamlIndent: (match[1] as string).length + 2,
    };
  });

  return {
    write: reader.write,
    end() {
      reader.end();
      flush();
    },
  };
}

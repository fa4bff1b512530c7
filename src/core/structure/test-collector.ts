/** Gathers test outcomes from any report reader: totals always, entries up to the cap. */
import { cap, LIMITS, type TestCaseEntry, type TestReportFormat, type TestSummary } from "./types.ts";

export interface TestCollector {
  add(test: TestCaseEntry): void;
  readonly tests: TestCaseEntry[];
  summary(
    format: TestReportFormat | null,
    extra: { bytesExamined: number; parseError: string | null; truncated: boolean },
  ): TestSummary;
}

export function createTestCollector(): TestCollector {
  const tests: TestCaseEntry[] = [];
  const counts = { total: 0, passed: 0, failed: 0, skipped: 0, flaky: 0 };
  let duration = 0;
  let sawDuration = false;
  let dropped = false;
  return {
    tests,
    add(test) {
      counts.total++;
      counts[test.status]++;
      if (test.flaky) counts.flaky++;
      // A skipped test never ran: its 0 (or absent) time is not a measured duration.
      const measured = test.durationMs !== null && Number.isFinite(test.durationMs) && test.durationMs >= 0;
      const durationMs = !measured || (test.status === "skipped" && test.durationMs === 0) ? null : test.durationMs;
      if (durationMs !== null) {
        duration += durationMs;
        sawDuration = true;
      }
      if (tests.length >= LIMITS.tests) {
        dropped = true;
        return;
      }
      const message = test.message?.trim();
      const output = (text: string | null | undefined) => {
        const trimmed = text?.trim();
        return trimmed ? cap(trimmed, LIMITS.output) : null;
      };
      tests.push({
        suite: cap(test.suite, LIMITS.name),
        name: cap(test.name || "(unnamed)", LIMITS.name),
        status: test.status,
        durationMs: durationMs === null ? null : Math.round(durationMs * 1000) / 1000,
        message: message ? cap(message, LIMITS.message) : null,
        flaky: test.flaky === true,
        retries: Math.max(0, Math.floor(test.retries ?? 0)),
        stdout: output(test.stdout),
        stderr: output(test.stderr),
      });
    },
    summary(format, extra) {
      return {
        kind: "test",
        format,
        ...counts,
        durationMs: sawDuration ? Math.round(duration * 1000) / 1000 : null,
        bytesExamined: extra.bytesExamined,
        truncated: extra.truncated || dropped,
        parseError: extra.parseError,
      };
    },
  };
}

/** Joins non-empty suite names with " › ". */
export function joinSuite(parts: readonly (string | null | undefined)[]): string {
  return parts.filter((part): part is string => typeof part === "string" && part.length > 0).join(" › ");
}

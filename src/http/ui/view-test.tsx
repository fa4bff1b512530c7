/** @jsxImportSource hono/jsx */
/** Test results: totals and a table of tests, filtered by status and name through the query string. */
import type { FC } from "hono/jsx";
import type { TestCaseEntry, TestCaseOrder, TestStatus } from "../../contracts/structure.ts";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import type { ArtifactStore } from "../../core/store.ts";
import { classifyLogLine } from "../../core/structure/log-rules.ts";
import { artifactPath, highlight, Notice } from "./layout.tsx";

export const TEST_PAGE_SIZE = 200;

const ORDERS: Record<TestCaseOrder, string> = {
  "failures-first": "failures first",
  duration: "slowest first",
  report: "report order",
};

export function parseTestFilter(query: Record<string, string | undefined>): {
  status: TestStatus | undefined;
  contains: string | undefined;
  order: TestCaseOrder;
  page: number;
} {
  const status = query.status;
  const page = Number(query.page ?? "1");
  const sort = query.sort;
  return {
    status: status === "failed" || status === "passed" || status === "skipped" ? status : undefined,
    contains: query.q?.trim() ? query.q.trim().slice(0, 200) : undefined,
    order: sort === "duration" || sort === "report" ? sort : "failures-first",
    page: Number.isSafeInteger(page) && page > 0 ? page : 1,
  };
}

export interface SuiteCount {
  suite: string;
  total: number;
  failed: number;
  skipped: number;
  flaky: number;
}

/** Tests read for the suite table at most. */
const SUITE_SCAN_LIMIT = 5000;

/** Tests per suite, failing suites first: from the first 5,000 tests (`complete` says whether that was all). */
export async function countSuites(
  store: ArtifactStore,
  target: Parameters<ArtifactStore["testCases"]>[0],
): Promise<{ suites: SuiteCount[]; complete: boolean }> {
  const bySuite = new Map<string, SuiteCount>();
  let read = 0;
  let total = 0;
  for (let offset = 0; offset < SUITE_SCAN_LIMIT; offset += 1000) {
    const page = await store.testCases(target, { limit: 1000, offset, order: "report" });
    total = page.total;
    for (const test of page.items) {
      const suite = bySuite.get(test.suite) ?? { suite: test.suite, total: 0, failed: 0, skipped: 0, flaky: 0 };
      suite.total++;
      if (test.status === "failed") suite.failed++;
      if (test.status === "skipped") suite.skipped++;
      if (test.flaky) suite.flaky++;
      bySuite.set(test.suite, suite);
    }
    read += page.items.length;
    if (read >= total || page.items.length === 0) break;
  }
  const suites = [...bySuite.values()].sort((a, b) => b.failed - a.failed || (a.suite < b.suite ? -1 : 1));
  return { suites, complete: read >= total };
}

/**
 * The line of a failure message to show before it is expanded: the first line that reads as an
 * error (Playwright's message starts with the test's path, pytest's with the test's source), else
 * the first line.
 *
 * @example
 * messageHeadline("[chrome] › grid.spec.ts:202:11 › sorts\n\n  Error: locator.click: Target closed"); // "Error: locator.click: Target closed"
 */
export function messageHeadline(message: string | null | undefined): string {
  if (!message) return "";
  const lines = message.split("\n").slice(0, 200);
  const error = lines.find((line) => classifyLogLine(line) === "error");
  return (error ?? lines.find((line) => line.trim() !== "") ?? "").trim();
}

const STATUS_LABEL: Record<TestStatus, string> = { passed: "✓ passed", failed: "✗ failed", skipped: "○ skipped" };

export const TestView: FC<{
  metadata: ArtifactMetadata;
  cases: { items: TestCaseEntry[]; total: number };
  filter: ReturnType<typeof parseTestFilter>;
  suites: { suites: SuiteCount[]; complete: boolean };
}> = ({ metadata, cases, filter, suites }) => {
  const summary = metadata.summary?.kind === "test" ? metadata.summary : null;
  const base = artifactPath(metadata.specName, metadata.taskId, metadata.type);
  const pageLink = (page: number) => {
    const query = new URLSearchParams({ version: String(metadata.version), page: String(page) });
    if (filter.status) query.set("status", filter.status);
    if (filter.contains) query.set("q", filter.contains);
    if (filter.order !== "failures-first") query.set("sort", filter.order);
    return `${base}?${query.toString()}`;
  };
  const pages = Math.max(1, Math.ceil(cases.total / TEST_PAGE_SIZE));
  return (
    <section aria-labelledby="tests-heading">
      <h2 id="tests-heading">Test results</h2>
      {summary ? (
        <ul class="facts" aria-label="Totals">
          <li>{summary.total} tests</li>
          <li>
            <span class="badge badge-good">{summary.passed} passed</span>
          </li>
          <li>
            <span class={summary.failed > 0 ? "badge badge-bad" : "badge"}>{summary.failed} failed</span>
          </li>
          <li>
            <span class="badge">{summary.skipped} skipped</span>
          </li>
          {summary.flaky ? (
            <li>
              <span class="badge flaky">{summary.flaky} flaky</span>
            </li>
          ) : null}
          {summary.durationMs !== null ? <li>{(summary.durationMs / 1000).toFixed(2)} s in tests</li> : null}
          {summary.format ? <li class="muted">read as {summary.format}</li> : null}
        </ul>
      ) : null}
      {summary?.parseError ? (
        <Notice kind="warning">This report could not be read completely: {summary.parseError}</Notice>
      ) : null}
      {suites.suites.length > 1 ? <SuiteTable suites={suites} base={base} version={metadata.version} /> : null}
      <form method="get" action={base} class="toolbar" aria-label="Filter tests">
        <input type="hidden" name="version" value={String(metadata.version)} />
        <label for="test-status">Status</label>
        <select id="test-status" name="status">
          <option value="" selected={!filter.status}>
            all
          </option>
          {(["failed", "passed", "skipped"] as const).map((status) => (
            <option value={status} selected={filter.status === status}>
              {status}
            </option>
          ))}
        </select>
        <label for="test-q">Name or suite contains</label>
        <input id="test-q" name="q" type="search" value={filter.contains ?? ""} />
        <label for="test-sort">Order</label>
        <select id="test-sort" name="sort">
          {(Object.keys(ORDERS) as TestCaseOrder[]).map((order) => (
            <option value={order} selected={filter.order === order}>
              {ORDERS[order]}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
        {filter.status || filter.contains ? <a href={`${base}?version=${metadata.version}`}>Clear filter</a> : null}
      </form>
      <p role="status" id="test-count">
        {cases.total} test{cases.total === 1 ? "" : "s"} match{cases.total === 1 ? "es" : ""}
        {pages > 1 ? ` · page ${filter.page} of ${pages}` : ""}
      </p>
      <table id="test-table">
        <caption>Tests{filter.status ? ` (${filter.status})` : ""}</caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Suite</th>
            <th scope="col">Test</th>
            <th scope="col" class="num">
              Duration
            </th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {cases.items.map((test) => (
            <TestRow test={test} filter={filter} />
          ))}
        </tbody>
      </table>
      {pages > 1 ? (
        <nav class="pager" aria-label="Pages of tests">
          {filter.page > 1 ? <a href={pageLink(filter.page - 1)}>Previous page</a> : null}
          {filter.page < pages ? <a href={pageLink(filter.page + 1)}>Next page</a> : null}
        </nav>
      ) : null}
    </section>
  );
};

const SUITES_SHOWN = 50;

const SuiteTable: FC<{ suites: { suites: SuiteCount[]; complete: boolean }; base: string; version: number }> = ({
  suites,
  base,
  version,
}) => (
  <details class="suites" open={suites.suites.some((suite) => suite.failed > 0)}>
    <summary>
      {suites.suites.length} suites{suites.complete ? "" : " (in the first 5,000 tests)"}, failing suites first
    </summary>
    <table id="suite-table">
      <caption class="muted">Tests per suite</caption>
      <thead>
        <tr>
          <th scope="col">Suite</th>
          <th scope="col" class="num">
            Tests
          </th>
          <th scope="col" class="num">
            Failed
          </th>
          <th scope="col" class="num">
            Skipped
          </th>
          <th scope="col" class="num">
            Flaky
          </th>
        </tr>
      </thead>
      <tbody>
        {suites.suites.slice(0, SUITES_SHOWN).map((suite) => (
          <tr class={suite.failed > 0 ? "failed" : "passed"}>
            <td>
              <a href={`${base}?${new URLSearchParams({ version: String(version), q: suite.suite }).toString()}`}>
                {suite.suite || "(no suite)"}
              </a>
            </td>
            <td class="num">{suite.total}</td>
            <td class="num">{suite.failed > 0 ? <span class="badge badge-bad">{suite.failed}</span> : 0}</td>
            <td class="num">{suite.skipped}</td>
            <td class="num">{suite.flaky}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </details>
);

const TestRow: FC<{ test: TestCaseEntry; filter: ReturnType<typeof parseTestFilter> }> = ({ test, filter }) => {
  const firstLine = messageHeadline(test.message);
  const hasMore = (test.message?.includes("\n") ?? false) || test.stdout || test.stderr;
  return (
    <tr class={test.status}>
      <td>
        {STATUS_LABEL[test.status]}
        {test.flaky ? (
          <>
            {" "}
            <span class="badge flaky" title="failed, then passed on a retry">
              flaky
            </span>
          </>
        ) : null}
        {test.retries ? (
          <span class="muted">
            {" "}
            · {test.retries} {test.retries === 1 ? "retry" : "retries"}
          </span>
        ) : null}
      </td>
      <td>{highlight(test.suite, filter.contains)}</td>
      <td>{highlight(test.name, filter.contains)}</td>
      <td class="num">
        {test.durationMs === null ? "–" : `${test.durationMs.toFixed(test.durationMs < 10 ? 2 : 0)} ms`}
      </td>
      <td>
        {test.message === null && !hasMore ? null : hasMore ? (
          <details>
            <summary>{firstLine || "output"}</summary>
            {test.message ? <pre class="message">{test.message}</pre> : null}
            {test.stdout ? (
              <div class="output">
                <h4>stdout</h4>
                <pre>{test.stdout}</pre>
              </div>
            ) : null}
            {test.stderr ? (
              <div class="output">
                <h4>stderr</h4>
                <pre>{test.stderr}</pre>
              </div>
            ) : null}
          </details>
        ) : (
          <pre>{test.message}</pre>
        )}
      </td>
    </tr>
  );
};

/** @jsxImportSource hono/jsx */
/** Test results: totals and a table of tests, filtered by status and name through the query string. */
import type { FC } from "hono/jsx";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import type { TestCaseEntry, TestStatus } from "../../core/structure/types.ts";
import { artifactPath, highlight, Notice } from "./layout.tsx";

export const TEST_PAGE_SIZE = 200;

export function parseTestFilter(query: Record<string, string | undefined>): {
  status: TestStatus | undefined;
  contains: string | undefined;
  page: number;
} {
  const status = query.status;
  const page = Number(query.page ?? "1");
  return {
    status: status === "failed" || status === "passed" || status === "skipped" ? status : undefined,
    contains: query.q?.trim() ? query.q.trim().slice(0, 200) : undefined,
    page: Number.isSafeInteger(page) && page > 0 ? page : 1,
  };
}

const STATUS_LABEL: Record<TestStatus, string> = { passed: "✓ passed", failed: "✗ failed", skipped: "○ skipped" };

export const TestView: FC<{
  metadata: ArtifactMetadata;
  cases: { items: TestCaseEntry[]; total: number };
  filter: ReturnType<typeof parseTestFilter>;
}> = ({ metadata, cases, filter }) => {
  const summary = metadata.summary?.kind === "test" ? metadata.summary : null;
  const base = artifactPath(metadata.specName, metadata.taskId, metadata.type);
  const pageLink = (page: number) => {
    const query = new URLSearchParams({ version: String(metadata.version), page: String(page) });
    if (filter.status) query.set("status", filter.status);
    if (filter.contains) query.set("q", filter.contains);
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
          {summary.durationMs !== null ? <li>{(summary.durationMs / 1000).toFixed(2)} s in tests</li> : null}
          {summary.format ? <li class="muted">read as {summary.format}</li> : null}
        </ul>
      ) : null}
      {summary?.parseError ? (
        <Notice kind="warning">This report could not be read completely: {summary.parseError}</Notice>
      ) : null}
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
          {cases.items.map((test) => {
            const firstLine = test.message?.split("\n")[0] ?? "";
            return (
              <tr class={test.status}>
                <td>{STATUS_LABEL[test.status]}</td>
                <td>{highlight(test.suite, filter.contains)}</td>
                <td>{highlight(test.name, filter.contains)}</td>
                <td class="num">
                  {test.durationMs === null ? "–" : `${test.durationMs.toFixed(test.durationMs < 10 ? 2 : 0)} ms`}
                </td>
                <td>
                  {test.message === null ? null : test.message.includes("\n") ? (
                    <details>
                      <summary>{firstLine}</summary>
                      <pre>{test.message}</pre>
                    </details>
                  ) : (
                    <pre>{test.message}</pre>
                  )}
                </td>
              </tr>
            );
          })}
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

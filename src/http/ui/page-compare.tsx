/** @jsxImportSource hono/jsx */
/**
 * Attempts compared (`/ui/compare?spec=&type=&before=task[@v]&after=task[@v]`, the parameters of
 * `GET /v1/compare`): for test reports the tests newly failing, fixed, still failing, added and
 * removed; for diffs the files whose change differs.
 */
import type { FC } from "hono/jsx";
import type { ComparedVersion, DiffComparison, TestChange, TestComparison } from "../../core/compare.ts";
import { compareVersions } from "../routes-compare.ts";
import { render, type UiKit } from "./frame.tsx";
import { artifactPath, Notice, Page } from "./layout.tsx";
import { messageHeadline } from "./view-test.tsx";

/** The viewer's link to a comparison. */
export function compareHref(specName: string, type: string, before: string, after: string): string {
  return `/ui/compare?${new URLSearchParams({ spec: specName, type, before, after }).toString()}`;
}

const label = (version: ComparedVersion) => `${version.taskId} ${version.type} v${version.version}`;
const link = (version: ComparedVersion) =>
  artifactPath(version.specName, version.taskId, version.type, version.version);

export function registerComparePage({ app, store, page, signedIn }: UiKit): void {
  app.get(
    "/ui/compare",
    page(async (c) => {
      const query = c.req.query();
      const result = await compareVersions(store, c.get("principal"), query);
      const { before, after } = result;
      return render(
        c,
        <Page
          title={`Compare ${label(before)} → ${label(after)}`}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          trail={[
            { label: "Specs", href: "/ui" },
            { label: before.specName, href: `/ui/s/${encodeURIComponent(before.specName)}` },
            { label: after.taskId, href: artifactPath(after.specName, after.taskId) },
            { label: "Compare" },
          ]}
        >
          <p>
            <a href={link(before)}>{label(before)}</a> → <a href={link(after)}>{label(after)}</a>
          </p>
          <CompareForm query={query} />
          {result.truncated ? (
            <Notice kind="warning">The lists are cut at 1,000 entries each; the counts are complete.</Notice>
          ) : null}
          {result.kind === "test" ? <TestChanges result={result} /> : <DiffChanges result={result} />}
        </Page>,
      );
    }),
  );
}

const CompareForm: FC<{ query: Record<string, string | undefined> }> = ({ query }) => (
  <form method="get" action="/ui/compare" class="toolbar" aria-label="Choose the versions to compare">
    <input type="hidden" name="spec" value={query.spec ?? ""} />
    <input type="hidden" name="type" value={query.type ?? ""} />
    <label for="compare-before">Before</label>
    <input id="compare-before" name="before" value={query.before ?? ""} required size={18} />
    <label for="compare-after">After</label>
    <input id="compare-after" name="after" value={query.after ?? ""} required size={18} />
    <button type="submit">Compare</button>
  </form>
);

const STATUS = { passed: "✓ passed", failed: "✗ failed", skipped: "○ skipped" } as const;

const CATEGORIES: {
  key: "newlyFailing" | "fixed" | "stillFailing" | "added" | "removed";
  title: string;
  badge: string;
}[] = [
  { key: "newlyFailing", title: "Newly failing", badge: "badge-bad" },
  { key: "fixed", title: "Fixed", badge: "badge-good" },
  { key: "stillFailing", title: "Still failing", badge: "badge-bad" },
  { key: "added", title: "Added", badge: "" },
  { key: "removed", title: "Removed", badge: "" },
];

const TestChanges: FC<{ result: TestComparison }> = ({ result }) => (
  <>
    <ul class="facts" aria-label="Changes" id="compare-counts">
      {CATEGORIES.map((category) => (
        <li>
          <a href={`#${category.key}`} class={`badge ${result.counts[category.key] > 0 ? category.badge : ""}`}>
            {result.counts[category.key]} {category.title.toLowerCase()}
          </a>
        </li>
      ))}
      <li class="muted">{result.counts.unchanged} unchanged</li>
    </ul>
    {CATEGORIES.map((category) =>
      result[category.key].length === 0 ? null : (
        <section aria-labelledby={category.key}>
          <h2 id={category.key}>
            {category.title} ({result.counts[category.key]})
          </h2>
          <ChangeTable changes={result[category.key]} caption={category.title} />
        </section>
      ),
    )}
    {CATEGORIES.every((category) => result.counts[category.key] === 0) ? (
      <p>Both reports have the same tests with the same outcomes.</p>
    ) : null}
  </>
);

const ChangeTable: FC<{ changes: TestChange[]; caption: string }> = ({ changes, caption }) => (
  <table class="changes">
    <caption class="muted">{caption}: status before and after</caption>
    <thead>
      <tr>
        <th scope="col">Suite</th>
        <th scope="col">Test</th>
        <th scope="col">Before</th>
        <th scope="col">After</th>
        <th scope="col">Message</th>
      </tr>
    </thead>
    <tbody>
      {changes.map((change) => (
        <tr class={change.after ?? "removed"}>
          <td>{change.suite}</td>
          <td>{change.name}</td>
          <td>{change.before ? STATUS[change.before] : "–"}</td>
          <td>{change.after ? STATUS[change.after] : "–"}</td>
          <td>
            {change.message ? (
              <details>
                <summary>{messageHeadline(change.message)}</summary>
                <pre>{change.message}</pre>
              </details>
            ) : null}
          </td>
        </tr>
      ))}
    </tbody>
  </table>
);

const DiffChanges: FC<{ result: DiffComparison }> = ({ result }) => (
  <>
    <ul class="facts" aria-label="Changes" id="compare-counts">
      <li>
        <span class={`badge ${result.counts.differ > 0 ? "badge-warn" : ""}`}>
          {result.counts.differ} files changed differently
        </span>
      </li>
      <li>
        <span class="badge">{result.counts.onlyBefore} only before</span>
      </li>
      <li>
        <span class="badge">{result.counts.onlyAfter} only after</span>
      </li>
      <li class="muted">{result.counts.same} changed the same way</li>
    </ul>
    {result.files.length === 0 ? (
      <p>Both diffs make the same changes.</p>
    ) : (
      <table id="diff-changes">
        <caption>Files whose change differs</caption>
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {result.files.map((file) => (
            <tr>
              <td>{file.path}</td>
              <td>
                {file.before ? `${file.before.status} +${file.before.added} −${file.before.removed}` : "not changed"}
              </td>
              <td>{file.after ? `${file.after.status} +${file.after.added} −${file.after.removed}` : "not changed"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
  </>
);

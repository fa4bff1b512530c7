/** @jsxImportSource hono/jsx */
/** The viewer's first page (specs, live logs, the search form) and the search results. */
import { ArtifactStoreError } from "../../contracts/errors.ts";
import { parseSearchParameters } from "../../contracts/http-parameters.ts";
import type { SearchFilters } from "../../contracts/types.ts";
import { authorize } from "../auth.ts";
import { render, type UiKit } from "./frame.tsx";
import { artifactPath, Page } from "./layout.tsx";
import { ArtifactTable, LiveLogList, SearchForm, SpecList } from "./pages-browse.tsx";
import { latestPerType, TaskStatus } from "./task-status.tsx";

/** Tasks of a results page shown with their status. */
const TASKS_WITH_STATUS = 20;

export function registerHomePages({ app, store, page, signedIn }: UiKit): void {
  app.get(
    "/ui",
    page(async (c) => {
      const principal = c.get("principal");
      authorize(principal, "read");
      const specs = await store.browseSpecs(principal.specs ? [...principal.specs] : null);
      let live = await store.liveLogs();
      if (principal.specs) live = live.filter((log) => principal.specs?.has(log.specName));
      const now = Date.now();
      return render(
        c,
        <Page title="Specs" nonce={c.get("nonce")} signedIn={signedIn(c)}>
          <h2>Find artifacts by content</h2>
          <SearchForm values={{}} />
          <LiveLogList logs={live} now={now} />
          <SpecList specs={specs} now={now} />
        </Page>,
      );
    }),
  );

  app.get(
    "/ui/search",
    page(async (c) => {
      const principal = c.get("principal");
      const query = c.req.query();
      const filters: SearchFilters = {
        limit: 50,
        ...parseSearchParameters(new URL(c.req.url).searchParams, { form: true }),
      };
      let spec = filters.specName;
      if (principal.specs && spec === undefined && principal.specs.size === 1) spec = [...principal.specs][0];
      if (principal.specs && spec === undefined) {
        throw new ArtifactStoreError("E_FORBIDDEN", "your token is limited to some specs: choose a spec to search");
      }
      authorize(principal, "read", spec);
      if (spec) filters.specName = spec;
      const result = await store.searchPage(filters);
      // Each task in the results with its status at a glance (the latest version of each of its types).
      const tasks = [
        ...new Map(result.items.map((item) => [`${item.specName}\u0000${item.taskId}`, item])).values(),
      ].slice(0, TASKS_WITH_STATUS);
      const statuses = await Promise.all(tasks.map((item) => latestPerType(store, item.specName, item.taskId)));
      const values = Object.fromEntries(Object.entries(query).filter(([key]) => key !== "cursor")) as Record<
        string,
        string
      >;
      const nextLink = result.nextCursor
        ? `/ui/search?${new URLSearchParams({ ...values, cursor: result.nextCursor }).toString()}`
        : null;
      return render(
        c,
        <Page
          title="Search"
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          trail={[{ label: "Specs", href: "/ui" }, { label: "Search" }]}
        >
          <SearchForm values={values} />
          <p role="status">
            {result.items.length === 0
              ? "Nothing matches."
              : `${result.items.length}${nextLink ? "+" : ""} versions, newest first.`}
          </p>
          {tasks.length > 0 ? (
            <table id="result-tasks">
              <caption>Tasks in these results</caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {tasks.map((item, index) => (
                  <tr>
                    <td>
                      <a href={artifactPath(item.specName, item.taskId)}>
                        {item.specName} / {item.taskId}
                      </a>
                    </td>
                    <td>
                      <TaskStatus latest={statuses[index] ?? []} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {result.items.length > 0 ? (
            <ArtifactTable items={result.items} now={Date.now()} caption="Matching versions" showTask />
          ) : null}
          {nextLink ? (
            <nav class="pager" aria-label="Pages of results">
              <a href={nextLink}>Next page</a>
            </nav>
          ) : null}
        </Page>,
      );
    }),
  );
}

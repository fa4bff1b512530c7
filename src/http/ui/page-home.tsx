/** @jsxImportSource hono/jsx */
/** The viewer's first page (specs, live logs, the search form) and the search results. */
import { ArtifactStoreError } from "../../contracts/errors.ts";
import { parseSearchParameters } from "../../contracts/http-parameters.ts";
import type { SearchFilters } from "../../contracts/types.ts";
import { authorize } from "../auth.ts";
import { render, type UiKit } from "./frame.tsx";
import { Page } from "./layout.tsx";
import { ArtifactTable, LiveLogList, SearchForm, SpecList } from "./pages-browse.tsx";

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

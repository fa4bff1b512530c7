/** @jsxImportSource hono/jsx */
/**
 * The viewer at `/ui`: specs → tasks → artifacts, diffs, logs, test results and live logs,
 * server-rendered with Hono's JSX. Read-only. Auth: the same tokens and scopes as the API,
 * from the `Authorization` header or from an HttpOnly, SameSite=Strict cookie scoped to `/ui`
 * that the login form sets; with no tokens configured (a loopback server) it is open.
 */
import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Child } from "hono/jsx";
import { ArtifactStoreError, isArtifactStoreError } from "../../contracts/errors.ts";
import { parseSearchParameters } from "../../contracts/http-parameters.ts";
import type { ArtifactRef, Logger, SearchFilters } from "../../contracts/types.ts";
import { assertValidName } from "../../core/names.ts";
import type { ArtifactStore } from "../../core/store.ts";
import { type Authenticator, authorize, type Principal } from "../auth.ts";
import { readFormLimited, refuseBody, SMALL_BODY_LIMIT } from "../body.ts";
import type { AppEnv } from "../env.ts";
import { errorResponseParts } from "../errors.ts";
import { parseArtifactRef } from "../parameters.ts";
import { Age, artifactPath, Bytes, Notice, Page } from "./layout.tsx";
import { ArtifactTable, LiveLogList, SearchForm, SpecList, TaskList } from "./pages-browse.tsx";
import { DiffView, loadDiff } from "./view-diff.tsx";
import { LIVE_SCRIPT, LiveView, loadLiveSnapshot, pollLiveLog } from "./view-live.tsx";
import { LogLines, LogView, loadLogView, splitLines, TAIL_BYTES } from "./view-log.tsx";
import { parseTestFilter, TEST_PAGE_SIZE, TestView } from "./view-test.tsx";

/** The cookie holding the token the login form took; sent back only to `/ui`. */
export const TOKEN_COOKIE = "artifact_store_token";
const COOKIE_MAX_AGE_SECONDS = 12 * 3600;
const TASKS_PER_PAGE = 100;

interface UiContext {
  store: ArtifactStore;
  authenticator: Authenticator;
  /** Where the failures the error page calls "see the server log" are written. */
  logger?: Logger;
}

type UiC = Context<AppEnv>;

function newNonce(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
}

function securityHeaders(nonce: string): Record<string, string> {
  return {
    "Content-Security-Policy": `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  };
}

async function render(c: UiC, page: Child, status = 200): Promise<Response> {
  const html = `<!doctype html>${String(await page)}`;
  return new Response(html, {
    status,
    headers: { "Content-Type": "text/html; charset=utf-8", ...securityHeaders(c.get("nonce")) },
  });
}

/** Same-site paths under /ui only: never an open redirect. */
function safeNext(value: string | undefined): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (value !== undefined && /[\u0000-\u001f\u007f]/.test(value)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "next must be a viewer path without control characters");
  }
  return value && /^\/ui(?:[/?#]|$)/.test(value) && !value.startsWith("//") ? value : "/ui";
}

/** `?page=`: 1 when absent, else a page number a list can have. */
function pageParameter(value: string | undefined): number {
  if (value === undefined || value === "") return 1;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1)
    throw new ArtifactStoreError("E_INVALID_INPUT", "page must be a whole number from 1 to 999999");
  return Number(value);
}

export function registerUiRoutes(app: Hono<AppEnv>, context: UiContext): void {
  const { store, authenticator, logger } = context;
  const signedIn = (c: UiC) => !authenticator.open && getCookie(c, TOKEN_COOKIE) !== undefined;

  const guard = async (c: UiC, next: () => Promise<void>) => {
    c.set("nonce", newNonce());
    const path = new URL(c.req.url).pathname;
    if (path === "/ui/login" || path === "/ui/logout") return next();
    const cookie = getCookie(c, TOKEN_COOKIE);
    let principal: Principal;
    try {
      principal = await authenticator.authenticate(
        c.req.header("authorization") ?? (cookie ? `Bearer ${cookie}` : undefined),
      );
    } catch (error) {
      if (!isArtifactStoreError(error) || error.code !== "E_UNAUTHORIZED") throw error;
      if (cookie) deleteCookie(c, TOKEN_COOKIE, { path: "/ui" });
      if (path.endsWith(".json")) return c.json({ error: { code: error.code, message: error.message } }, 401) as never;
      const url = new URL(c.req.url);
      return c.redirect(`/ui/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303) as never;
    }
    c.set("principal", principal);
    return next();
  };
  app.use("/ui", guard);
  app.use("/ui/*", guard);

  /** Runs a page handler; failures become an HTML error page with the API's status. */
  const page = (handler: (c: UiC) => Promise<Response>) => async (c: UiC) => {
    try {
      return await handler(c);
    } catch (error) {
      const { status, body, internal } = errorResponseParts(error);
      if (internal)
        logger?.error("viewer page failed", {
          path: new URL(c.req.url).pathname,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
      const title = status === 404 ? "Not found" : status === 403 ? "Not allowed" : "Something went wrong";
      return render(
        c,
        <Page title={title} nonce={c.get("nonce")} signedIn={signedIn(c)} trail={[{ label: "Specs", href: "/ui" }]}>
          <Notice kind="error">{body.error.message}</Notice>
          <p>
            <a href="/ui">Back to the list of specs</a>
          </p>
        </Page>,
        status,
      );
    }
  };

  app.get("/ui/login", (c) =>
    render(c, <LoginPage nonce={c.get("nonce")} open={authenticator.open} next={safeNext(c.req.query("next"))} />),
  );

  app.post("/ui/login", async (c) => {
    const nonce = c.get("nonce");
    const form = await readFormLimited(c.req.raw, SMALL_BODY_LIMIT);
    const token = form.get("token")?.trim() ?? "";
    const next = safeNext(form.get("next"));
    try {
      const principal = await authenticator.authenticate(`Bearer ${token}`);
      authorize(principal, "read");
    } catch (error) {
      if (!isArtifactStoreError(error)) throw error;
      const message =
        error.code === "E_FORBIDDEN" ? "That token may not read artifacts." : "That token was not accepted.";
      return render(
        c,
        <LoginPage nonce={nonce} open={false} next={next} error={message} />,
        error.code === "E_FORBIDDEN" ? 403 : 401,
      );
    }
    setCookie(c, TOKEN_COOKIE, token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/ui",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: COOKIE_MAX_AGE_SECONDS,
    });
    return c.redirect(next, 303);
  });

  app.post("/ui/logout", async (c) => {
    await refuseBody(c.req.raw);
    deleteCookie(c, TOKEN_COOKIE, { path: "/ui" });
    return c.redirect("/ui/login", 303);
  });

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

  app.get(
    "/ui/s/:spec",
    page(async (c) => {
      const specName = assertValidName("specName", c.req.param("spec"));
      authorize(c.get("principal"), "read", specName);
      const pageNumber = pageParameter(c.req.query("page"));
      const tasks = await store.browseTasks(specName, {
        limit: TASKS_PER_PAGE,
        offset: (pageNumber - 1) * TASKS_PER_PAGE,
      });
      const live = await store.liveLogs({ specName });
      const pages = Math.max(1, Math.ceil(tasks.total / TASKS_PER_PAGE));
      const now = Date.now();
      return render(
        c,
        <Page
          title={specName}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          trail={[{ label: "Specs", href: "/ui" }, { label: specName }]}
        >
          <LiveLogList logs={live} now={now} />
          {tasks.total === 0 ? (
            <p>No artifacts in this spec.</p>
          ) : (
            <TaskList specName={specName} tasks={tasks.items} now={now} />
          )}
          {pages > 1 ? (
            <nav class="pager" aria-label="Pages of tasks">
              {pageNumber > 1 ? <a href={`?page=${pageNumber - 1}`}>Previous page</a> : null}
              <span>
                page {pageNumber} of {pages}
              </span>
              {pageNumber < pages ? <a href={`?page=${pageNumber + 1}`}>Next page</a> : null}
            </nav>
          ) : null}
        </Page>,
      );
    }),
  );

  app.get(
    "/ui/s/:spec/:task",
    page(async (c) => {
      const specName = assertValidName("specName", c.req.param("spec"));
      const taskId = assertValidName("taskId", c.req.param("task"));
      authorize(c.get("principal"), "read", specName);
      const [result, live] = await Promise.all([
        store.searchPage({ specName, taskId, limit: 500 }),
        store.liveLogs({ specName, taskId }),
      ]);
      const now = Date.now();
      return render(
        c,
        <Page
          title={`${specName} / ${taskId}`}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          trail={[
            { label: "Specs", href: "/ui" },
            { label: specName, href: `/ui/s/${encodeURIComponent(specName)}` },
            { label: taskId },
          ]}
        >
          <LiveLogList logs={live} now={now} />
          {result.items.length === 0 ? (
            <p>No artifacts for this task.</p>
          ) : (
            <ArtifactTable items={result.items} now={now} caption="Artifacts, every version, newest first" />
          )}
        </Page>,
      );
    }),
  );

  const refFrom = (c: UiC, withVersion: boolean): ArtifactRef => {
    const version = c.req.query("version");
    const ref = parseArtifactRef(
      { spec: c.req.param("spec"), task: c.req.param("task"), type: c.req.param("type") },
      withVersion && version ? version : undefined,
    );
    authorize(c.get("principal"), "read", ref.specName);
    return ref;
  };

  app.get(
    "/ui/s/:spec/:task/:type",
    page(async (c) => {
      const ref = refFrom(c, true);
      const metadata = await store.stat(ref);
      const liveLog = (await store.liveLogs({ specName: ref.specName, taskId: ref.taskId })).find(
        (log) => log.type === ref.type,
      );
      const livePath = `${artifactPath(ref.specName, ref.taskId, ref.type)}/live`;
      if (!metadata) {
        if (liveLog) return c.redirect(livePath, 303);
        throw new ArtifactStoreError("E_NOT_FOUND", `no artifact ${ref.specName}/${ref.taskId}/${ref.type}`);
      }
      const target: ArtifactRef = { ...ref, version: metadata.version };
      const versions = await store.search({ specName: ref.specName, taskId: ref.taskId, type: ref.type, limit: 50 });
      const query = c.req.query();
      const kind = metadata.summary?.kind ?? metadata.type;
      let body: Child;
      if (kind === "diff") {
        const [fileList, opened] = await Promise.all([store.diffFiles(target, { limit: 2000 }), store.open(target)]);
        body = <DiffView metadata={metadata} fileList={fileList} rendered={await loadDiff(opened.body)} />;
      } else if (kind === "log") {
        body = <LogView metadata={metadata} data={await loadLogView(store, target, metadata, query)} />;
      } else if (kind === "test") {
        const filter = parseTestFilter(query);
        const cases = await store.testCases(target, {
          ...(filter.status ? { status: filter.status } : {}),
          ...(filter.contains ? { contains: filter.contains } : {}),
          limit: TEST_PAGE_SIZE,
          offset: (filter.page - 1) * TEST_PAGE_SIZE,
        });
        body = <TestView metadata={metadata} cases={cases} filter={filter} />;
      } else {
        const opened =
          metadata.originalSize === 0 ? null : await store.open(target, { range: { offset: 0, length: TAIL_BYTES } });
        const text = opened ? await new Response(opened.body).text() : "";
        const lines = splitLines(text, { dropLast: metadata.originalSize > TAIL_BYTES });
        body = <LogLines lines={lines.map((line, index) => ({ number: index + 1, text: line }))} label="Content" />;
      }
      const now = Date.now();
      return render(
        c,
        <Page
          title={`${ref.specName} / ${ref.taskId} / ${ref.type} v${metadata.version}`}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          trail={[
            { label: "Specs", href: "/ui" },
            { label: ref.specName, href: `/ui/s/${encodeURIComponent(ref.specName)}` },
            { label: ref.taskId, href: artifactPath(ref.specName, ref.taskId) },
            { label: `${ref.type} v${metadata.version}` },
          ]}
        >
          {liveLog ? (
            <Notice>
              A newer {ref.type} is being written right now: <a href={livePath}>follow the live log</a>.
            </Notice>
          ) : null}
          <ul class="facts" aria-label="About this version">
            <li>
              <Bytes value={metadata.originalSize} /> (stored <Bytes value={metadata.size} />
              {metadata.compressed ? ", gzip" : ""})
            </li>
            <li>
              uploaded <Age at={metadata.createdAt} now={now} />
            </li>
            <li>
              {metadata.expiresAt ? (
                <>
                  expires <Age at={metadata.expiresAt} now={now} />
                </>
              ) : (
                "kept until deleted"
              )}
            </li>
            {metadata.tags.length > 0 ? (
              <li class="tags">
                tags:{" "}
                {metadata.tags.map((tag) => (
                  <span>{tag}</span>
                ))}
              </li>
            ) : null}
            <li>
              SHA-256 <code>{metadata.originalChecksum.slice(0, 16)}…</code>
            </li>
          </ul>
          {versions.length > 1 ? (
            <nav aria-label="Versions" class="toolbar">
              Versions:
              {versions.map((version) =>
                version.version === metadata.version ? (
                  <strong aria-current="page">v{version.version}</strong>
                ) : (
                  <a href={artifactPath(ref.specName, ref.taskId, ref.type, version.version)}>v{version.version}</a>
                ),
              )}
            </nav>
          ) : null}
          {body}
        </Page>,
      );
    }),
  );

  app.get(
    "/ui/s/:spec/:task/:type/raw",
    page(async (c) => {
      const ref = refFrom(c, true);
      const opened = await store.open(ref);
      const textual = /^text\/|json|xml|x-diff/.test(opened.metadata.mimeType);
      return new Response(opened.body, {
        headers: {
          // Never the stored MIME type as such: an uploaded text/html must not run as a page here.
          "Content-Type": textual ? "text/plain; charset=utf-8" : "application/octet-stream",
          "Content-Length": String(opened.length),
          "Content-Disposition": `${textual ? "inline" : "attachment"}; filename="${ref.type}-v${opened.metadata.version}.txt"`,
          "Content-Security-Policy": "sandbox; default-src 'none'",
          "X-Content-Type-Options": "nosniff",
          "Cache-Control": "no-store",
        },
      });
    }),
  );

  app.get(
    "/ui/s/:spec/:task/:type/live",
    page(async (c) => {
      const ref = refFrom(c, false) as Required<Omit<ArtifactRef, "version">>;
      const snapshot = await loadLiveSnapshot(store, ref);
      if (!snapshot) {
        const sealed = await store.stat(ref);
        if (sealed) return c.redirect(artifactPath(ref.specName, ref.taskId, ref.type, sealed.version), 303);
        throw new ArtifactStoreError("E_NOT_FOUND", `no live log ${ref.specName}/${ref.taskId}/${ref.type}`);
      }
      return render(
        c,
        <Page
          title={`${ref.specName} / ${ref.taskId} / ${ref.type} (live)`}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          script={LIVE_SCRIPT}
          trail={[
            { label: "Specs", href: "/ui" },
            { label: ref.specName, href: `/ui/s/${encodeURIComponent(ref.specName)}` },
            { label: ref.taskId, href: artifactPath(ref.specName, ref.taskId) },
            { label: `${ref.type} (live)` },
          ]}
        >
          <LiveView ref_={ref} snapshot={snapshot} />
        </Page>,
      );
    }),
  );

  app.get("/ui/s/:spec/:task/:type/live.json", async (c) => {
    const ref = refFrom(c, false) as Required<Omit<ArtifactRef, "version">>;
    const offset = Number(c.req.query("offset") ?? "0");
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new ArtifactStoreError("E_INVALID_INPUT", "offset must be a non-negative integer");
    return c.json(await pollLiveLog(store, ref, offset), 200, { "Cache-Control": "no-store" });
  });
}

const LoginPage = ({ nonce, open, next, error }: { nonce: string; open: boolean; next: string; error?: string }) => (
  <Page title="Sign in" nonce={nonce}>
    {open ? (
      <Notice>
        This server has no tokens configured: the viewer is open to every local request.{" "}
        <a href="/ui">Go to the specs</a>.
      </Notice>
    ) : (
      <form method="post" action="/ui/login" class="login" aria-describedby="login-help">
        <p id="login-help">
          Paste a token with the read scope. It is kept in a cookie only this viewer receives (HttpOnly,
          SameSite=Strict), for 12 hours.
        </p>
        {error ? <Notice kind="error">{error}</Notice> : null}
        <input type="hidden" name="next" value={next} />
        <p>
          <label for="token">Token</label>
          <input id="token" name="token" type="password" autocomplete="current-password" required />
        </p>
        <button type="submit">Sign in</button>
      </form>
    )}
  </Page>
);

/**
 * The viewer at `/ui`: specs → tasks → a task's page → artifacts (diffs, logs, test results,
 * live logs) and attempts compared, server-rendered with Hono's JSX, one module per page.
 * Read-only. Auth: the same tokens and scopes as the API, from the `Authorization` header or from
 * an HttpOnly, SameSite=Strict cookie scoped to `/ui` that the login form sets; with no tokens
 * configured (a loopback server) it is open.
 */
import type { Hono } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { isArtifactStoreError } from "../../contracts/errors.ts";
import type { Principal } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { createUiKit, newNonce, TOKEN_COOKIE, type UiC, type UiContext } from "./frame.tsx";
import { registerArtifactPages } from "./page-artifact.tsx";
import { registerComparePage } from "./page-compare.tsx";
import { registerHomePages } from "./page-home.tsx";
import { registerLivePages } from "./page-live.tsx";
import { registerLoginPages } from "./page-login.tsx";
import { registerSpecPage } from "./page-spec.tsx";
import { registerTaskPage } from "./page-task.tsx";

export { TOKEN_COOKIE } from "./frame.tsx";

export function registerUiRoutes(app: Hono<AppEnv>, context: UiContext): void {
  const { authenticator } = context;
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

  const kit = createUiKit(app, context);
  registerLoginPages(kit);
  registerHomePages(kit);
  registerComparePage(kit);
  registerSpecPage(kit);
  registerTaskPage(kit);
  registerLivePages(kit);
  registerArtifactPages(kit);
}

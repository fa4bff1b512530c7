/** @jsxImportSource hono/jsx */
/**
 * What every viewer page shares: the request context type, the security headers and nonce,
 * rendering, the error page, and reading an artifact reference from the path.
 */
import type { Context, Hono } from "hono";
import { getCookie } from "hono/cookie";
import type { Child } from "hono/jsx";
import { ArtifactStoreError, describeError } from "../../contracts/errors.ts";
import type { ArtifactRef, Logger } from "../../contracts/types.ts";
import type { ArtifactStore } from "../../core/store.ts";
import { type Authenticator, authorize } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { errorResponseParts } from "../errors.ts";
import { parseArtifactRef } from "../parameters.ts";
import { Notice, Page } from "./layout.tsx";

/** The cookie holding the token the login form took; sent back only to `/ui`. */
export const TOKEN_COOKIE = "artifact_store_token";

export interface UiContext {
  store: ArtifactStore;
  authenticator: Authenticator;
  /** Where the failures the error page calls "see the server log" are written. */
  logger?: Logger;
}

export type UiC = Context<AppEnv>;

/** What a page module gets to register its routes. */
export interface UiKit extends UiContext {
  app: Hono<AppEnv>;
  /** Runs a page handler; failures become an HTML error page with the API's status. */
  page(handler: (c: UiC) => Promise<Response>): (c: UiC) => Promise<Response>;
  /** Whether to offer "Sign out" (tokens are configured and the login cookie is there). */
  signedIn(c: UiC): boolean;
}

export function newNonce(): string {
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

export async function render(c: UiC, page: Child, status = 200): Promise<Response> {
  const html = `<!doctype html>${String(await page)}`;
  return new Response(html, {
    status,
    headers: { "Content-Type": "text/html; charset=utf-8", ...securityHeaders(c.get("nonce")) },
  });
}

/** Same-site paths under /ui only: never an open redirect. */
export function safeNext(value: string | undefined): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (value !== undefined && /[\u0000-\u001f\u007f]/.test(value)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "next must be a viewer path without control characters");
  }
  return value && /^\/ui(?:[/?#]|$)/.test(value) && !value.startsWith("//") ? value : "/ui";
}

/** `?page=`: 1 when absent, else a page number a list can have. */
export function pageParameter(value: string | undefined): number {
  if (value === undefined || value === "") return 1;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1)
    throw new ArtifactStoreError("E_INVALID_INPUT", "page must be a whole number from 1 to 999999");
  return Number(value);
}

export function createUiKit(app: Hono<AppEnv>, context: UiContext): UiKit {
  const signedIn = (c: UiC) => !context.authenticator.open && getCookie(c, TOKEN_COOKIE) !== undefined;
  return {
    ...context,
    app,
    signedIn,
    page: (handler) => async (c) => {
      try {
        return await handler(c);
      } catch (error) {
        const { status, body, internal } = errorResponseParts(error);
        if (internal)
          context.logger?.error("viewer page failed", {
            path: new URL(c.req.url).pathname,
            error: describeError(error),
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
    },
  };
}

/** The artifact the path names (`/ui/s/:spec/:task/:type`, `?version=` when asked), read-authorized. */
export function refFrom(c: UiC, withVersion: boolean): ArtifactRef {
  const version = c.req.query("version");
  const ref = parseArtifactRef(
    { spec: c.req.param("spec"), task: c.req.param("task"), type: c.req.param("type") },
    withVersion && version ? version : undefined,
  );
  authorize(c.get("principal"), "read", ref.specName);
  return ref;
}

/** The trail of a task's pages: Specs / spec / task / … */
export function taskTrail(specName: string, taskId: string, ...rest: { label: string; href?: string }[]) {
  return [
    { label: "Specs", href: "/ui" },
    { label: specName, href: `/ui/s/${encodeURIComponent(specName)}` },
    rest.length > 0
      ? { label: taskId, href: `/ui/s/${encodeURIComponent(specName)}/${encodeURIComponent(taskId)}` }
      : { label: taskId },
    ...rest,
  ];
}

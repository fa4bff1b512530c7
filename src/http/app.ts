/**
 * The Hono app every server serves: Bun, Node, Deno and the edge entry. No runtime specifics:
 * the store, tokens and logger are injected.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { TokenConfig } from "../config/schema.ts";
import { ArtifactStoreError, describeError } from "../contracts/errors.ts";
import type { Logger } from "../contracts/types.ts";
import type { ArtifactStore } from "../core/store.ts";
import { type Authenticator, createAuthenticator } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { errorResponseParts } from "./errors.ts";
import { createHttpMetrics, type HttpMetrics } from "./metrics.ts";
import {
  ARTIFACT_PATH,
  type ArtifactRequest,
  receiveUpload,
  registerArtifactRoutes,
  serveArtifact,
} from "./routes-artifacts.ts";
import { registerCompareRoutes } from "./routes-compare.ts";
import { registerLiveLogRoutes } from "./routes-live.ts";
import { registerMaintenanceRoutes } from "./routes-maintenance.ts";
import { registerOpsRoutes } from "./routes-ops.ts";
import { registerSearchRoutes } from "./routes-search.ts";
import { assertNotCrossOrigin } from "./same-origin.ts";
import { registerUiRoutes } from "./ui/routes.tsx";

export interface AppOptions {
  store: ArtifactStore;
  /** Bearer tokens (SHA-256 hashes). */
  tokens?: readonly TokenConfig[];
  /**
   * With no tokens configured: `true` (Bun/Node servers on loopback) lets every request in,
   * `false` (the edge entry) refuses every request. Default true.
   */
  allowAnonymous?: boolean;
  /** Largest request body in bytes (default 5 GiB). */
  bodyLimit?: number;
  /** Origins allowed by CORS; empty or absent sends no CORS headers. */
  corsOrigins?: readonly string[];
  logger?: Logger;
}

export type { AppEnv };

const PUBLIC_PATHS = new Set(["/healthz", "/openapi.json", "/favicon.ico"]);

/**
 * @example
 * const app = createApp({ store });
 * const response = await app.request("/v1/artifacts/chat-app/1.1/log", { method: "PUT", body: "hello" });
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const authenticator = createAuthenticator(options.tokens ?? [], options.allowAnonymous ?? true);
  const metrics = createHttpMetrics();
  const logger = options.logger;
  const context = { store: options.store, bodyLimit: options.bodyLimit ?? 5 * 1024 ** 3, metrics };

  const withCors = options.corsOrigins !== undefined && options.corsOrigins.length > 0;
  const trustedOrigins = new Set(options.corsOrigins ?? []);
  app.use("*", countAndLogRequests(metrics, logger));
  if (withCors) app.use("*", corsFor(options.corsOrigins ?? []));
  if (authenticator.open) app.use("*", onlyThisMachine(trustedOrigins));
  // The viewer's login and logout are forms: another site's page must not post them.
  else app.use("/ui/*", noCrossOriginPosts(new Set(), "the viewer"));
  app.use("*", authenticate(authenticator));

  // Browsers ask for it on every page of the viewer: no icon, and no 401 in their console.
  app.get("/favicon.ico", (c) => c.body(null, 204, { "Cache-Control": "public, max-age=86400" }));
  registerLiveLogRoutes(app, context);
  registerArtifactRoutes(app, context);
  registerCompareRoutes(app, context);
  registerUiRoutes(app, { store: options.store, authenticator, ...(logger ? { logger } : {}) });
  registerSearchRoutes(app, context);
  registerOpsRoutes(app, context);
  registerMaintenanceRoutes(app, context);

  app.notFound((c) => {
    metrics.recordError("E_NOT_FOUND");
    return c.json(
      { error: { code: "E_NOT_FOUND", message: `no route ${c.req.method} ${new URL(c.req.url).pathname}` } },
      404,
    );
  });
  app.onError((error, c) => answerError(error, new URL(c.req.url).pathname, metrics, logger));
  if (!withCors) {
    // The requests servers answer most, a download or an upload by plain names, skip the router
    // (its match, context and middleware chain were a tenth of a small GET's CPU) and run the very
    // checks the middleware above runs, in the same order, through the same functions, then the
    // route's own function. Anything else (HEAD, percent-encoded or other characters, other
    // query parameters, an upload with any, CORS) takes the router.
    const throughRouter = app.fetch;
    const parts = { authenticator, trustedOrigins, metrics, logger };
    const readDirectly = directArtifactRoute(parts, "GET", (read) => serveArtifact(read, options.store, true));
    const writeDirectly = directArtifactRoute(parts, "PUT", (write) => receiveUpload(write, context));
    app.fetch = (request, env, executionCtx) => {
      const { method } = request;
      if (method === "GET") {
        const match = PLAIN_ARTIFACT_GET.exec(request.url);
        if (match) return readDirectly(request, match);
      } else if (method === "PUT") {
        const match = PLAIN_ARTIFACT_PUT.exec(request.url);
        if (match) return writeDirectly(request, match);
      }
      return throughRouter(request, env, executionCtx);
    };
  }
  return app;
}

/**
 * `GET /v1/artifacts/:spec/:task/:type`, optionally `?version=N`, with names of the characters
 * names may hold (nothing to decode): groups 1 path, 2–4 names, 5 version.
 */
const PLAIN_ARTIFACT_GET =
  /^https?:\/\/[^/?#]+(\/v1\/artifacts\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+))(?:\?version=([0-9]+))?$/;

/** `PUT /v1/artifacts/:spec/:task/:type` with no query and names as above: groups 1 path, 2–4 names. */
const PLAIN_ARTIFACT_PUT =
  /^https?:\/\/[^/?#]+(\/v1\/artifacts\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+))$/;

/** The `route` label of a request the middleware (`app.use("*", …)`) answered: Hono's path for `*`. */
const MIDDLEWARE_ROUTE = "/*";

/** A plain download or upload answered as the middleware chain and the artifact route would answer it. */
function directArtifactRoute(
  parts: {
    authenticator: Authenticator;
    trustedOrigins: ReadonlySet<string>;
    metrics: HttpMetrics;
    logger: Logger | undefined;
  },
  method: "GET" | "PUT",
  route: (request: ArtifactRequest) => Promise<Response>,
) {
  const { authenticator, trustedOrigins, metrics, logger } = parts;
  return async (request: Request, match: RegExpExecArray): Promise<Response> => {
    const started = Date.now();
    const path = match[1] as string;
    // A refusal by the host rule or the token is counted as the router counts it: under the
    // middleware's route ("/*", where it was thrown), not the artifact route's.
    let label = MIDDLEWARE_ROUTE;
    let response: Response;
    try {
      if (authenticator.open) assertThisMachine(request, trustedOrigins);
      const principal = await authenticator.authenticate(request.headers.get("authorization"));
      label = ARTIFACT_PATH;
      const names = { spec: match[2], task: match[3], type: match[4] };
      response = await route({ names, version: match[5], principal, request });
    } catch (error) {
      response = answerError(error, path, metrics, logger);
    }
    countAndLog(metrics, logger, { method, route: label, path, status: response.status, started });
    return response;
  };
}

/** Every request counted by route and status, and logged with its duration. */
function countAndLogRequests(metrics: HttpMetrics, logger: Logger | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = Date.now();
    await next();
    const { method } = c.req;
    const route = c.req.routePath || "unmatched";
    countAndLog(metrics, logger, { method, route, path: new URL(c.req.url).pathname, status: c.res.status, started });
  };
}

function countAndLog(
  metrics: HttpMetrics,
  logger: Logger | undefined,
  request: { method: string; route: string; path: string; status: number; started: number },
): void {
  metrics.recordRequest(request.method, request.route, request.status);
  logger?.info("request", {
    method: request.method,
    path: request.path,
    status: request.status,
    ms: Date.now() - request.started,
  });
}

/** CORS for the configured origins: the headers the API reads and the ones a browser client needs to see. */
function corsFor(origins: readonly string[]): MiddlewareHandler<AppEnv> {
  return cors({
    origin: [...origins],
    allowHeaders: [
      "Authorization",
      "Content-Type",
      "Content-Digest",
      "X-Artifact-Tags",
      "X-Artifact-Metadata",
      "Range",
      "If-None-Match",
    ],
    allowMethods: ["GET", "HEAD", "PUT", "PATCH", "DELETE", "POST", "OPTIONS"],
    exposeHeaders: [
      "ETag",
      "Repr-Digest",
      "Content-Range",
      "X-Artifact-Version",
      "X-Artifact-Uri",
      "X-Artifact-Warning",
    ],
    maxAge: 600,
  });
}

/**
 * Without tokens anyone who can reach the server may use it, so make sure "anyone" is this
 * machine: browsers must address it by a loopback name (no DNS rebinding), and other
 * origins' pages (another port on this machine included) may not send it writes.
 */
function onlyThisMachine(trustedOrigins: ReadonlySet<string>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertThisMachine(c.req.raw, trustedOrigins);
    return next();
  };
}

function assertThisMachine(request: Request, trustedOrigins: ReadonlySet<string>): void {
  const host = request.headers.get("host");
  if (host !== null && !isLoopbackHost(host)) {
    throw new ArtifactStoreError(
      "E_FORBIDDEN",
      "this server has no tokens and answers only requests addressed to a loopback name",
    );
  }
  assertNotCrossOrigin(request, trustedOrigins, "this server has no tokens and");
}

function noCrossOriginPosts(trustedOrigins: ReadonlySet<string>, what: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertNotCrossOrigin(c.req.raw, trustedOrigins, what);
    return next();
  };
}

/** Sets the request's principal from its bearer token; public paths and the viewer are let through as they are. */
function authenticate(authenticator: Authenticator): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const path = new URL(c.req.url).pathname;
    // The viewer authenticates by itself (header or its login cookie) and answers with pages.
    if (PUBLIC_PATHS.has(path) || path === "/ui" || path.startsWith("/ui/")) return next();
    c.set("principal", await authenticator.authenticate(c.req.header("authorization")));
    return next();
  };
}

/** Every failure as the JSON error body, counted by code; an internal one is logged without reaching the client. */
function answerError(error: unknown, path: string, metrics: HttpMetrics, logger: Logger | undefined): Response {
  const { status, body, internal } = errorResponseParts(error);
  metrics.recordError(body.error.code);
  if (internal) logger?.error("request failed", { path, error: describeError(error) });
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (status === 401) headers["WWW-Authenticate"] = 'Bearer realm="artifact-store"';
  if (status === 416 && error instanceof ArtifactStoreError && typeof error.details?.size === "number") {
    headers["Content-Range"] = `bytes */${error.details.size}`;
  }
  return new Response(JSON.stringify(body), { status, headers });
}

/** `localhost`, `127.x.y.z` or `[::1]`, with an optional port. */
export function isLoopbackHost(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/:\d+$/, "");
  return name === "localhost" || name === "[::1]" || /^127(\.\d{1,3}){3}$/.test(name);
}

/**
 * The edge entry: the shared Hono app on Cloudflare Workers (workerd), with blobs in S3, R2 or
 * any S3-compatible store, or in Google Cloud Storage, and metadata in a libSQL server (sqld,
 * Turso) through `@libsql/client/web`. Web APIs only: no `node:` module and no `Bun`/`Deno`
 * global is reachable from here (test/runtimes/worker-purity.test.ts checks the bundle).
 *
 * Configuration comes from bindings (`[vars]` and secrets) with the names and schema of the
 * `ARTIFACT_STORE_*` environment variables, e.g. `ARTIFACT_STORE_BACKEND_TYPE=s3`,
 * `ARTIFACT_STORE_S3__BUCKET`, `ARTIFACT_STORE_METADATA__URL`, `ARTIFACT_STORE_SERVER__TOKENS`
 * (JSON). Credentials come from bindings too; Workers have no default credential chain.
 * Migrations are bundled SQL, applied on the first request of an isolate. With no tokens
 * configured every request is refused. `scheduled()` (a cron trigger) runs the retention sweep.
 *
 * Build: `npm run build:worker` (dist/worker/worker.js); see wrangler.toml for the bindings.
 */
import type { ArtifactStoreConfig } from "../config/schema.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { Logger } from "../contracts/types.ts";
import type { ArtifactStore } from "../core/store.ts";
import { createApp } from "../http/app.ts";
import { errorResponseParts } from "../http/errors.ts";
import { checkWorkerBackend, openStore } from "./worker-backend.ts";
import { configFromBindings, fingerprintOf, type WorkerEnv } from "./worker-config.ts";
import { createConsoleLogger, describeError } from "./worker-log.ts";
import { forTheWire, withClientAcceptEncoding } from "./worker-wire.ts";

export { createWorkerBackend, openWorkerStore } from "./worker-backend.ts";
export { configFromBindings, type WorkerEnv } from "./worker-config.ts";
export { createConsoleLogger } from "./worker-log.ts";
export { withClientAcceptEncoding } from "./worker-wire.ts";

/** What the entry uses of the Workers `ExecutionContext`. */
export interface WorkerExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** What the entry uses of the Workers `ScheduledController`. */
export interface WorkerScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

interface IsolateHandler {
  store: ArtifactStore;
  /** Serves one request; writes deferred past its response are handed to its `waitUntil`. */
  fetch(request: Request, context?: WorkerExecutionContext): Promise<Response>;
}

interface IsolateState {
  config: ArtifactStoreConfig;
  /** Opened on the first request that needs it, then shared by every request of the isolate. */
  handler?: Promise<IsolateHandler>;
}

/** A Worker's module handlers. */
export interface WorkerHandlers {
  fetch(request: Request, env: WorkerEnv, context?: WorkerExecutionContext): Promise<Response>;
  scheduled(controller: WorkerScheduledController, env: WorkerEnv, context: WorkerExecutionContext): Promise<void>;
}

/**
 * The Worker's handlers, with the store cached per isolate (keyed by the bindings it was built
 * from). The default export is one of these; tests and custom Workers can make their own.
 *
 * @example
 * const handlers = createWorkerHandlers();
 * export default { fetch: handlers.fetch, scheduled: handlers.scheduled };
 */
export function createWorkerHandlers(): WorkerHandlers {
  let cached: { fingerprint: string; state: IsolateState } | undefined;

  const stateFor = (env: WorkerEnv): IsolateState => {
    const fingerprint = fingerprintOf(env);
    if (cached?.fingerprint !== fingerprint) cached = { fingerprint, state: { config: configFromBindings(env) } };
    return cached.state;
  };

  const handlerFor = (state: IsolateState, env: WorkerEnv, logger: Logger) => {
    if (!state.handler) {
      const opening = openIsolateHandler(state.config, env, logger);
      state.handler = opening;
      // A failed open (metadata unreachable…) is retried by the next request, not cached.
      opening.catch(() => {
        if (state.handler === opening) delete state.handler;
      });
    }
    return state.handler;
  };

  return {
    async fetch(request: Request, env: WorkerEnv, context?: WorkerExecutionContext): Promise<Response> {
      const logger = createConsoleLogger(env);
      try {
        const state = stateFor(env);
        if (state.config.server.tokens.length === 0) return noTokensResponse();
        return forTheWire(await (await handlerFor(state, env, logger)).fetch(request, context));
      } catch (error) {
        logger.error("request failed before reaching the app", { error: describeError(error) });
        return startupErrorResponse(error);
      }
    },

    async scheduled(controller: WorkerScheduledController, env: WorkerEnv, context: WorkerExecutionContext) {
      const logger = createConsoleLogger(env);
      const sweep = (async () => {
        const { store } = await handlerFor(stateFor(env), env, logger);
        const report = await store.cleanup();
        logger.info("retention sweep", {
          cron: controller.cron,
          deleted: report.deleted,
          freedBytes: report.freedBytes,
          stillExpired: report.expiredTotal,
          batches: report.batches,
          ms: report.durationMs,
        });
      })().catch((error: unknown) => logger.error("retention sweep failed", { error: describeError(error) }));
      context.waitUntil(sweep);
      await sweep;
    },
  };
}

/** Opens the isolate's store and the app that serves it. */
async function openIsolateHandler(
  config: ArtifactStoreConfig,
  env: WorkerEnv,
  logger: Logger,
): Promise<IsolateHandler> {
  // The last write the store deferred (batched last-access times): a request that scheduled
  // it keeps itself alive until it is written, or workerd would drop the timer with the response.
  let deferred: Promise<void> | undefined;
  const store = await openStore(config, env, logger, (written) => {
    deferred = written;
  });
  const app = createApp({
    store,
    tokens: config.server.tokens,
    allowAnonymous: false,
    bodyLimit: config.server.bodyLimit,
    corsOrigins: config.server.corsOrigins,
    logger,
  });
  return {
    store,
    async fetch(request, context) {
      const before = deferred;
      const response = await app.fetch(withClientAcceptEncoding(request));
      if (deferred !== before && deferred) context?.waitUntil(deferred);
      return response;
    },
  };
}

/** A deployment with no tokens refuses every request, and says why. */
function noTokensResponse(): Response {
  return Response.json(
    {
      error: {
        code: "E_UNAUTHORIZED",
        message: "this deployment has no tokens configured (ARTIFACT_STORE_SERVER__TOKENS) and refuses every request",
      },
    },
    { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="artifact-store"' } },
  );
}

/**
 * Config and start-up failures. A misconfiguration names the bindings to fix (its message holds
 * no configured value); anything else says only its code, the details go to the log.
 */
function startupErrorResponse(error: unknown): Response {
  const settings = error instanceof ArtifactStoreError ? error.details?.settings : undefined;
  if (error instanceof ArtifactStoreError && error.code === "E_CONFIG" && Array.isArray(settings)) {
    return Response.json(
      { error: { code: "E_CONFIG", message: `this Worker is misconfigured: ${error.message}`, details: { settings } } },
      { status: 500 },
    );
  }
  const { status, body } = errorResponseParts(error);
  return Response.json(body, { status });
}

/**
 * Checks the bindings when the Worker starts (`wrangler dev` prints it before the first request;
 * on Cloudflare it lands in the logs): what a request would answer with, said once up front.
 * Returns the problem, or undefined when the bindings make a configuration.
 */
export function checkBindingsAtStartup(env: WorkerEnv, logger: Logger = createConsoleLogger(env)): string | undefined {
  try {
    const config = configFromBindings(env);
    checkWorkerBackend(config, env);
    if (config.server.tokens.length === 0) {
      logger.warn(
        "no tokens configured (ARTIFACT_STORE_SERVER__TOKENS): this Worker refuses every request until some are",
      );
    }
    return undefined;
  } catch (error) {
    const message = error instanceof ArtifactStoreError ? error.message : describeError(error);
    logger.error(`this Worker is misconfigured: ${message}`);
    return message;
  }
}

/** The Worker: `fetch` serves the API, `scheduled` (a cron trigger) runs the retention sweep. */
const worker: WorkerHandlers = createWorkerHandlers();
export default worker;

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
import { createClient } from "@libsql/client/web";
import { createGcsBackend } from "../backends/gcs.ts";
import { createS3Backend } from "../backends/s3.ts";
import { secretValuesFor } from "../config/redaction.ts";
import { type ArtifactStoreConfig, applyEnvOverrides, parseConfig } from "../config/schema.ts";
import { ArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { Logger } from "../contracts/types.ts";
import { type ArtifactStore, createArtifactStore } from "../core/store.ts";
import { createApp, isLoopbackHost } from "../http/app.ts";
import { errorResponseParts } from "../http/errors.ts";
import { createLibsqlMetadata } from "../metadata/libsql.ts";
import { gcsBackendOptions, s3BackendOptions } from "./object-backends.ts";
import { createWorkerEngines } from "./worker-engines.ts";

/** The Worker's bindings: `ARTIFACT_STORE_*` config, credentials, and anything else (ignored). */
export type WorkerEnv = Record<string, unknown>;

/** What the entry uses of the Workers `ExecutionContext`. */
export interface WorkerExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** What the entry uses of the Workers `ScheduledController`. */
export interface WorkerScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

/** Bindings read besides `ARTIFACT_STORE_*`. */
const CREDENTIAL_BINDINGS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  /** A Google service-account key (the JSON file's text), as a secret. */
  "GCS_SERVICE_ACCOUNT_KEY",
  "STORAGE_EMULATOR_HOST",
  /** `debug`, `info` (default), `warn` or `error`. */
  "LOG_LEVEL",
] as const;

const REMOTE_METADATA_URL = /^(libsql|https?|wss?):\/\//i;

/**
 * The config the bindings describe, checked with the same schema as the YAML file and the
 * environment of the Bun and Node servers, plus what Workers need: an object-store backend and
 * a remote metadata URL. Non-string bindings (JSON `[vars]`) are read as their JSON.
 *
 * @example
 * const config = configFromBindings({ ARTIFACT_STORE_BACKEND_TYPE: "s3", ARTIFACT_STORE_S3__BUCKET: "ci", … });
 */
export function configFromBindings(env: WorkerEnv): ArtifactStoreConfig {
  const placeholders = Object.keys(env)
    .filter((name) => isSettingBinding(name) && PLACEHOLDER.test(bindingText(env[name])))
    .sort();
  if (placeholders.length > 0) {
    throw misconfigured(
      placeholders,
      `${placeholders.join(", ")} still ${placeholders.length === 1 ? "holds" : "hold"} a <placeholder> from wrangler.toml: replace it under [vars] (or override it in .dev.vars for wrangler dev)`,
    );
  }
  const variables: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("ARTIFACT_STORE_")) continue;
    if (typeof value === "string") variables[name] = value;
    else if (typeof value === "number" || typeof value === "boolean" || isJsonValue(value)) {
      variables[name] = JSON.stringify(value);
    }
  }
  let config: ArtifactStoreConfig;
  try {
    config = parseConfig(applyEnvOverrides({}, variables));
  } catch (error) {
    throw settingError(error);
  }
  if (config.backendType !== "s3" && config.backendType !== "gcs") {
    throw misconfigured(
      ["ARTIFACT_STORE_BACKEND_TYPE"],
      "ARTIFACT_STORE_BACKEND_TYPE must be s3 (AWS S3, R2, MinIO…) or gcs on Workers: the filesystem and memory backends are not available there (no filesystem, and memory would not outlive an isolate)",
    );
  }
  const url = config.metadata.url;
  if (!url || !REMOTE_METADATA_URL.test(url)) {
    throw misconfigured(
      ["ARTIFACT_STORE_METADATA__URL"],
      "ARTIFACT_STORE_METADATA__URL must be the libsql://, https:// or wss:// URL of a libSQL server (Turso, sqld; http:// or libsql://…?tls=0 for a local sqld): Workers have no filesystem for a local database. The server's token goes in the secret ARTIFACT_STORE_METADATA__AUTH_TOKEN",
    );
  }
  if (config.metadata.syncUrl) {
    throw misconfigured(
      ["ARTIFACT_STORE_METADATA__SYNC_URL"],
      "ARTIFACT_STORE_METADATA__SYNC_URL: metadata.sync_url (an embedded replica) needs a local file, which Workers do not have; remove it",
    );
  }
  return config;
}

/** `<ACCOUNT_ID>`, `<org>`, `<sha256 of the CI token>`: what wrangler.toml ships with. */
// Not a regular expression's named group (`(?<name>…)`, `\k<name>`), which config may hold.
const PLACEHOLDER = /(?<![?k\\])<[A-Za-z][\w '.-]{0,58}>/;

function isSettingBinding(name: string): boolean {
  return name.startsWith("ARTIFACT_STORE_") || (CREDENTIAL_BINDINGS as readonly string[]).includes(name);
}

function bindingText(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "");
}

/**
 * A configuration error naming the bindings to fix. Its message never holds a configured value,
 * so the Worker can say it to the caller as it is.
 */
function misconfigured(settings: readonly string[], message: string): ArtifactStoreError {
  return new ArtifactStoreError("E_CONFIG", message, { details: { settings } });
}

/**
 * A config-schema error (`artifact_store.s3.bucket must be …`) as the binding to fix, without the
 * value it quotes.
 */
function settingError(error: unknown): ArtifactStoreError {
  if (!(error instanceof ArtifactStoreError) || typeof error.details?.key !== "string") {
    return misconfigured([], "the ARTIFACT_STORE_* bindings are not a valid configuration");
  }
  const path = error.details.key.replace(/^artifact_store\./, "").replace(/\[.*$/, "");
  const setting = `ARTIFACT_STORE_${path.split(".").join("__").toUpperCase()}`;
  const expected = error.details.expected;
  return new ArtifactStoreError(
    "E_CONFIG",
    typeof expected === "string"
      ? `${setting} must be ${expected} (${error.details.key})`
      : `${setting} is not a setting (${error.details.key}): check its spelling`,
    { cause: error, details: { settings: [setting] } },
  );
}

/** The S3 or GCS backend the config names, with credentials from the config or the bindings. */
export function createWorkerBackend(config: ArtifactStoreConfig, env: WorkerEnv): StorageBackend {
  return checkWorkerBackend(config, env)();
}

/**
 * Checks that the bindings hold the credentials the backend needs (else `E_CONFIG` naming the
 * secret to set) and returns how to build it: the start-up check stops before building, since
 * workerd allows no I/O or randomness at module scope.
 */
function checkWorkerBackend(config: ArtifactStoreConfig, env: WorkerEnv): () => StorageBackend {
  const binding = (name: (typeof CREDENTIAL_BINDINGS)[number]) =>
    typeof env[name] === "string" && env[name] !== "" ? (env[name] as string) : undefined;
  if (config.backendType === "s3") {
    const { s3 } = config;
    const accessKeyId = s3.accessKeyId ?? binding("AWS_ACCESS_KEY_ID");
    const secretAccessKey = s3.secretAccessKey ?? binding("AWS_SECRET_ACCESS_KEY");
    const sessionToken = s3.sessionToken ?? binding("AWS_SESSION_TOKEN");
    if (!accessKeyId || !secretAccessKey) {
      throw misconfigured(
        ["ARTIFACT_STORE_S3__ACCESS_KEY_ID", "ARTIFACT_STORE_S3__SECRET_ACCESS_KEY"],
        "[s3] Workers have no default credential chain: set the secrets ARTIFACT_STORE_S3__ACCESS_KEY_ID and ARTIFACT_STORE_S3__SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
      );
    }
    return () =>
      createS3Backend(
        s3BackendOptions(s3, { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }),
      );
  }
  const { gcs } = config;
  if (gcs.credentialsFile) {
    throw misconfigured(
      ["ARTIFACT_STORE_GCS__CREDENTIALS_FILE", "GCS_SERVICE_ACCOUNT_KEY"],
      "[gcs] ARTIFACT_STORE_GCS__CREDENTIALS_FILE cannot be read on Workers: remove it and put the key file's JSON in the GCS_SERVICE_ACCOUNT_KEY secret instead",
    );
  }
  const emulatorHost = gcs.endpoint ? undefined : binding("STORAGE_EMULATOR_HOST");
  const credentials = binding("GCS_SERVICE_ACCOUNT_KEY");
  if (!gcs.accessToken && !credentials && !emulatorHost && !gcs.endpoint) {
    throw misconfigured(
      ["GCS_SERVICE_ACCOUNT_KEY"],
      "[gcs] Workers have no default credentials: set the GCS_SERVICE_ACCOUNT_KEY secret to a service-account key's JSON (or ARTIFACT_STORE_GCS__ACCESS_TOKEN)",
    );
  }
  return () => createGcsBackend(gcsBackendOptions(gcs, { emulatorHost, credentials }));
}

/**
 * Opens the store the bindings describe: bundled migrations are applied on the way.
 *
 * @example
 * const store = await openWorkerStore(env);
 * const report = await store.cleanup();
 */
export async function openWorkerStore(
  env: WorkerEnv,
  logger: Logger = createConsoleLogger(env),
): Promise<ArtifactStore> {
  const config = configFromBindings(env);
  return openStore(config, env, logger);
}

async function openStore(
  config: ArtifactStoreConfig,
  env: WorkerEnv,
  logger: Logger,
  keepAlive?: (written: Promise<void>) => void,
): Promise<ArtifactStore> {
  const backend = createWorkerBackend(config, env);
  const url = config.metadata.url as string;
  const client = createClient({
    url: overHttp(url),
    ...(config.metadata.authToken ? { authToken: config.metadata.authToken } : {}),
  });
  try {
    // No group commits across requests: workerd ties each request's I/O to that request.
    const metadata = await createLibsqlMetadata({ client, groupCommits: false });
    return createArtifactStore({
      backend,
      metadata,
      config,
      codecs: createWorkerEngines(),
      logger,
      secretValues: secretValuesFor(config, env as Record<string, unknown>, logger),
      ...(keepAlive ? { keepAlive } : {}),
    });
  } catch (error) {
    client.close();
    // The metadata server is first reached here: a refused token or an unreachable host.
    throw metadataOpenError(error, url, config.metadata.authToken !== undefined);
  }
}

/** Why the metadata server could not be opened, naming the setting when it is the cause. */
function metadataOpenError(error: unknown, url: string, hasToken: boolean): ArtifactStoreError {
  const reason = describeError(error);
  if (/\b401\b|unauthori[sz]ed|authentication|jwt/i.test(reason)) {
    return new ArtifactStoreError(
      "E_CONFIG",
      hasToken
        ? "the metadata server refused ARTIFACT_STORE_METADATA__AUTH_TOKEN: set the secret to a token it accepts (Turso: `turso db tokens create <db>`)"
        : "the metadata server wants a token: set the secret ARTIFACT_STORE_METADATA__AUTH_TOKEN (Turso: `turso db tokens create <db>`)",
      { cause: error, details: { settings: ["ARTIFACT_STORE_METADATA__AUTH_TOKEN"] } },
    );
  }
  if (isPlainLoopbackLibsql(url)) {
    return new ArtifactStoreError(
      "E_CONFIG",
      "ARTIFACT_STORE_METADATA__URL: a libsql:// URL is reached over HTTPS, and a local sqld speaks plain HTTP: use http://127.0.0.1:PORT or libsql://127.0.0.1:PORT?tls=0",
      { cause: error, details: { settings: ["ARTIFACT_STORE_METADATA__URL"] } },
    );
  }
  return toArtifactStoreError(error, "E_BACKEND_UNAVAILABLE", "[metadata] cannot open the metadata database");
}

/** `libsql://localhost:8080`, `libsql://127.0.0.1:8080` without `?tls=0`: HTTPS to a loopback port. */
function isPlainLoopbackLibsql(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "libsql:" && parsed.searchParams.get("tls") !== "0" && isLoopbackHost(parsed.host);
  } catch {
    return false;
  }
}

/**
 * `ws://` and `wss://` metadata URLs are used over HTTP (`http://`, `https://`: sqld and Turso
 * serve Hrana over HTTP at the same address). The store is shared by every request of an
 * isolate, and workerd does not let a WebSocket opened in one request be used by another.
 * `libsql://` URLs already go over HTTPS with the web client.
 */
function overHttp(url: string): string {
  return url.replace(/^ws(s?):\/\//i, "http$1://");
}

/** workerd's stream that declares its length, so the response goes out with `Content-Length`. */
type FixedLengthStreamConstructor = new (length: number) => TransformStream<Uint8Array, Uint8Array>;

/**
 * The app's response as workerd should send it:
 * - a streamed body whose length the app knows goes through a `FixedLengthStream`, or workerd
 *   would drop `Content-Length` and send it chunked (HEAD would say a length GET does not);
 * - a body with `Content-Encoding` is sent as it is (`encodeBody: "manual"`): stored gzip passed
 *   through must not be gzipped twice;
 * - an artifact sent as it was uploaded (its `Repr-Digest` describes the identity bytes) is
 *   marked `Content-Encoding: identity`: Cloudflare (and wrangler dev) would otherwise gzip or
 *   brotli a text body for a client that accepts it, and the length, range and digests would no
 *   longer describe what is sent. Other responses (JSON, pages) are left to the platform.
 */
function forTheWire(response: Response): Response {
  if (!response.headers.has("content-encoding") && response.headers.has("repr-digest")) {
    response = new Response(response.body, response);
    response.headers.set("Content-Encoding", "identity");
  }
  const encoded = response.headers.has("content-encoding");
  const length = Number(response.headers.get("content-length") ?? Number.NaN);
  const Fixed = (globalThis as { FixedLengthStream?: FixedLengthStreamConstructor }).FixedLengthStream;
  let body: ReadableStream<Uint8Array> | null = response.body;
  if (body && Fixed && Number.isSafeInteger(length) && length >= 0) {
    const fixed = new Fixed(length);
    // A source that fails midway errors the fixed stream too: the transfer breaks off.
    body.pipeTo(fixed.writable).catch(() => {});
    body = fixed.readable;
  }
  if (!encoded && body === response.body) return response;
  const init = {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
    ...(encoded ? { encodeBody: "manual" } : {}),
  };
  return new Response(body, init as ResponseInit);
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

/**
 * The request with the client's own `Accept-Encoding`. Cloudflare (and `wrangler dev`, which
 * copies it) replaces that header with `br, gzip` before the Worker sees it and keeps what the
 * client sent in `request.cf.clientAcceptEncoding` (`""` when it sent none). The app negotiates
 * with the header, so this is where the client's value goes back in: a plain `curl` gets the
 * plain bytes, and the headers describe what is sent.
 */
export function withClientAcceptEncoding(request: Request): Request {
  const client = (request as { cf?: { clientAcceptEncoding?: unknown } }).cf?.clientAcceptEncoding;
  if (typeof client !== "string" || request.headers.get("accept-encoding") === client) return request;
  const headers = new Headers(request.headers);
  if (client === "") headers.delete("accept-encoding");
  else headers.set("accept-encoding", client);
  return new Request(request, { headers });
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
      // The last write the store deferred (batched last-access times): a request that scheduled
      // it keeps itself alive until it is written, or workerd would drop the timer with the response.
      let deferred: Promise<void> | undefined;
      const opening = openStore(state.config, env, logger, (written) => {
        deferred = written;
      }).then((store): IsolateHandler => {
        const app = createApp({
          store,
          tokens: state.config.server.tokens,
          allowAnonymous: false,
          bodyLimit: state.config.server.bodyLimit,
          corsOrigins: state.config.server.corsOrigins,
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
      });
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
        if (state.config.server.tokens.length === 0) {
          return Response.json(
            {
              error: {
                code: "E_UNAUTHORIZED",
                message:
                  "this deployment has no tokens configured (ARTIFACT_STORE_SERVER__TOKENS) and refuses every request",
              },
            },
            { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="artifact-store"' } },
          );
        }
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

/** What changes the store: config and credential bindings (other bindings are ignored). */
function fingerprintOf(env: WorkerEnv): string {
  const relevant = Object.keys(env)
    .filter((name) => name.startsWith("ARTIFACT_STORE_") || (CREDENTIAL_BINDINGS as readonly string[]).includes(name))
    .sort();
  return JSON.stringify(relevant.map((name) => [name, env[name]]));
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/** One JSON object per line on the console: what Workers Logs and `wrangler tail` index. */
export function createConsoleLogger(env: WorkerEnv = {}): Logger {
  const configured = typeof env.LOG_LEVEL === "string" ? env.LOG_LEVEL.toLowerCase() : "info";
  const threshold = LEVELS[configured as keyof typeof LEVELS] ?? LEVELS.info;
  const log = (level: keyof typeof LEVELS) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < threshold) return;
    const line = JSON.stringify({ level, message, ...fields });
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

function isJsonValue(value: unknown): boolean {
  if (Array.isArray(value)) return true;
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** The Worker: `fetch` serves the API, `scheduled` (a cron trigger) runs the retention sweep. */
const worker: WorkerHandlers = createWorkerHandlers();
export default worker;

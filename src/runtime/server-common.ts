/**
 * What the Bun and Node servers share: opening the store from config, the app, the log, the
 * scheduled retention sweep, and the shutdown sequence. The runtime files only listen.
 */
import { writeSync } from "node:fs";
import type { ArtifactStoreConfig } from "../config/schema.ts";
import { describeError, isArtifactStoreError } from "../contracts/errors.ts";
import type { Logger } from "../contracts/types.ts";
import { formatBytes } from "../core/format.ts";
import type { ArtifactStore } from "../core/store.ts";
import { createApp } from "../http/app.ts";
import { type LocalArtifactStore, type OpenArtifactStoreOptions, openArtifactStore } from "./local.ts";
import { createMemoryReleaser } from "./memory-release.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * One line per event on stderr: `2026-11-29T12:00:00.000Z INFO message key=value …`.
 * Values are quoted when they contain spaces; nothing secret is ever passed in.
 */
export function createLineLogger(
  level: LogLevel = "info",
  write: (line: string, urgent: boolean) => void = stderrLines(),
): Logger {
  const threshold = LEVELS[level];
  const log = (name: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[name] < threshold) return;
    const rendered = Object.entries(fields ?? {})
      .map(([key, value]) => {
        const text = typeof value === "string" ? value : JSON.stringify(value);
        return `${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
      })
      .join(" ");
    const line = `${new Date().toISOString()} ${name.toUpperCase()} ${message}${rendered ? ` ${rendered}` : ""}`;
    write(line, LEVELS[name] >= LEVELS.warn);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/**
 * Lines for stderr, written together once per turn of the event loop: a write per line (a
 * request's access line) cost a system call each. A warning or an error goes out at once, with
 * whatever is pending before it; the rest goes out at the latest when the process exits
 * ("unload" on Deno, whose Deno.exit skips them; Deno runs neither after an uncaught error: up
 * to one turn's info lines are lost there).
 * One buffer for the process, as stderr is one.
 */
const stderrLines = (() => {
  let pending = "";
  let listening = false;
  const flush = () => {
    if (pending === "") return;
    const text = pending;
    pending = "";
    writeAll(text);
  };
  return () => (line: string, urgent: boolean) => {
    if (!listening) {
      listening = true;
      process.on("exit", flush);
      // Deno.exit (the Deno server's shutdown) runs no process "exit" handler, only "unload".
      if ("Deno" in globalThis) globalThis.addEventListener("unload", flush);
    }
    if (pending === "") {
      const timer = setTimeout(flush, 0);
      // Pending lines do not keep a finished process alive: they go out on exit.
      (timer as { unref?: () => void }).unref?.();
    }
    pending += `${line}\n`;
    if (urgent || pending.length >= LINES_PENDING_MAX) flush();
  };
})();

/** Pending log text written at once past this many characters. */
const LINES_PENDING_MAX = 64 * 1024;

/**
 * Writes `text` to stderr whole before returning, as Node does for files and pipes on Linux:
 * nothing waits in the runtime's own queue when the process exits (Bun's `process.stderr`
 * dropped queued lines on `process.exit` when a pipe's reader was slow).
 */
function writeAll(text: string): void {
  let bytes: Uint8Array | undefined;
  let written = 0;
  try {
    // The string as it is (encoded by the runtime); a short write, rare on a blocking stderr, goes on from its byte.
    written = writeSync(2, text);
    if (written === text.length && !NON_ASCII.test(text)) return;
    bytes = new TextEncoder().encode(text);
    while (written < bytes.length) written += writeSync(2, bytes, written);
  } catch {
    // A non-blocking or odd stderr: the runtime's stream copes.
    process.stderr.write((bytes ?? new TextEncoder().encode(text)).subarray(written));
  }
}

/** Text whose UTF-8 is longer than its length in characters. */
const NON_ASCII = /[\u0080-\uffff]/;

export interface ServerOptions extends OpenArtifactStoreOptions {
  /** Overrides `server.host`. */
  host?: string;
  /** Overrides `server.port` (0 picks a free port). */
  port?: number;
  logLevel?: LogLevel;
}

export interface PreparedServer {
  store: LocalArtifactStore;
  config: ArtifactStoreConfig;
  logger: Logger;
  host: string;
  port: number;
  fetch: (request: Request) => Promise<Response>;
  /** Requests whose handler has not returned yet (uploads count until fully stored or cleaned up). */
  inFlight(): number;
  /** Stops the sweep timer and closes the store once in-flight handlers are done (or `timeoutMs` passed). */
  close(timeoutMs: number): Promise<void>;
}

/** Opens the store and builds the request handler, enforcing the loopback rule for tokenless servers. */
export async function prepareServer(options: ServerOptions = {}): Promise<PreparedServer> {
  const logger = options.logger ?? createLineLogger(options.logLevel ?? "info");
  // The server answers a small first version from one durable transaction; its file follows a moment later.
  const store = await openArtifactStore({ inlineSmallUploads: true, ...options, logger });
  // Versions a previous process had uploaded but not yet made current (it died mid-publish).
  const finished = await store.finishPublishesInFlight();
  if (finished.length > 0) logger.info("finished publishes a previous process left", { versions: finished.length });
  const { config } = store;
  let host = options.host ?? config.server.host;
  const port = options.port ?? config.server.port;
  if (config.server.tokens.length === 0 && !isLoopback(host)) {
    logger.warn("no tokens configured: refusing to listen beyond loopback", {
      requested: host,
      listening: "127.0.0.1",
    });
    host = "127.0.0.1";
  }
  const app = createApp({
    store,
    tokens: config.server.tokens,
    allowAnonymous: true,
    bodyLimit: config.server.bodyLimit,
    corsOrigins: config.server.corsOrigins,
    logger,
  });
  let active = 0;
  const idleWaiters: (() => void)[] = [];
  const memory = createMemoryReleaser();
  const fetch = async (request: Request): Promise<Response> => {
    active++;
    const finished = memory.track(request);
    try {
      return await app.fetch(withAbsoluteUrl(request));
    } catch (error) {
      return internalErrorResponse(logger, error);
    } finally {
      finished();
      active--;
      if (active === 0) for (const resolve of idleWaiters.splice(0)) resolve();
    }
  };
  const sweep = scheduleMaintenance(store, config.server, logger);
  return {
    store,
    config,
    logger,
    host,
    port,
    fetch,
    inFlight: () => active,
    async close(timeoutMs) {
      sweep.stop();
      memory.stop();
      if (active > 0) {
        await finishesWithin(new Promise<void>((resolve) => idleWaiters.push(resolve)), timeoutMs);
      }
      await sweep.running();
      await store.close();
    },
  };
}

/**
 * HTTP/1.0 clients (health probes, `nc`) may send no `Host`; Bun then hands over a bare path
 * as the URL, which no URL parser takes. Such a request is answered as if addressed to
 * `localhost`: the path is all the app routes on.
 */
export function withAbsoluteUrl(request: Request): Request {
  if (URL.canParse(request.url)) return request;
  const url = new URL(request.url.startsWith("/") ? request.url : `/${request.url}`, "http://localhost");
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  return new Request(url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    ...(hasBody ? { body: request.body, duplex: "half" } : {}),
  } as RequestInit);
}

/**
 * What every server entry answers when something fails outside the app's own error handling:
 * the API's JSON error, never a runtime's development page, a stack trace or a server path.
 * The details go to the log, on one line.
 */
export function internalErrorResponse(logger: Logger, error: unknown): Response {
  // The store's own errors (a damaged file found mid-transfer) were logged where they arose.
  if (!isArtifactStoreError(error))
    logger.error("request failed outside the app", {
      error: describeError(error),
    });
  return new Response(
    JSON.stringify({ error: { code: "E_INTERNAL", message: "internal error; see the server log" } }),
    { status: 500, headers: { "Content-Type": "application/json" } },
  );
}

/**
 * A response body that, when it fails mid-transfer (a damaged file the store has already
 * flagged and logged), breaks the connection off with `abort` and ends quietly, instead of
 * handing the error to the runtime's adapter, which prints it with its stack. Failures the
 * store did not report itself are logged here, on one line.
 */
export function breakOffOnError(
  body: ReadableStream<Uint8Array>,
  abort: () => void,
  logger: Logger,
  path: string,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (error) {
          if (!isArtifactStoreError(error))
            logger.error("response failed mid-transfer; connection closed", {
              path,
              error: describeError(error),
            });
          abort();
          controller.close();
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/**
 * The retention sweep every `cleanupIntervalSeconds` and gc every `gcIntervalSeconds` (never two
 * runs at once), each logged with what it did.
 */
export function scheduleMaintenance(
  store: ArtifactStore,
  intervals: { cleanupIntervalSeconds: number; gcIntervalSeconds: number },
  logger: Logger,
) {
  let current: Promise<void> = Promise.resolve();
  let busy = false;
  const exclusive = (work: () => Promise<void>) => () => {
    if (busy) return;
    busy = true;
    current = work().finally(() => {
      busy = false;
    });
  };
  const sweep = exclusive(() =>
    store
      .cleanup()
      .then((report) => {
        const fields = {
          deleted: report.deleted,
          freed: formatBytes(report.freedBytes),
          batches: report.batches,
          ms: report.durationMs,
        };
        if (report.deleted > 0) logger.info("retention sweep deleted expired artifacts", fields);
        else logger.debug("retention sweep found nothing expired", fields);
      })
      .catch((error: unknown) => logger.error("retention sweep failed", { error: String(error) })),
  );
  // gc logs its own summary when it finds anything.
  const gc = exclusive(() =>
    store
      .gc()
      .then(() => {})
      .catch((error: unknown) => logger.error("gc failed", { error: String(error) })),
  );
  const timers = [
    intervals.cleanupIntervalSeconds > 0 ? setInterval(sweep, intervals.cleanupIntervalSeconds * 1000) : undefined,
    intervals.gcIntervalSeconds > 0 ? setInterval(gc, intervals.gcIntervalSeconds * 1000) : undefined,
  ];
  for (const timer of timers) (timer as { unref?: () => void } | undefined)?.unref?.();
  return {
    stop: () => {
      for (const timer of timers) clearInterval(timer);
    },
    running: () => current,
  };
}

/** Waits for `work` at most `timeoutMs`; true when it finished in time. The timer never outlives the wait. */
export async function finishesWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The one-paragraph start-up message: where it listens, where data lives, and who may call. */
export function describeStartup(prepared: PreparedServer, url: string, runtime: string): string {
  const { config } = prepared;
  const data =
    config.backendType === "filesystem"
      ? `filesystem ${config.basePath}`
      : config.backendType === "s3"
        ? `s3://${config.s3.bucket}/${config.s3.prefix}`
        : config.backendType === "gcs"
          ? `gs://${config.gcs.bucket}/${config.gcs.prefix}`
          : "memory (lost on exit)";
  const access =
    config.server.tokens.length === 0
      ? "no tokens configured: bound to loopback only, every local request is allowed"
      : `${config.server.tokens.length} token(s) configured`;
  return `artifact-store listening on ${url} (${runtime}); data: ${data}; ${access}`;
}

/** On SIGTERM/SIGINT: stop accepting, let in-flight requests finish within the timeout, close. */
export function onShutdownSignal(logger: Logger, shutdown: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: string) => {
    if (stopping) {
      logger.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    shutdown(signal)
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error("shutdown failed", { error: String(error) });
        process.exit(1);
      });
  };
  process.on("SIGTERM", () => handle("SIGTERM"));
  process.on("SIGINT", () => handle("SIGINT"));
}

function isLoopback(host: string): boolean {
  return host === "::1" || host === "localhost" || /^127(\.\d{1,3}){3}$/.test(host);
}

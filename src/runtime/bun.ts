/**
 * The Bun server: `Bun.serve` over the shared Hono app.
 *
 * Run: `bun src/runtime/bun.ts` (or `npm start`, or `artifact-store serve`).
 */
import { MAX_CHUNK_BYTES } from "../core/live-log.ts";
import {
  describeStartup,
  finishesWithin,
  internalErrorResponse,
  onShutdownSignal,
  prepareServer,
  type ServerOptions,
} from "./server-common.ts";

/** How far above the app's own body limits Bun's cap sits. */
const BACKSTOP_MARGIN_BYTES = 64 * 1024 * 1024;

export interface RunningServer {
  /** e.g. `http://127.0.0.1:8787` */
  url: string;
  port: number;
  /** Stop accepting, let in-flight requests finish (within the configured timeout), close the store. */
  stop(): Promise<void>;
}

/**
 * @example
 * const server = await startBunServer({ port: 0, overrides: { base_path: "/tmp/artifacts" } });
 * console.log(server.url);
 * await server.stop();
 */
export async function startBunServer(options: ServerOptions = {}): Promise<RunningServer> {
  const prepared = await prepareServer(options);
  const { config, logger } = prepared;
  const server = Bun.serve({
    hostname: prepared.host,
    port: prepared.port,
    fetch: prepared.fetch,
    // The app counts every body against its own limits (server.body_limit, a live-log chunk's)
    // and answers 413 itself. Bun's cap is only a backstop well above them: at the limit itself
    // Bun, which reads a little ahead, would cut requests off first, sometimes with no answer.
    // Bun applies backpressure to request bodies, so the margin costs no memory.
    maxRequestBodySize: Math.max(config.server.bodyLimit, MAX_CHUNK_BYTES) + BACKSTOP_MARGIN_BYTES,
    idleTimeout: 120,
    // Never Bun's development error page (working directory, paths, source lines) to a caller.
    development: false,
    error: (error) => internalErrorResponse(logger, error),
  });
  const url = `http://${server.hostname}:${server.port}`;
  logger.info(describeStartup(prepared, url, `bun ${Bun.version}`));
  const timeoutMs = config.server.shutdownTimeoutSeconds * 1000;
  return {
    url,
    port: server.port as number,
    async stop() {
      logger.info("shutting down: no new connections, waiting for in-flight requests", {
        inFlight: prepared.inFlight(),
      });
      const graceful = server.stop(false);
      const timedOut = !(await finishesWithin(graceful, timeoutMs));
      if (timedOut) {
        logger.warn("shutdown timeout: closing remaining connections", { inFlight: prepared.inFlight() });
        await server.stop(true);
      }
      await prepared.close(5000);
      logger.info("stopped");
    },
  };
}

if (import.meta.main) {
  const server = await startBunServer();
  onShutdownSignal(createQuietLogger(), async () => server.stop());
}

function createQuietLogger() {
  return { debug() {}, info() {}, warn: console.warn, error: console.error };
}

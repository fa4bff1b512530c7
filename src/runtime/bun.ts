/**
 * The Bun server: `Bun.serve` over the shared Hono app.
 *
 * Run: `bun src/runtime/bun.ts` (or `npm start`, or `artifact-store serve`).
 */
import {
  describeStartup,
  finishesWithin,
  internalErrorResponse,
  onShutdownSignal,
  prepareServer,
  type ServerOptions,
} from "./server-common.ts";

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
    // Bun's own default would cut uploads at 128 MiB; the app enforces server.body_limit itself.
    maxRequestBodySize: config.server.bodyLimit + 1,
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

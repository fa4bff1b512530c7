/**
 * The Node server: `@hono/node-server` over the shared Hono app.
 *
 * Run: `node dist/runtime/node.js` (after `npm run build`), or `artifact-store serve` under Node.
 */
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import type { RunningServer } from "./bun.ts";
import { describeStartup, onShutdownSignal, prepareServer, type ServerOptions } from "./server-common.ts";

/**
 * @example
 * const server = await startNodeServer({ port: 0 });
 * await server.stop();
 */
export async function startNodeServer(options: ServerOptions = {}): Promise<RunningServer> {
  const prepared = await prepareServer(options);
  const { config, logger } = prepared;
  const server = await new Promise<Server>((resolve) => {
    const listening = serve({ fetch: prepared.fetch, hostname: prepared.host, port: prepared.port }, () =>
      resolve(listening as Server),
    );
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : prepared.port;
  const url = `http://${prepared.host}:${port}`;
  logger.info(describeStartup(prepared, url, `node ${process.version}`));
  const timeoutMs = config.server.shutdownTimeoutSeconds * 1000;
  return {
    url,
    port,
    async stop() {
      logger.info("shutting down: no new connections, waiting for in-flight requests", {
        inFlight: prepared.inFlight(),
      });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timedOut = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs)),
      ]);
      if (timedOut) {
        logger.warn("shutdown timeout: closing remaining connections", { inFlight: prepared.inFlight() });
        server.closeAllConnections();
        await closed;
      }
      await prepared.close(5000);
      logger.info("stopped");
    },
  };
}

const entry = process.argv[1] ?? "";
if (import.meta.url === `file://${entry}` || entry.endsWith("/runtime/node.js")) {
  const server = await startNodeServer();
  onShutdownSignal({ debug() {}, info() {}, warn: console.warn, error: console.error }, async () => server.stop());
}

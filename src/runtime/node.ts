/**
 * The Node server: `@hono/node-server` over the shared Hono app.
 *
 * Run: `node dist/runtime/node.js` (after `npm run build`), or `artifact-store serve` under Node.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { type Http2Bindings, type HttpBindings, serve } from "@hono/node-server";
import { IN_MEMORY_LIMIT } from "../core/upload-plan.ts";
import { declaredLength } from "../http/body.ts";
import { isWholeResponse } from "../http/routes-artifacts.ts";
import type { RunningServer } from "./bun.ts";
import {
  breakOffOnError,
  describeStartup,
  finishesWithin,
  onShutdownSignal,
  prepareServer,
  type ServerOptions,
} from "./server-common.ts";

/**
 * The request with a body read from the socket only as fast as the app consumes it.
 * `@hono/node-server` converts the body with `Readable.toWeb`, which on Node 20 reads the whole
 * upload into memory ahead of the consumer (a 1 GiB upload grew the server by ~900 MiB).
 */
function withStreamedBody(request: Request, incoming: IncomingMessage | Http2ServerRequest): Request {
  if (request.method === "GET" || request.method === "HEAD") return request;
  // A body of a declared length the routes read whole is bounded: the adapter's own request reads
  // it from the socket in one go (a full Request and stream per small PUT cost ~4 % of Node's CPU).
  const length = declaredLength(request);
  if (length !== undefined && length <= IN_MEMORY_LIMIT && request.headers.get("transfer-encoding") === null)
    return request;
  const chunks = incoming[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      async cancel() {
        await chunks.return?.();
        incoming.destroy();
      },
    },
    { highWaterMark: 0 },
  );
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body,
    signal: request.signal,
    duplex: "half",
  } as RequestInit);
}

/** Headers only artifact and live-log content responses carry. */
const STREAMED_CONTENT_HEADERS = ["x-artifact-version", "x-live-size"];

/**
 * @example
 * const server = await startNodeServer({ port: 0 });
 * await server.stop();
 */
export async function startNodeServer(options: ServerOptions = {}): Promise<RunningServer> {
  const prepared = await prepareServer(options);
  const { config, logger } = prepared;
  const server = await new Promise<Server>((resolve) => {
    const listening = serve(
      {
        fetch: async (request: Request, env: HttpBindings | Http2Bindings) => {
          const response = await prepared.fetch(withStreamedBody(request, env.incoming));
          // Stored content streams from the backend and can fail mid-transfer (a damaged file):
          // then the connection is broken off without the adapter's stack print. Other answers
          // (JSON, pages) are whole already and keep the adapter's fast path.
          // (Whole verified bytes cannot fail: they keep the fast path too, and `body` is not touched,
          // which would turn the adapter's light response into a full one.)
          if (isWholeResponse(response)) return response;
          if (!response.body || !STREAMED_CONTENT_HEADERS.some((name) => response.headers.has(name))) return response;
          const body = breakOffOnError(
            response.body,
            () => env.outgoing.destroy(),
            logger,
            new URL(request.url).pathname,
          );
          return new Response(body, {
            status: response.status,
            statusText: response.statusText,
            headers: response.headers,
          });
        },
        hostname: prepared.host,
        port: prepared.port,
      },
      () => resolve(listening as Server),
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
      const timedOut = !(await finishesWithin(closed, timeoutMs));
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

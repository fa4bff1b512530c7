/**
 * A trivial HTTP server, the limit the store's server is compared with: it sends a file as it
 * is stored (read + send, no checksum, no metadata) and swallows uploads. Runs on Bun from
 * source and on Node from a bundle; prints `{"port":N}` once listening, stops on SIGTERM.
 *
 * Routes: `GET /file?path=P` (P's bytes; `Content-Encoding: gzip` when P ends in .gz),
 * `PUT /sink` (reads the body, answers 201 with a small JSON document).
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";

const SINK_REPLY = JSON.stringify({ ok: true, note: "a reply about as long as the store's metadata is short" });

function fileHeaders(path: string, size: number): Record<string, string> {
  return {
    "Content-Type": "text/plain",
    "Content-Length": String(size),
    ...(path.endsWith(".gz") ? { "Content-Encoding": "gzip" } : {}),
  };
}

function startBun(): number {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    maxRequestBodySize: 2 ** 40,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === "PUT" && url.pathname === "/sink") {
        await request.arrayBuffer();
        return new Response(SINK_REPLY, { status: 201, headers: { "Content-Type": "application/json" } });
      }
      const path = url.searchParams.get("path") ?? "";
      const file = Bun.file(path);
      return new Response(file, { headers: fileHeaders(path, file.size) });
    },
  });
  process.once("SIGTERM", () => {
    server.stop(true);
    process.exit(0);
  });
  return server.port as number;
}

async function startNode(): Promise<number> {
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    if (request.method === "PUT" && url.pathname === "/sink") {
      for await (const _chunk of request) {
        // the body is read and dropped
      }
      response.writeHead(201, { "Content-Type": "application/json" }).end(SINK_REPLY);
      return;
    }
    const path = url.searchParams.get("path") ?? "";
    const { size } = await stat(path);
    response.writeHead(200, fileHeaders(path, size));
    createReadStream(path, { highWaterMark: 256 * 1024 }).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.once("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

const port = typeof Bun !== "undefined" ? startBun() : await startNode();
console.log(JSON.stringify({ port }));

/**
 * Requests an attacker or an old tool sends to the real servers: bodies that never say how long
 * they are, and HTTP/1.0 requests without `Host`. Every body-reading route counts the bytes it
 * actually receives, and no answer ever carries a runtime's error page, a stack or a path.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { repoRoot, type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeTempDir } from "../helpers/store.ts";

const MIB = 1024 * 1024;

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1]) * 1024;
}

/**
 * Sends up to `total` bytes chunked (no Content-Length) on a raw socket and stops writing once
 * the server answers; the server may close the connection mid-body, which is its right.
 */
function chunkedFlood(
  url: string,
  method: string,
  total: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { port, pathname, search } = new URL(url);
  const chunk = Buffer.concat([
    Buffer.from(`${(64 * 1024).toString(16)}\r\n`),
    Buffer.alloc(64 * 1024, "a"),
    Buffer.from("\r\n"),
  ]);
  return new Promise((resolve, reject) => {
    let received = "";
    let sent = 0;
    let settled = false;
    const answer = () => {
      const split = received.indexOf("\r\n\r\n");
      if (split < 0) return undefined;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, split));
      const body = received.slice(split + 4);
      if (length && body.length < Number(length[1])) return undefined;
      return { status: Number(received.slice(9, 12)), body };
    };
    const finish = () => {
      if (settled) return;
      const parsed = answer();
      if (!parsed) return;
      settled = true;
      socket.destroy();
      resolve(parsed);
    };
    const socket = connect(Number(port), "127.0.0.1", () => {
      const head = Object.entries({ Host: `127.0.0.1:${port}`, ...headers, "Transfer-Encoding": "chunked" })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("");
      socket.write(`${method} ${pathname}${search} HTTP/1.1\r\n${head}\r\n`);
      pump();
    });
    const pump = () => {
      while (!settled && !socket.destroyed && sent < total) {
        sent += 64 * 1024;
        if (!socket.write(chunk)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (!settled && !socket.destroyed) socket.write("0\r\n\r\n");
    };
    socket.on("data", (data) => {
      received += data;
      finish();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      finish();
      if (!settled)
        reject(new Error(`connection closed without a full answer: ${JSON.stringify(received.slice(0, 200))}`));
    });
  });
}

/** Writes `text` on a raw socket and returns everything the server sends back before closing. */
function rawExchange(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(text));
    let received = "";
    socket.on("data", (data) => (received += data));
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
    setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, 5000);
  });
}

/** Every route that reads (or must refuse) a request body, as an attacker without a token would call it. */
const BODY_ROUTES: [method: string, path: string, headers?: Record<string, string>][] = [
  ["POST", "/ui/login", { "Content-Type": "application/x-www-form-urlencoded" }],
  ["POST", "/ui/logout"],
  ["PATCH", "/v1/artifacts/alpha/t1/log?version=1", { "Content-Type": "application/json" }],
  ["PUT", "/v1/artifacts/alpha/t1/log"],
  ["POST", "/v1/artifacts/alpha/t1/log:append"],
  ["POST", "/v1/artifacts/alpha/t1/log:seal"],
  ["DELETE", "/v1/artifacts/alpha/t1/log:live"],
  ["DELETE", "/v1/artifacts/alpha/t1/log"],
  ["POST", "/v1/maintenance/cleanup"],
  ["POST", "/v1/maintenance/gc"],
  ["POST", "/v1/maintenance/verify"],
  ["POST", "/v1/maintenance/reindex"],
];

for (const runtime of ["bun", "node"] as const) {
  describe(`${runtime} server: bodies that do not say how long they are`, () => {
    let dir: { path: string; cleanup(): Promise<void> };
    let server: ServerProcess;

    beforeAll(async () => {
      dir = await makeTempDir(`flood-${runtime}`);
      server = await startServerProcess({
        runtime,
        basePath: dir.path,
        env: { ARTIFACT_STORE_SERVER__BODY_LIMIT: "2MiB" },
      });
    });
    afterAll(async () => {
      await server?.stop();
      await dir.cleanup();
    });

    test("a chunked 64 MiB body to every body-reading route is 413, and the server's memory stays flat", async () => {
      // A server that has already done its normal work: an upload (body_limit is 2 MiB here), a
      // live-log chunk and a small body to every route. What is measured then is the flood alone.
      const legit = await chunkedFlood(`${server.url}/v1/artifacts/warm/t1/log`, "PUT", 1.5 * MIB);
      expect(legit.status).toBe(201);
      const chunk = await fetch(`${server.url}/v1/artifacts/warm/t1/log:append`, {
        method: "POST",
        body: "x".repeat(MIB),
      });
      expect(chunk.status).toBe(201);
      for (const [method, path, headers] of BODY_ROUTES) await chunkedFlood(`${server.url}${path}`, method, 1, headers);
      const before = rssBytes(server.pid);
      let peak = before;
      for (const [method, path, headers] of BODY_ROUTES) {
        const answer = await chunkedFlood(`${server.url}${path}`, method, 64 * MIB, headers).catch((error: Error) => {
          throw new Error(`${method} ${path}: ${error.message}`);
        });
        expect({ route: `${method} ${path}`, status: answer.status }).toEqual({
          route: `${method} ${path}`,
          status: 413,
        });
        expect(JSON.parse(answer.body).error.code).toBe("E_TOO_LARGE");
        const now = rssBytes(server.pid);
        peak = Math.max(peak, now);
      }
      const grown = peak - before;
      console.log(
        `[figure] ${runtime}: RSS ${(before / MIB).toFixed(1)} MiB before, peak ${(peak / MIB).toFixed(1)} MiB after ${BODY_ROUTES.length} chunked 64 MiB bodies (+${(grown / MIB).toFixed(1)} MiB)`,
      );
      expect(grown).toBeLessThan(32 * MIB);
      // Nothing of the floods was stored (only the one-chunk warm-up bodies).
      const search = await fetch(`${server.url}/v1/artifacts?spec=alpha`);
      const sizes = (await search.json()).items.map((item: { originalSize: number }) => item.originalSize);
      expect(sizes.filter((size: number) => size > MIB)).toEqual([]);
    }, 180_000);
  });
}

for (const runtime of ["bun", "node", "deno"] as const) {
  describe(`${runtime} server: HTTP/1.0 without Host`, () => {
    let dir: { path: string; cleanup(): Promise<void> };
    let server: ServerProcess;

    beforeAll(async () => {
      dir = await makeTempDir(`hostless-${runtime}`);
      server = await startServerProcess({ runtime, basePath: dir.path });
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
      await dir.cleanup();
    });

    test("a health probe gets a normal 200 JSON answer", async () => {
      const answer = await rawExchange(server.url, "GET /healthz HTTP/1.0\r\n\r\n");
      expect(answer).toMatch(/^HTTP\/1\.[01] 200/);
      expect(answer.slice(answer.indexOf("\r\n\r\n") + 4)).toContain('"status":"ok"');
    });

    test("no answer to a host-less request carries an error page, a stack trace or a server path", async () => {
      const requests = [
        "GET /healthz HTTP/1.0\r\n\r\n",
        "GET /ui HTTP/1.0\r\n\r\n",
        "GET /no/such/route HTTP/1.0\r\n\r\n",
        "GET /v1/artifacts/alpha/t1/log HTTP/1.0\r\n\r\n",
        "POST /v1/maintenance/gc HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        "GET http://[bad HTTP/1.0\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
      ];
      for (const text of requests) {
        const answer = await rawExchange(server.url, text);
        expect(answer).toMatch(/^HTTP\/1\.[01] [1-5]\d\d/);
        for (const secret of [repoRoot, dir.path, "node_modules", "__bunfallback", "    at "]) {
          expect({ request: text, leaks: answer.includes(secret) }).toEqual({ request: text, leaks: false });
        }
        expect(answer).not.toMatch(/^HTTP\/1\.[01] 500/);
      }
    });
  });
}

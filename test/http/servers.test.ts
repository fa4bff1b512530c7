/**
 * The real servers on loopback: Bun (`Bun.serve`) and Node (`@hono/node-server` on dist/).
 * Streaming, gzip passthrough, Range, checksum failure mid-stream, and graceful shutdown.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { gunzipSync } from "fflate";
import { rawRequest } from "../helpers/raw-http.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeLog, makeTempDir, sha256Hex } from "../helpers/store.ts";

/** PUTs `chunks` with a pause between them, as a slow client would (node:http, chunked). */
function slowUpload(url: string, chunks: string[], pauseMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "PUT", headers: { "Transfer-Encoding": "chunked" } }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    let index = 0;
    const next = () => {
      if (index < chunks.length) {
        req.write(chunks[index++]);
        setTimeout(next, pauseMs);
      } else req.end();
    };
    next();
  });
}

/**
 * GETs the artifact s/t0/log, stops the server with SIGTERM and returns the request lines of
 * its log, after checking the GET's line is the last request logged and "stopped" the last line.
 */
async function requestLinesAfterStop(running: ServerProcess): Promise<string[]> {
  const last = await fetch(`${running.url}/v1/artifacts/s/t0/log`);
  expect(last.status).toBe(200);
  process.kill(running.pid, "SIGTERM");
  expect(await running.exited).toBe(0);
  const lines = running.output().split("\n");
  const requests = lines.filter((line) => line.includes(" INFO request "));
  expect(requests.at(-1)).toContain("method=GET path=/v1/artifacts/s/t0/log status=200");
  expect(lines.filter((line) => line.trim() !== "").at(-1)).toContain("INFO stopped");
  return requests;
}

/** GET and HEAD of one upload, as a client asking no encoding, gzip or identity: the same headers, describing the bytes GET sent. */
async function expectGetAndHeadAgree(serverUrl: string): Promise<void> {
  const url = new URL(`${serverUrl}/v1/artifacts/chat-app/1.3/log`);
  expect((await rawRequest(url, { method: "PUT", body: makeLog(3000) })).status).toBe(201);
  const asked: Record<string, string>[] = [{}, { "Accept-Encoding": "gzip" }, { "Accept-Encoding": "identity" }];
  for (const headers of asked) {
    const get = await rawRequest(url, { headers });
    const head = await rawRequest(url, { method: "HEAD", headers });
    expect(get.headers["content-encoding"]).toBe(headers["Accept-Encoding"] === "gzip" ? "gzip" : undefined);
    expect(head.headers["content-encoding"]).toBe(get.headers["content-encoding"]);
    expect(Number(head.headers["content-length"])).toBe(get.body.length);
    expect(get.headers.etag).toBe(`"${await sha256Hex(get.body)}"`);
    expect(head.headers.etag).toBe(get.headers.etag);
  }
}

for (const runtime of ["bun", "node"] as const) {
  describe(`${runtime} server on loopback`, () => {
    let dir: { path: string; cleanup(): Promise<void> };
    let server: ServerProcess;

    beforeAll(async () => {
      dir = await makeTempDir(`server-${runtime}`);
      server = await startServerProcess({ runtime, basePath: dir.path });
    });
    afterAll(async () => {
      await server?.stop();
      await dir.cleanup();
    });

    test("says at start-up where it listens, where data lives, and that it is loopback-only without tokens", () => {
      expect(server.output()).toContain(`data: filesystem ${dir.path}`);
      expect(server.output()).toContain("no tokens configured: bound to loopback only");
    });

    test("a streamed upload of 16 MiB round-trips, with and without gzip passthrough", async () => {
      const log = makeLog(200_000);
      const body = new Blob([log]).stream();
      const put = await fetch(`${server.url}/v1/artifacts/chat-app/1.1/log`, {
        method: "PUT",
        body,
        duplex: "half",
      } as RequestInit);
      expect(put.status).toBe(201);
      const stored = await put.json();
      expect(stored.originalChecksum).toBe(await sha256Hex(log));
      const plain = await fetch(`${server.url}/v1/artifacts/chat-app/1.1/log`, {
        headers: { "Accept-Encoding": "identity" },
      });
      expect(plain.headers.get("content-encoding")).toBeNull();
      expect(await sha256Hex(new Uint8Array(await plain.arrayBuffer()))).toBe(stored.originalChecksum);
      // fetch would decode gzip on its own; node:http shows the bytes on the wire.
      const raw = await new Promise<{ encoding?: string; bytes: Buffer }>((resolve, reject) => {
        request(`${server.url}/v1/artifacts/chat-app/1.1/log`, { headers: { "Accept-Encoding": "gzip" } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk) => chunks.push(chunk));
          res.on("end", () => resolve({ encoding: res.headers["content-encoding"], bytes: Buffer.concat(chunks) }));
        })
          .on("error", reject)
          .end();
      });
      expect(raw.encoding).toBe("gzip");
      expect(raw.bytes.length).toBe(stored.size);
      expect(await sha256Hex(raw.bytes)).toBe(stored.checksum);
      expect(new TextDecoder().decode(gunzipSync(raw.bytes))).toBe(log);
    });

    test("GET and HEAD describe the bytes sent, for a client asking no encoding, gzip or identity", () =>
      expectGetAndHeadAgree(server.url));

    test("Range returns 206 slices of the decoded content", async () => {
      const log = makeLog(10_000);
      await fetch(`${server.url}/v1/artifacts/chat-app/1.2/log`, { method: "PUT", body: log });
      const part = await fetch(`${server.url}/v1/artifacts/chat-app/1.2/log`, {
        headers: { Range: "bytes=1000-1999" },
      });
      expect(part.status).toBe(206);
      expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${log.length}`);
      expect(await part.text()).toBe(log.slice(1000, 2000));
    });

    test("a stored file damaged on disk is never served as a clean 200: the transfer breaks off", async () => {
      const log = makeLog(50_000);
      const stored = await (
        await fetch(`${server.url}/v1/artifacts/chat-app/bad/log`, { method: "PUT", body: log })
      ).json();
      const path = new URL(stored.uri);
      const bytes = await readFile(path);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
      await writeFile(path, bytes);
      const outcome = await fetch(`${server.url}/v1/artifacts/chat-app/bad/log`, {
        headers: { "Accept-Encoding": "identity" },
      })
        .then(async (response) => ({ status: response.status, text: await response.text() }))
        .catch((error: Error) => ({ status: -1, text: error.message }));
      // Either the server refused before sending (500) or the body was cut short; never the full text.
      expect(outcome.text === log).toBe(false);
      const again = await fetch(`${server.url}/v1/artifacts/chat-app/bad/log`);
      expect(again.status).toBe(500);
      expect((await again.json()).error.code).toBe("E_CORRUPT");
    });

    test("curl uploads 100 MiB and downloads it with and without --compressed, SHA-256 intact", async () => {
      const file = join(dir.path, "big.log");
      const lines: string[] = [];
      let size = 0;
      for (let index = 0; size < 100 * 1024 * 1024; index++) {
        const line = `2026-11-29T12:00:00Z INFO [job ${index % 97}] step ${index} finished in ${(index * 7919) % 1000} ms\n`;
        lines.push(line);
        size += line.length;
      }
      await writeFile(file, lines.join(""));
      const expected = await sha256Hex(await readFile(file));
      const upload = spawnSync(
        "curl",
        ["-sS", "--fail-with-body", "-T", file, `${server.url}/v1/artifacts/chat-app/big/log`],
        { encoding: "utf8" },
      );
      expect(upload.status).toBe(0);
      expect(JSON.parse(upload.stdout).originalChecksum).toBe(expected);
      for (const flags of [[], ["--compressed"]]) {
        const out = join(dir.path, `download${flags.length}.log`);
        const download = spawnSync("curl", [
          "-sS",
          "--fail",
          ...flags,
          "-o",
          out,
          `${server.url}/v1/artifacts/chat-app/big/log`,
        ]);
        expect(download.status).toBe(0);
        expect(await sha256Hex(await readFile(out))).toBe(expected);
      }
    });

    test("SIGTERM lets an in-flight upload finish, then exits cleanly with nothing half published", async () => {
      const own = await makeTempDir(`shutdown-${runtime}`);
      const running = await startServerProcess({
        runtime,
        basePath: own.path,
        env: { ARTIFACT_STORE_SERVER__SHUTDOWN_TIMEOUT: "10" },
      });
      const chunks = Array.from({ length: 10 }, (_, index) => `line ${index}\n`);
      const upload = slowUpload(`${running.url}/v1/artifacts/s/t/log`, chunks, 100);
      await new Promise((resolve) => setTimeout(resolve, 250));
      process.kill(running.pid, "SIGTERM");
      const result = await upload;
      expect(result.status).toBe(201);
      expect(await running.exited).toBe(0);
      expect(running.output()).toContain("shutting down");
      const restarted = await startServerProcess({ runtime, basePath: own.path });
      expect(await (await fetch(`${restarted.url}/v1/artifacts/s/t/log`)).text()).toBe(chunks.join(""));
      await restarted.stop();
      await own.cleanup();
    });

    test("every request's log line is in the log, in order, once SIGTERM's shutdown has exited", async () => {
      // The server writes its lines in batches; a clean shutdown must not lose the last ones.
      const own = await makeTempDir(`log-lines-${runtime}`);
      const running = await startServerProcess({ runtime, basePath: own.path });
      const tasks = Array.from({ length: 24 }, (_, index) => `t${index}`);
      const puts = await Promise.all(
        tasks.map((task) => fetch(`${running.url}/v1/artifacts/s/${task}/log`, { method: "PUT", body: `${task}\n` })),
      );
      expect(puts.map((response) => response.status)).toEqual(tasks.map(() => 201));
      const requests = await requestLinesAfterStop(running);
      expect(requests.filter((line) => line.includes("method=PUT")).length).toBe(tasks.length);
      for (const task of tasks)
        expect(requests.some((line) => line.includes(`path=/v1/artifacts/s/${task}/log`))).toBe(true);
      await own.cleanup();
    });

    test("an upload still stalled when the shutdown timeout ends is cut off and leaves nothing behind", async () => {
      const own = await makeTempDir(`shutdown-stall-${runtime}`);
      const running = await startServerProcess({
        runtime,
        basePath: own.path,
        env: { ARTIFACT_STORE_SERVER__SHUTDOWN_TIMEOUT: "1" },
      });
      const chunks = Array.from({ length: 50 }, (_, index) => `line ${index}\n`);
      const upload = slowUpload(`${running.url}/v1/artifacts/s/t/log`, chunks, 200).catch((error: Error) => ({
        status: -1,
        body: error.message,
      }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(running.pid, "SIGTERM");
      const result = await upload;
      expect(result.status).not.toBe(201);
      expect(await running.exited).toBe(0);
      expect(await readdir(join(own.path, ".store", "staging"))).toEqual([]);
      const restarted = await startServerProcess({ runtime, basePath: own.path });
      expect((await fetch(`${restarted.url}/v1/artifacts/s/t/log`)).status).toBe(404);
      const stats = await (await fetch(`${restarted.url}/v1/stats`)).json();
      expect(stats).toMatchObject({ artifacts: 0, pendingUploads: 0, quota: { usedBytes: 0 } });
      await restarted.stop();
      await own.cleanup();
    });
  });
}

describe("deno server on loopback", () => {
  test("every request's log line is in the log once SIGTERM's shutdown has exited (Deno.exit runs no exit handler)", async () => {
    const own = await makeTempDir("log-lines-deno");
    const running = await startServerProcess({ runtime: "deno", basePath: own.path });
    try {
      const put = await fetch(`${running.url}/v1/artifacts/s/t0/log`, { method: "PUT", body: "t0\n" });
      expect(put.status).toBe(201);
      await requestLinesAfterStop(running);
    } finally {
      await own.cleanup();
    }
  });

  test("GET and HEAD describe the bytes sent, for a client asking no encoding, gzip or identity", async () => {
    const dir = await makeTempDir("server-deno");
    const server = await startServerProcess({ runtime: "deno", basePath: dir.path });
    try {
      await expectGetAndHeadAgree(server.url);
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  });
});

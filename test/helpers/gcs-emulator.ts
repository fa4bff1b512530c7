/**
 * Google's Cloud Storage emulator (the one inside firebase-tools) for tests and benchmarks,
 * started on 127.0.0.1 with a free port (in-process, or as a child `node` process stopped by
 * its PID) and without the Java rules runtime: requests with `Authorization: Bearer owner`
 * bypass security rules, so only its storage HTTP app is needed. Its modules are internal,
 * hence the pinned version check. Below it, a fake Cloud Storage behind a stubbed `fetch` for
 * what the emulator does not do.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { FetchLike } from "../../src/backends/gcs.ts";
import { collectBytes, streamFromBytes } from "../../src/codec/streams.ts";

const FIREBASE_TOOLS_VERSION = "15.34.2";

export interface GcsEmulator {
  /** `127.0.0.1:<port>`, the form `STORAGE_EMULATOR_HOST` takes. */
  readonly host: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Makes sure `bucket` exists. The emulator creates a bucket on the first request that names it. */
  ensureBucket(bucket: string): Promise<void>;
  stop(): Promise<void>;
}

interface StorageEmulatorArgs {
  projectId: string;
  port: number;
  host: string;
  auto_download: boolean;
}
interface StorageEmulatorInstance {
  getPersistenceTmpDir(): string;
}
type StorageEmulatorClass = new (args: StorageEmulatorArgs) => StorageEmulatorInstance;
interface ExpressApp {
  listen(port: number, host: string): Server;
}

export interface StartGcsEmulatorOptions {
  projectId?: string;
  /**
   * Run it in a child `node` process instead of this one. The emulator hashes every upload
   * (MD5, CRC32C) in JavaScript; in-process that work shares the caller's thread, which is
   * fine for tests but skews a benchmark of the client.
   */
  separateProcess?: boolean;
}

interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

/**
 * @example
 * const emulator = await startGcsEmulator();
 * const backend = createGcsBackend({ bucket: "test", emulatorHost: emulator.host });
 * await emulator.stop();
 */
export async function startGcsEmulator(options: StartGcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const require = createRequire(import.meta.url);
  const { version } = require("firebase-tools/package.json") as { version: string };
  if (version !== FIREBASE_TOOLS_VERSION) {
    throw new Error(
      `the GCS emulator helper uses firebase-tools internals and needs version ${FIREBASE_TOOLS_VERSION}, found ${version}`,
    );
  }
  const firebaseTools = dirname(require.resolve("firebase-tools/package.json"));
  const projectId = options.projectId ?? "demo-artifact-store";
  // Its default blob directory is shared by every emulator on the machine (and wiped by each one's stop).
  const persistenceDir = await mkdtemp(join(tmpdir(), "gcs-emulator-"));
  let running: RunningServer | undefined;
  try {
    running = options.separateProcess
      ? await startChildProcess(firebaseTools, persistenceDir, projectId)
      : await startInProcess(firebaseTools, persistenceDir, projectId);
    const server = running;
    const host = `127.0.0.1:${server.port}`;
    const url = `http://${host}`;
    await waitUntilAnswering(url);
    return {
      host,
      url,
      async ensureBucket(bucket) {
        const response = await fetch(`${url}/storage/v1/b/${encodeURIComponent(bucket)}/o?maxResults=1`, {
          headers: { authorization: "Bearer owner" },
        });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`the emulator did not create bucket ${bucket}: ${response.status}`);
      },
      async stop() {
        await server.stop();
        await rm(persistenceDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await running?.stop().catch(() => {});
    await rm(persistenceDir, { recursive: true, force: true });
    throw new Error(`the Cloud Storage emulator could not start: ${(error as Error).message}`, { cause: error });
  }
}

async function startInProcess(
  firebaseTools: string,
  persistenceDir: string,
  projectId: string,
): Promise<RunningServer> {
  const require = createRequire(import.meta.url);
  const emulatorDir = join(firebaseTools, "lib", "emulator");
  const { StorageEmulator } = require(join(emulatorDir, "storage", "index.js")) as {
    StorageEmulator: StorageEmulatorClass;
  };
  const { createApp } = require(join(emulatorDir, "storage", "server.js")) as {
    createApp(projectId: string, emulator: StorageEmulatorInstance): Promise<ExpressApp>;
  };
  const { EmulatorRegistry } = require(join(emulatorDir, "registry.js")) as {
    EmulatorRegistry: { set(name: string, instance: unknown): void; clear(name: string): void };
  };
  class IsolatedStorageEmulator extends StorageEmulator {
    override getPersistenceTmpDir(): string {
      return persistenceDir;
    }
  }
  const emulator = new IsolatedStorageEmulator({ projectId, port: 0, host: "127.0.0.1", auto_download: false });
  const server = (await createApp(projectId, emulator)).listen(0, "127.0.0.1");
  const stop = async () => {
    EmulatorRegistry.clear("storage");
    await closeServer(server);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the emulator has no TCP address");
    // Upload session URLs are built from the request's Host header; the registry is the fallback.
    EmulatorRegistry.set("storage", emulator);
    return { port: address.port, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** The same setup as {@link startInProcess}, as a script for `node -e` (CommonJS, like firebase-tools). */
const CHILD_SCRIPT = `
const [root, persistenceDir, projectId] = process.argv.slice(1);
const { StorageEmulator } = require(root + "/lib/emulator/storage/index.js");
const { createApp } = require(root + "/lib/emulator/storage/server.js");
const { EmulatorRegistry } = require(root + "/lib/emulator/registry.js");
class IsolatedStorageEmulator extends StorageEmulator {
  getPersistenceTmpDir() { return persistenceDir; }
}
const emulator = new IsolatedStorageEmulator({ projectId, port: 0, host: "127.0.0.1", auto_download: false });
EmulatorRegistry.set("storage", emulator);
createApp(projectId, emulator).then((app) => {
  const server = app.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));
  process.on("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
});
`;

async function startChildProcess(
  firebaseTools: string,
  persistenceDir: string,
  projectId: string,
): Promise<RunningServer> {
  const child = spawn("node", ["-e", CHILD_SCRIPT, firebaseTools, persistenceDir, projectId], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM"); // this child, by its PID
    const stopped = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!stopped) child.kill("SIGKILL");
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error("no port announced within 15 s")), 15_000);
      child.stdout?.on("data", (data: Uint8Array) => {
        output += new TextDecoder().decode(data);
        const line = output.split("\n")[0];
        if (output.includes("\n") && line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the emulator process exited with ${code}`));
      });
    });
    return { port, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilAnswering(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await fetch(`${url}/b`, { headers: { authorization: "Bearer owner" } });
      await response.body?.cancel();
      if (response.ok) return;
      throw new Error(`GET /b answered ${response.status}`);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive connections would hold close() open until they time out.
    server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------
// A fake Cloud Storage behind a stubbed `fetch`, for what the emulator does not do
// (multi-chunk resumable sessions, preconditions, failures): it records every request.

export interface SentRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array;
}

export type Handler = (request: SentRequest) => Response | Promise<Response>;

/** A `fetch` that records each request and notes `<method> <Content-Range or uploadType>` in `events`. */
export function stubFetch(handler: Handler, events: string[] = []) {
  const sent: SentRequest[] = [];
  const fetchStub: FetchLike = async (input, init = {}) => {
    const body = init.body === undefined ? new Uint8Array(0) : await new Response(init.body).bytes();
    const request = { method: init.method ?? "GET", url: new URL(input), headers: new Headers(init.headers), body };
    sent.push(request);
    events.push(
      `${request.method} ${request.headers.get("content-range") ?? request.url.searchParams.get("uploadType")}`,
    );
    return handler(request);
  };
  return { fetch: fetchStub, sent };
}

export const SESSION = "https://upload.test/session/1";
export const objectJson = (name: string, size: number) =>
  Response.json({ name, size: String(size), generation: "1700000000000001", updated: "2026-01-01T00:00:00Z" });

/**
 * Resumable sessions as Cloud Storage runs them: 308 + `Range` for each chunk, the object on
 * the chunk that carries the total. `interfere` may persist part of a chunk and fail it.
 */
export function fakeSessions(
  interfere?: (request: SentRequest, persist: (bytes: Uint8Array) => void) => Response | undefined,
) {
  const stored: Uint8Array[] = [];
  let storedLength = 0;
  let name = "";
  let finished = false;
  const persist = (bytes: Uint8Array) => {
    stored.push(bytes);
    storedLength += bytes.length;
  };
  const progress = () =>
    new Response(null, { status: 308, headers: storedLength ? { range: `bytes=0-${storedLength - 1}` } : {} });
  const handler: Handler = (request) => {
    if (request.method === "POST") {
      name = request.url.searchParams.get("name") ?? "";
      return new Response(null, { status: 200, headers: { location: SESSION } });
    }
    if (request.method === "DELETE") return new Response(null, { status: 499 });
    const range = request.headers.get("content-range") ?? "";
    if (range.startsWith("bytes */")) return finished ? objectJson(name, storedLength) : progress();
    const interfered = interfere?.(request, persist);
    if (interfered) return interfered;
    const match = /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(range);
    if (!match || Number(match[1]) !== storedLength) return new Response("bad range", { status: 400 });
    persist(request.body);
    if (match[3] !== "*" && Number(match[3]) === storedLength) {
      finished = true;
      return objectJson(name, storedLength);
    }
    return progress();
  };
  return { handler, stored: () => collectBytes(new Blob(stored as Uint8Array<ArrayBuffer>[]).stream()) };
}

/** A source that notes in `events` when it has handed out its last byte. */
export function observedSource(bytes: Uint8Array, events: string[], chunk = 100 * 1024): ReadableStream<Uint8Array> {
  const inner = streamFromBytes(bytes, chunk).getReader();
  return new ReadableStream(
    {
      async pull(controller) {
        const { done, value } = await inner.read();
        if (done) {
          events.push("source closed");
          controller.close();
        } else controller.enqueue(value);
      },
    },
    // No read-ahead: the source closes only when the backend asks for more.
    { highWaterMark: 0 },
  );
}

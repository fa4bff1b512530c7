/**
 * Real S3-compatible servers for the tests and the bench, on 127.0.0.1 with a free port:
 *
 * - `fauxqs` in this process (`buildApp().listen`). Never its CLI: that binds 0.0.0.0. It keeps
 *   objects in memory, accepts any credentials, and takes at most 11 MiB per request.
 * - `s3rver` as a child process of `node --openssl-legacy-provider` (without the flag its
 *   ListObjectsV2 paging answers 500). It keeps objects on disk, knows one access key
 *   (`S3RVER`/`S3RVER`), refuses unknown access keys, but does not verify V4 signatures. It runs
 *   with `s3rver-read-after-write.cjs` preloaded: on its own, s3rver may answer a PUT before the
 *   object's file is written, so a GET right after it misses the object (S3 never does).
 *
 * Both take path-style requests (`forcePathStyle: true`): against an IP endpoint the SDK's
 * virtual-host URLs (`bucket.127.0.0.1`) cannot resolve, and fauxqs only maps virtual hosts
 * for dotted host names such as `bucket.s3.localhost`.
 *
 * A server that cannot start makes the caller fail: nothing here skips. Below the servers:
 * small tools the S3 tests share (a command recorder, a metered body, a scripted transport).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { buildApp } from "fauxqs";
import { streamFromBytes } from "../../src/codec/streams.ts";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import { randomBytes } from "./store.ts";

export type S3ServerKind = "fauxqs" | "s3rver";

export interface S3TestServer {
  kind: S3ServerKind;
  /** `http://127.0.0.1:<port>`; use with path-style addressing. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A plain SDK client for this server, independent of the backend under test. */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Every object in `bucket` (all pages), sorted by key: what the store left there. */
  listObjects(bucket: string): Promise<{ key: string; size: number }[]>;
  /** One object's content as text, or null when there is none. */
  readText(bucket: string, key: string): Promise<string | null>;
  /** `ARTIFACT_STORE_*` variables that point a store (library, server or CLI) at `bucket` here. */
  storeEnv(bucket: string): Record<string, string>;
  /** Stops the server; the port stays free until {@link S3TestServer.restart}. */
  stop(): Promise<void>;
  /** Starts again on the same port (s3rver keeps its directory; fauxqs starts empty). */
  restart(): Promise<void>;
  /** Stops the server and removes its files. */
  dispose(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;

/**
 * Starts a server of the given kind and waits until it answers.
 *
 * @example
 * const server = await startS3Server("fauxqs");
 * await server.createBucket("artifacts");
 * const backend = createS3Backend({ bucket: "artifacts", endpoint: server.endpoint, forcePathStyle: true,
 *   credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
 * await server.dispose();
 */
export async function startS3Server(kind: S3ServerKind, options: S3ServerOptions = {}): Promise<S3TestServer> {
  return kind === "fauxqs" ? startFauxqs() : startS3rver(options);
}

export interface S3ServerOptions {
  /** s3rver only: opens each object file for writing this much later, as a descheduled thread does. */
  objectOpenDelayMs?: number;
}

function makeClient(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    requestHandler: new FetchHttpHandler(),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

function describeServer(
  kind: S3ServerKind,
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  lifecycle: Pick<S3TestServer, "stop" | "restart" | "dispose">,
): S3TestServer {
  const client = makeClient(endpoint, credentials.accessKeyId, credentials.secretAccessKey);
  return {
    kind,
    endpoint,
    region: "us-east-1",
    ...credentials,
    client,
    async createBucket(name) {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async listObjects(bucket) {
      const objects: { key: string; size: number }[] = [];
      let token: string | undefined;
      do {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
        const page: ListObjectsV2CommandOutput = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }),
        );
        for (const object of page.Contents ?? []) objects.push({ key: object.Key as string, size: object.Size ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return objects.sort((left, right) => (left.key < right.key ? -1 : left.key > right.key ? 1 : 0));
    },
    async readText(bucket, key) {
      try {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await object.Body?.transformToString()) ?? null;
      } catch (error) {
        if ((error as { name?: string }).name === "NoSuchKey") return null;
        throw error;
      }
    },
    storeEnv(bucket) {
      return {
        ARTIFACT_STORE_BACKEND_TYPE: "s3",
        ARTIFACT_STORE_S3__BUCKET: bucket,
        ARTIFACT_STORE_S3__ENDPOINT: endpoint,
        ARTIFACT_STORE_S3__REGION: "us-east-1",
        ARTIFACT_STORE_S3__FORCE_PATH_STYLE: "true",
        ARTIFACT_STORE_S3__ACCESS_KEY_ID: credentials.accessKeyId,
        ARTIFACT_STORE_S3__SECRET_ACCESS_KEY: credentials.secretAccessKey,
      };
    },
    stop: lifecycle.stop,
    restart: lifecycle.restart,
    async dispose() {
      client.destroy();
      await lifecycle.dispose();
    },
  };
}

async function startFauxqs(): Promise<S3TestServer> {
  let app = buildApp({ logger: false });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  const port = Number(new URL(address).port);
  let running = true;
  const stop = async () => {
    if (!running) return;
    running = false;
    await app.close();
  };
  // fauxqs ignores credentials entirely; any pair works.
  return describeServer(
    "fauxqs",
    `http://127.0.0.1:${port}`,
    { accessKeyId: "test", secretAccessKey: "test" },
    {
      stop,
      async restart() {
        await stop();
        app = buildApp({ logger: false });
        await app.listen({ port, host: "127.0.0.1" });
        running = true;
      },
      dispose: stop,
    },
  );
}

async function startS3rver(options: S3ServerOptions): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  let child: ChildProcess | undefined;
  // Port 0 on the first start lets the OS pick a free port; s3rver prints the one it got.
  let port = 0;
  const start = async () => {
    const started = await spawnS3rver(directory, port, options);
    child = started.child;
    port = started.port;
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    await exited;
  };
  try {
    await start();
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return describeServer(
    "s3rver",
    `http://127.0.0.1:${port}`,
    { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    {
      stop,
      async restart() {
        await stop();
        await start();
      },
      async dispose() {
        await stop();
        await rm(directory, { recursive: true, force: true });
      },
    },
  );
}

/** Runs s3rver and resolves once it printed its address and answers HTTP on it. */
async function spawnS3rver(
  directory: string,
  port: number,
  options: S3ServerOptions,
): Promise<{ child: ChildProcess; port: number }> {
  const script = join(process.cwd(), "node_modules", "s3rver", "bin", "s3rver.js");
  const readAfterWrite = join(import.meta.dir, "s3rver-read-after-write.cjs");
  const env = { ...process.env, S3RVER_TEST_OBJECT_OPEN_DELAY_MS: String(options.objectOpenDelayMs ?? 0) };
  const child = spawn(
    "node",
    [
      "--openssl-legacy-provider",
      "--require",
      readAfterWrite,
      script,
      ...["-d", directory, "-a", "127.0.0.1", "-p", String(port), "--silent"],
    ],
    { stdio: ["ignore", "pipe", "pipe"], env },
  );
  // If the test process ends without dispose() (a crash, an uncaught error), take the child along.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  let output = "";
  child.stdout?.on("data", (chunk: Uint8Array) => {
    output += new TextDecoder().decode(chunk);
  });
  child.stderr?.on("data", (chunk: Uint8Array) => {
    output += new TextDecoder().decode(chunk);
  });
  let failure: Error | undefined;
  child.once("error", (error) => {
    failure = error;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (failure || child.exitCode !== null) {
      throw new Error(`s3rver could not start (${failure?.message ?? `exit code ${child.exitCode}`}):\n${output}`);
    }
    const match = /S3rver listening on [^:\s]+:(\d+)/.exec(output);
    if (match?.[1]) {
      const actualPort = Number(match[1]);
      // Printed after listen(); one answered request proves the port serves S3.
      const response = await fetch(`http://127.0.0.1:${actualPort}/`).catch(() => null);
      if (response) {
        await response.body?.cancel();
        return { child, port: actualPort };
      }
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`s3rver did not answer within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Records every command `client` got a successful answer to, and the multipart upload ids it was given. */
export function recordCommands(client: S3Client) {
  const commands: string[] = [];
  const uploadIds: string[] = [];
  const listeners: ((command: string) => void)[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const command = context.commandName ?? "unknown";
      const output = result.output as { UploadId?: string };
      if (command === "CreateMultipartUploadCommand" && output.UploadId) uploadIds.push(output.UploadId);
      commands.push(command);
      for (const listener of listeners) listener(command);
      return result;
    },
    { step: "initialize", name: "recordCommands" },
  );
  const count = (name: string) => commands.filter((command) => command === name).length;
  const nextCompleted = (name: string) =>
    new Promise<void>((resolve) => listeners.push((command) => command === name && resolve()));
  return { commands, uploadIds, count, nextCompleted };
}

/**
 * A body of `total` bytes in `chunkSize` chunks that tells how far it has been read and whether
 * it was cancelled; `beforeChunk` runs before each chunk is handed out.
 */
export function meteredStream(total: number, chunkSize: number, beforeChunk?: (emitted: number) => Promise<void>) {
  const state = { emitted: 0, cancelReason: undefined as unknown };
  const bytes = randomBytes(chunkSize);
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (state.emitted >= total) return controller.close();
        await beforeChunk?.(state.emitted);
        const size = Math.min(chunkSize, total - state.emitted);
        state.emitted += size;
        controller.enqueue(bytes.slice(0, size));
      },
      cancel(reason) {
        state.cancelReason = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

/**
 * A transport for what neither server can be made to do (answer 5xx, throttle): it counts
 * requests and answers from a script, the last answer repeating. The SDK parses its
 * answers exactly like real ones.
 *
 * @example
 * const transport = scriptedTransport([{ status: 503, code: "SlowDown", message: "Reduce your rate." }]);
 * const backend = createS3Backend({ bucket: "b", requestHandler: transport.requestHandler, ... });
 */
export function scriptedTransport(
  answers: { status: number; code?: string; message?: string; headers?: Record<string, string>; body?: string }[],
) {
  const seen: string[] = [];
  const handler = {
    async handle(request: { method: string; path: string }) {
      const answer = answers[Math.min(seen.length, answers.length - 1)] as (typeof answers)[number];
      seen.push(`${request.method} ${request.path}`);
      const xml = answer.code
        ? `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${answer.code}</Code><Message>${answer.message}</Message><RequestId>stub</RequestId></Error>`
        : (answer.body ?? "");
      return {
        response: {
          statusCode: answer.status,
          headers: { "content-type": "application/xml", ...answer.headers },
          body: new TextEncoder().encode(xml),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  return { seen, requestHandler: handler as unknown as S3ClientConfig["requestHandler"] };
}

/** Puts each key with its own name as content, 16 at a time. */
export async function putMany(backend: StorageBackend, keys: string[]): Promise<void> {
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      await backend.put(key, streamFromBytes(new TextEncoder().encode(key)));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

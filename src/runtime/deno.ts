/**
 * The Deno server: `Deno.serve` over the shared Hono app, with the same config (YAML file plus
 * `ARTIFACT_STORE_*` from `Deno.env`), backends and metadata as the Bun and Node servers. The
 * filesystem backend runs on Deno's `node:fs`; `@libsql/client` resolves to its native build on
 * Deno, so local `file:` databases and embedded replicas work, and remote URLs too.
 *
 * Run: `deno run -A src/runtime/deno.ts` (or `jsr:@necrocode/artifact-store/server/deno`).
 */
import { Duplex } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import type { CodecEngines } from "../codec/engines.ts";
import { nodeSha256 } from "./engines.ts";
import {
  describeStartup,
  finishesWithin,
  internalErrorResponse,
  prepareServer,
  type ServerOptions,
} from "./server-common.ts";

/** The part of the Deno namespace this entry uses (the project is type-checked with Bun's types too). */
declare const Deno: {
  version: { deno: string };
  env: { toObject(): Record<string, string> };
  serve(
    options: {
      hostname: string;
      port: number;
      onListen?: (address: { hostname: string; port: number }) => void;
      onError?: (error: unknown) => Response;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { addr: { hostname: string; port: number }; finished: Promise<void>; shutdown(): Promise<void> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

/** A started server (the same shape as the Bun and Node servers' `RunningServer`). */
export interface RunningServer {
  /** e.g. `http://127.0.0.1:8787` */
  url: string;
  port: number;
  /** Stop accepting, let in-flight requests finish (within the configured timeout), close the store. */
  stop(): Promise<void>;
}

/** `CompressionStream`'s fixed level; other levels go through `node:zlib` with the level set. */
const COMPRESSION_STREAM_LEVEL = 6;

/**
 * Deno's fastest conforming engines: native gzip and SHA-256 through `node:zlib` and
 * `node:crypto`. Gunzip goes through `node:zlib` rather than `DecompressionStream`, which on
 * Deno fails on concatenated gzip members ("failed to write whole buffer") — the conformance
 * suite's engine case catches that.
 *
 * @example
 * const store = createArtifactStore({ backend, metadata, codecs: createDenoEngines() });
 */
export function createDenoEngines(): CodecEngines {
  const toTransform = (duplex: Duplex) => Duplex.toWeb(duplex) as unknown as TransformStream<Uint8Array, Uint8Array>;
  return {
    name: "deno-native (CompressionStream, node:zlib, node:crypto)",
    createGzip: (level) =>
      level === COMPRESSION_STREAM_LEVEL
        ? (new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>)
        : toTransform(createGzip({ level })),
    createGunzip: () => toTransform(createGunzip()),
    createSha256: nodeSha256,
  };
}

/**
 * Starts the server; config comes from the YAML file and `Deno.env` unless `options` say otherwise.
 *
 * @example
 * const server = await startDenoServer({ port: 0, overrides: { base_path: "/tmp/artifacts" } });
 * console.log(server.url);
 * await server.stop();
 */
export async function startDenoServer(options: ServerOptions = {}): Promise<RunningServer> {
  const prepared = await prepareServer({
    env: Deno.env.toObject(),
    codecs: createDenoEngines(),
    ...options,
  });
  const { config, logger } = prepared;
  // Deno.serve binds before it returns; the no-op onListen replaces Deno's own "Listening on" line.
  const server = Deno.serve(
    {
      hostname: prepared.host,
      port: prepared.port,
      onListen() {},
      onError: (error: unknown) => internalErrorResponse(prepared.logger, error),
    },
    prepared.fetch,
  );
  const url = `http://${server.addr.hostname}:${server.addr.port}`;
  logger.info(describeStartup(prepared, url, `deno ${Deno.version.deno}`));
  const timeoutMs = config.server.shutdownTimeoutSeconds * 1000;
  return {
    url,
    port: server.addr.port,
    async stop() {
      logger.info("shutting down: no new connections, waiting for in-flight requests", {
        inFlight: prepared.inFlight(),
      });
      // shutdown() stops accepting and resolves once in-flight requests are answered.
      const timedOut = !(await finishesWithin(server.shutdown(), timeoutMs));
      if (timedOut) logger.warn("shutdown timeout: exiting with requests in flight", { inFlight: prepared.inFlight() });
      await prepared.close(5000);
      logger.info("stopped");
    },
  };
}

if (import.meta.main) {
  const server = await startDenoServer();
  let stopping = false;
  const stop = () => {
    if (stopping) Deno.exit(1);
    stopping = true;
    server.stop().then(
      () => Deno.exit(0),
      (error: unknown) => {
        console.error(`[artifact-store] shutdown failed: ${String(error)}`);
        Deno.exit(1);
      },
    );
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

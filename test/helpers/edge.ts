/**
 * The edge as deployed, for tests of the Worker entry: the bundle `npm run build:worker` makes,
 * run by workerd (Miniflare, see workerd.ts) and configured by bindings, with blobs on an S3
 * server (fauxqs, bucket `edge`) and metadata on sqld (JWT auth), both outside workerd.
 */
import { join } from "node:path";
import { buildWorkerBundle } from "../../scripts/build-worker.ts";
import { type S3TestServer, startS3Server } from "./s3-servers.ts";
import { type SqldServer, startSqld } from "./sqld.ts";
import { makeTempDir } from "./store.ts";
import { type RunningWorker, startWorker } from "./workerd.ts";

/** One entry of `server.tokens`: a name, the token's SHA-256, its scopes. */
export interface EdgeToken {
  name: string;
  sha256: string;
  scopes: string[];
  specs?: string[];
}

export interface Edge {
  s3: S3TestServer;
  sqld: SqldServer;
  /**
   * Bindings as wrangler.toml would give them (strings, the token list as JSON), under a fresh
   * S3 prefix; `overrides` are added, and an override of undefined removes the binding.
   */
  bindings(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** A Worker on those bindings; stopped by {@link Edge.dispose}. */
  start(overrides?: Record<string, unknown>): Promise<RunningWorker>;
  /** Stops every Worker started, sqld and the S3 server, and removes the bundle. */
  dispose(): Promise<void>;
}

export async function startEdge(label: string, tokens: EdgeToken[]): Promise<Edge> {
  const directory = await makeTempDir(label);
  const bundle = await buildWorkerBundle({ outfile: join(directory.path, "worker.js") });
  const sqld = await startSqld({ auth: true });
  const s3 = await startS3Server("fauxqs");
  await s3.createBucket("edge");
  const running: RunningWorker[] = [];

  const bindings = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const all: Record<string, unknown> = {
      ARTIFACT_STORE_BACKEND_TYPE: "s3",
      ARTIFACT_STORE_S3__BUCKET: "edge",
      ARTIFACT_STORE_S3__PREFIX: `run-${crypto.randomUUID()}/`,
      ARTIFACT_STORE_S3__ENDPOINT: s3.endpoint,
      ARTIFACT_STORE_S3__FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      ARTIFACT_STORE_METADATA__URL: sqld.url,
      ARTIFACT_STORE_METADATA__AUTH_TOKEN: sqld.authToken,
      ARTIFACT_STORE_SERVER__TOKENS: JSON.stringify(tokens),
      ...overrides,
    };
    return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
  };

  return {
    s3,
    sqld,
    bindings,
    async start(overrides = {}) {
      const worker = await startWorker({ scriptPath: bundle.outfile, bindings: bindings(overrides) });
      running.push(worker);
      return worker;
    },
    async dispose() {
      for (const worker of running) await worker.dispose();
      await sqld.stop();
      await s3.dispose();
      await directory.cleanup();
    },
  };
}

/**
 * What every conformance runner hands the cases: the library as the runtime under test loaded
 * it (sources on Bun, Deno and workerd; the built `dist/` on Node), the codec engines that
 * runtime injects, the services the harness started outside the runtime, and the
 * (backend, metadata) combinations to run on. Nothing here imports the library at run time:
 * only types, so Node can run the cases against `dist/`.
 */
import type { createMemoryBackend } from "../../src/backends/memory.ts";
import type { createS3Backend } from "../../src/backends/s3.ts";
import type { CodecEngines } from "../../src/codec/engines.ts";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import type { StoreSettings } from "../../src/core/settings.ts";
import type { ArtifactStore, createArtifactStore } from "../../src/core/store.ts";
import type { createApp } from "../../src/http/app.ts";
import type { createLibsqlMetadata } from "../../src/metadata/libsql.ts";

/** The minimal libSQL client surface the harness uses (both `@libsql/client` and `/web` fit). */
export interface SqlClient {
  execute(statement: string | { sql: string; args: unknown[] }): Promise<{ rows: ArrayLike<unknown>[] }>;
  close(): void;
}

/** A libSQL client factory: `createClient` from `@libsql/client/web` or `@libsql/client`. */
export type CreateSqlClient = (config: { url: string; authToken?: string }) => SqlClient;

/** The library under test, as the runtime imported it. */
export interface ConformanceLibrary {
  createArtifactStore: typeof createArtifactStore;
  createLibsqlMetadata: typeof createLibsqlMetadata;
  createApp: typeof createApp;
  createMemoryBackend: typeof createMemoryBackend;
  createS3Backend: typeof createS3Backend;
  /** `createClient` from `@libsql/client/web`: what every runtime uses for remote metadata. */
  createWebClient: CreateSqlClient;
}

/** Servers the harness started outside the runtime under test (all on 127.0.0.1). */
export interface ConformanceServices {
  sqld: {
    /** `http://127.0.0.1:PORT` */
    url: string;
    /** `ws://127.0.0.1:PORT` */
    wsUrl: string;
    /** `libsql://127.0.0.1:PORT?tls=0` */
    libsqlUrl: string;
    /** The JWT sqld requires (it was started with `--auth-jwt-key-file`). */
    authToken: string;
  };
  s3: {
    endpoint: string;
    region: string;
    /** A bucket of this runtime's own; each store works under its own prefix in it. */
    bucket: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
}

export interface OpenStoreOptions {
  settings?: Partial<StoreSettings>;
  /** The store's clock (ms since the epoch). */
  now?: () => number;
}

export interface OpenedStore {
  store: ArtifactStore;
  backend: StorageBackend;
  close(): Promise<void>;
}

/** One (backend, metadata) pair the cases run on, e.g. "s3 + sqld (ws)". */
export interface StoreCombination {
  name: string;
  /** A store on a fresh, empty database and an empty place for blobs. */
  open(options?: OpenStoreOptions): Promise<OpenedStore>;
  /** Removes what the combination kept between stores; runners call it after the last case. */
  dispose?(): Promise<void>;
}

export interface ConformanceContext {
  /** `bun`, `node`, `deno` or `workerd`. */
  runtime: string;
  library: ConformanceLibrary;
  /** The gzip and SHA-256 engines this runtime's entry injects. */
  engines: CodecEngines;
  services: ConformanceServices;
}

export interface ConformanceCase {
  name: string;
  /**
   * `"combination"` cases run once per (backend, metadata) combination; `"runtime"` cases
   * (engines, metadata URLs) run once per runtime and get no combination.
   */
  scope: "combination" | "runtime";
  run(context: ConformanceContext, combination: StoreCombination | undefined): Promise<void>;
}

/**
 * The combinations every runtime can run, remote metadata only: memory blobs with sqld over
 * HTTP, S3 blobs with sqld over WebSocket, and S3 blobs with a `libsql://` URL. Runtimes with a
 * filesystem add their own (fs blobs with a `file:` database).
 */
export function remoteCombinations(context: ConformanceContext): StoreCombination[] {
  const { library, services } = context;
  const s3Backend = () =>
    library.createS3Backend({
      bucket: services.s3.bucket,
      // A prefix of its own: every store starts with an empty bucket view.
      prefix: `${context.runtime}-${crypto.randomUUID()}/`,
      region: services.s3.region,
      endpoint: services.s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: services.s3.accessKeyId, secretAccessKey: services.s3.secretAccessKey },
    });
  return [
    remoteCombination(context, "memory + sqld (http)", services.sqld.url, () => library.createMemoryBackend()),
    remoteCombination(context, "s3 + sqld (ws)", services.sqld.wsUrl, s3Backend),
    remoteCombination(context, "s3 + sqld (libsql://)", services.sqld.libsqlUrl, s3Backend),
  ];
}

function remoteCombination(
  context: ConformanceContext,
  name: string,
  url: string,
  makeBackend: () => StorageBackend,
): StoreCombination {
  return {
    name,
    async open(options = {}) {
      const client = context.library.createWebClient({ url, authToken: context.services.sqld.authToken });
      await dropAllTables(client);
      const metadata = await context.library.createLibsqlMetadata({ client: client as never });
      const backend = makeBackend();
      const store = context.library.createArtifactStore({
        backend,
        metadata,
        codecs: context.engines,
        config: options.settings ?? {},
        logger: silentLogger,
        ...(options.now ? { now: options.now } : {}),
      });
      return { store, backend, close: () => store.close() };
    },
  };
}

/**
 * Empties a shared database so the next store starts fresh: every table goes, and
 * `createLibsqlMetadata` then applies the bundled migrations again. Cases run one at a time
 * per runtime, and each runtime has its own sqld, so nothing else is using the database.
 */
export async function dropAllTables(client: SqlClient): Promise<void> {
  const result = await client.execute(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid DESC",
  );
  for (const row of result.rows) {
    const name = (row as unknown as { name: string }).name;
    await client.execute(`DROP TABLE IF EXISTS "${name.replaceAll('"', '""')}"`);
  }
}

/** The cases check behaviour, not logs: warnings about flipped bytes are expected here. */
export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

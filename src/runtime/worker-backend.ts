/**
 * The edge entry's wiring: the S3 or GCS backend and the libSQL metadata server the config
 * names, with credentials from the config or the bindings, opened into a store.
 */
import { createClient } from "@libsql/client/web";
import { createGcsBackend } from "../backends/gcs.ts";
import { createS3Backend } from "../backends/s3.ts";
import { secretValuesFor } from "../config/redaction.ts";
import type { ArtifactStoreConfig } from "../config/schema.ts";
import { ArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { Logger } from "../contracts/types.ts";
import { type ArtifactStore, createArtifactStore } from "../core/store.ts";
import { isLoopbackHost } from "../http/app.ts";
import { createLibsqlMetadata } from "../metadata/libsql.ts";
import { gcsBackendOptions, s3BackendOptions } from "./object-backends.ts";
import { type CREDENTIAL_BINDINGS, configFromBindings, misconfigured, type WorkerEnv } from "./worker-config.ts";
import { createWorkerEngines } from "./worker-engines.ts";
import { createConsoleLogger, describeError } from "./worker-log.ts";

/** The S3 or GCS backend the config names, with credentials from the config or the bindings. */
export function createWorkerBackend(config: ArtifactStoreConfig, env: WorkerEnv): StorageBackend {
  return checkWorkerBackend(config, env)();
}

/**
 * Checks that the bindings hold the credentials the backend needs (else `E_CONFIG` naming the
 * secret to set) and returns how to build it: the start-up check stops before building, since
 * workerd allows no I/O or randomness at module scope.
 */
export function checkWorkerBackend(config: ArtifactStoreConfig, env: WorkerEnv): () => StorageBackend {
  const binding = (name: (typeof CREDENTIAL_BINDINGS)[number]) =>
    typeof env[name] === "string" && env[name] !== "" ? (env[name] as string) : undefined;
  if (config.backendType === "s3") {
    const { s3 } = config;
    const accessKeyId = s3.accessKeyId ?? binding("AWS_ACCESS_KEY_ID");
    const secretAccessKey = s3.secretAccessKey ?? binding("AWS_SECRET_ACCESS_KEY");
    const sessionToken = s3.sessionToken ?? binding("AWS_SESSION_TOKEN");
    if (!accessKeyId || !secretAccessKey) {
      throw misconfigured(
        ["ARTIFACT_STORE_S3__ACCESS_KEY_ID", "ARTIFACT_STORE_S3__SECRET_ACCESS_KEY"],
        "[s3] Workers have no default credential chain: set the secrets ARTIFACT_STORE_S3__ACCESS_KEY_ID and ARTIFACT_STORE_S3__SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
      );
    }
    return () =>
      createS3Backend(
        s3BackendOptions(s3, { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }),
      );
  }
  const { gcs } = config;
  if (gcs.credentialsFile) {
    throw misconfigured(
      ["ARTIFACT_STORE_GCS__CREDENTIALS_FILE", "GCS_SERVICE_ACCOUNT_KEY"],
      "[gcs] ARTIFACT_STORE_GCS__CREDENTIALS_FILE cannot be read on Workers: remove it and put the key file's JSON in the GCS_SERVICE_ACCOUNT_KEY secret instead",
    );
  }
  const emulatorHost = gcs.endpoint ? undefined : binding("STORAGE_EMULATOR_HOST");
  const credentials = binding("GCS_SERVICE_ACCOUNT_KEY");
  if (!gcs.accessToken && !credentials && !emulatorHost && !gcs.endpoint) {
    throw misconfigured(
      ["GCS_SERVICE_ACCOUNT_KEY"],
      "[gcs] Workers have no default credentials: set the GCS_SERVICE_ACCOUNT_KEY secret to a service-account key's JSON (or ARTIFACT_STORE_GCS__ACCESS_TOKEN)",
    );
  }
  return () => createGcsBackend(gcsBackendOptions(gcs, { emulatorHost, credentials }));
}

/**
 * Opens the store the bindings describe: bundled migrations are applied on the way.
 *
 * @example
 * const store = await openWorkerStore(env);
 * const report = await store.cleanup();
 */
export async function openWorkerStore(
  env: WorkerEnv,
  logger: Logger = createConsoleLogger(env),
): Promise<ArtifactStore> {
  const config = configFromBindings(env);
  return openStore(config, env, logger);
}

export async function openStore(
  config: ArtifactStoreConfig,
  env: WorkerEnv,
  logger: Logger,
  keepAlive?: (written: Promise<void>) => void,
): Promise<ArtifactStore> {
  const backend = createWorkerBackend(config, env);
  const url = config.metadata.url as string;
  const client = createClient({
    url: overHttp(url),
    ...(config.metadata.authToken ? { authToken: config.metadata.authToken } : {}),
  });
  try {
    // No group commits across requests: workerd ties each request's I/O to that request.
    const metadata = await createLibsqlMetadata({ client, groupCommits: false });
    return createArtifactStore({
      backend,
      metadata,
      config,
      codecs: createWorkerEngines(),
      logger,
      secretValues: secretValuesFor(config, env as Record<string, unknown>, logger),
      ...(keepAlive ? { keepAlive } : {}),
    });
  } catch (error) {
    client.close();
    // The metadata server is first reached here: a refused token or an unreachable host.
    throw metadataOpenError(error, url, config.metadata.authToken !== undefined);
  }
}

/** Why the metadata server could not be opened, naming the setting when it is the cause. */
function metadataOpenError(error: unknown, url: string, hasToken: boolean): ArtifactStoreError {
  const reason = describeError(error);
  if (/\b401\b|unauthori[sz]ed|authentication|jwt/i.test(reason)) {
    return new ArtifactStoreError(
      "E_CONFIG",
      hasToken
        ? "the metadata server refused ARTIFACT_STORE_METADATA__AUTH_TOKEN: set the secret to a token it accepts (Turso: `turso db tokens create <db>`)"
        : "the metadata server wants a token: set the secret ARTIFACT_STORE_METADATA__AUTH_TOKEN (Turso: `turso db tokens create <db>`)",
      { cause: error, details: { settings: ["ARTIFACT_STORE_METADATA__AUTH_TOKEN"] } },
    );
  }
  if (isPlainLoopbackLibsql(url)) {
    return new ArtifactStoreError(
      "E_CONFIG",
      "ARTIFACT_STORE_METADATA__URL: a libsql:// URL is reached over HTTPS, and a local sqld speaks plain HTTP: use http://127.0.0.1:PORT or libsql://127.0.0.1:PORT?tls=0",
      { cause: error, details: { settings: ["ARTIFACT_STORE_METADATA__URL"] } },
    );
  }
  return toArtifactStoreError(error, "E_BACKEND_UNAVAILABLE", "[metadata] cannot open the metadata database");
}

/** `libsql://localhost:8080`, `libsql://127.0.0.1:8080` without `?tls=0`: HTTPS to a loopback port. */
function isPlainLoopbackLibsql(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "libsql:" && parsed.searchParams.get("tls") !== "0" && isLoopbackHost(parsed.host);
  } catch {
    return false;
  }
}

/**
 * `ws://` and `wss://` metadata URLs are used over HTTP (`http://`, `https://`: sqld and Turso
 * serve Hrana over HTTP at the same address). The store is shared by every request of an
 * isolate, and workerd does not let a WebSocket opened in one request be used by another.
 * `libsql://` URLs already go over HTTPS with the web client.
 */
function overHttp(url: string): string {
  return url.replace(/^ws(s?):\/\//i, "http$1://");
}

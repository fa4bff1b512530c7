/**
 * `openArtifactStore` for Bun and Node: reads the YAML/env config and wires the configured
 * backend (filesystem by default) and a local libSQL file — the one-line start.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createFsBackend, STORE_DIRECTORY } from "../backends/fs.ts";
import { createMemoryBackend } from "../backends/memory.ts";
import type { CodecEngines } from "../codec/engines.ts";
import { type LoadConfigOptions, loadConfig } from "../config/load.ts";
import { secretValuesFor } from "../config/redaction.ts";
import type { ArtifactStoreConfig } from "../config/schema.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { Logger } from "../contracts/types.ts";
import { consoleWarningsLogger } from "../core/context.ts";
import { DEFAULT_DISK_RESERVE_BYTES } from "../core/settings.ts";
import { type ArtifactStore, createArtifactStore } from "../core/store.ts";
import { openLocalMetadata } from "../metadata/local.ts";
import { createNativeEngines } from "./engines.ts";
import { gcsBackendOptions, s3BackendOptions, s3ConfigCredentials } from "./object-backends.ts";
import { createProcessIdentity } from "./process-identity.ts";

export interface OpenArtifactStoreOptions extends LoadConfigOptions {
  /** A parsed config to use instead of reading the file and environment. */
  config?: ArtifactStoreConfig;
  codecs?: CodecEngines;
  logger?: Logger;
  now?: () => number;
  /** See `CreateArtifactStoreOptions.inlineSmallUploads` (the server turns it on). */
  inlineSmallUploads?: boolean;
}

/** A store plus the config it was opened with. */
export interface LocalArtifactStore extends ArtifactStore {
  readonly config: ArtifactStoreConfig;
  /** Where the config came from: a file path, or null for defaults and environment only. */
  readonly configSource: string | null;
}

/**
 * Opens the store described by `~/.necrocode/config/artifact-store.yaml` and `ARTIFACT_STORE_*`
 * (defaults: filesystem under `~/.necrocode/artifacts`, metadata in `<base_path>/.store/metadata.db`).
 *
 * @example
 * import { openArtifactStore } from "@necrocode/artifact-store/local";
 * const store = await openArtifactStore({ overrides: { base_path: "./artifacts" } });
 * const uri = await store.upload("1.1", "chat-app", "log", "build ok\n");
 * console.log(await store.downloadText(uri));
 * await store.close();
 */
export async function openArtifactStore(options: OpenArtifactStoreOptions = {}): Promise<LocalArtifactStore> {
  const loaded = options.config ? { config: options.config, source: null } : await loadConfig(options);
  const { config } = loaded;
  const backend = await createConfiguredBackend(config, options.env ?? process.env);
  // The headroom deletes use on a full disk is taken at start, while there is room for it.
  await backend.restoreHeadroom?.().catch(() => {});
  const metadata = await openLocalMetadata({
    url: config.metadata.url ?? join(config.basePath, STORE_DIRECTORY, "metadata.db"),
    durability: config.durability,
    ...(config.metadata.authToken ? { authToken: config.metadata.authToken } : {}),
    ...(config.metadata.syncUrl ? { syncUrl: config.metadata.syncUrl } : {}),
    ...(config.metadata.syncIntervalSeconds ? { syncIntervalSeconds: config.metadata.syncIntervalSeconds } : {}),
  });
  const store = createArtifactStore({
    backend,
    metadata,
    config,
    codecs:
      options.codecs ??
      createNativeEngines(config.compressionThreads === null ? {} : { gzipThreads: config.compressionThreads }),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.now ? { now: options.now } : {}),
    secretValues: secretValuesFor(config, options.env ?? process.env, options.logger ?? consoleWarningsLogger),
    identity: createProcessIdentity(),
    ...(options.inlineSmallUploads ? { inlineSmallUploads: true } : {}),
  });
  return Object.assign(store, { config, configSource: loaded.source });
}

/** The backend `backend_type` names. `env` supplies STORAGE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS and AWS_*. */
export async function createConfiguredBackend(
  config: ArtifactStoreConfig,
  env: Record<string, string | undefined> = process.env,
): Promise<StorageBackend> {
  switch (config.backendType) {
    case "filesystem":
      return createFsBackend({
        root: config.basePath,
        fsync: config.durability === "strict",
        reserveBytes: config.storageQuota.reserveBytes ?? DEFAULT_DISK_RESERVE_BYTES,
      });
    case "memory":
      return createMemoryBackend();
    case "s3": {
      // Loaded on demand: filesystem users never load the AWS SDK.
      const { createS3Backend } = await import("../backends/s3.ts");
      // Without keys in the config, the SDK's default chain reads AWS_* variables, profiles and roles.
      return createS3Backend(s3BackendOptions(config.s3, s3ConfigCredentials(config.s3)));
    }
    case "gcs": {
      const { createGcsBackend } = await import("../backends/gcs.ts");
      const { endpoint, accessToken } = config.gcs;
      // An explicit gcs.endpoint wins; otherwise STORAGE_EMULATOR_HOST points at an emulator.
      const emulatorHost = endpoint ? undefined : env.STORAGE_EMULATOR_HOST;
      const credentialsFile = config.gcs.credentialsFile ?? env.GOOGLE_APPLICATION_CREDENTIALS;
      let credentials: string | undefined;
      if (!emulatorHost && !accessToken && credentialsFile) {
        try {
          credentials = await readFile(credentialsFile, "utf8");
        } catch (error) {
          throw new ArtifactStoreError(
            "E_CONFIG",
            `gcs.credentials_file: cannot read ${credentialsFile}: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
      }
      return createGcsBackend(gcsBackendOptions(config.gcs, { emulatorHost, credentials }));
    }
    default:
      throw new ArtifactStoreError("E_CONFIG", `backend_type ${config.backendType} is not available yet`);
  }
}

import type { CodecEngines } from "../codec/engines.ts";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { ArtifactTypeDefinition, Logger } from "../contracts/types.ts";
import type { AccessLog } from "./access-log.ts";
import type { StoreMetrics } from "./metrics.ts";
import type { Redaction } from "./redaction/settings.ts";
import type { StoreSettings } from "./settings.ts";
import type { ExtractionOptions } from "./structure/types.ts";
import type { TaskFiles } from "./task-files.ts";

/** What the pipelines share. Internal. */
export interface StoreContext {
  backend: StorageBackend;
  metadata: MetadataRepository;
  codecs: CodecEngines;
  settings: StoreSettings;
  types: ReadonlyMap<string, ArtifactTypeDefinition>;
  logger: Logger;
  metrics: StoreMetrics;
  accessLog: AccessLog;
  /** Secret scanning of uploaded content (`settings.redaction` with the values to mask). */
  redaction: Redaction;
  /** Each task's `metadata.json` and the root `metadata-index.json`. */
  files: TaskFiles;
  now(): number;
  /** Small first versions are committed inline (see `CreateArtifactStoreOptions.inlineSmallUploads`). */
  inlineSmallUploads?: boolean;
  /** Structure extraction at upload; absent means on with the default cap. */
  extraction?: ExtractionOptions;
}

/** Logs warnings and errors to the console, drops the rest: the library's quiet default. */
export const consoleWarningsLogger: Logger = {
  debug() {},
  info() {},
  warn(message, fields) {
    console.warn(`[artifact-store] ${message}`, fields ?? "");
  },
  error(message, fields) {
    console.error(`[artifact-store] ${message}`, fields ?? "");
  },
};

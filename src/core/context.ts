import type { CodecEngines } from "../codec/engines.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { ArtifactTypeDefinition, Logger } from "../contracts/types.ts";
import type { AccessLog } from "./access-log.ts";
import type { StoreMetrics } from "./metrics.ts";
import type { StoreSettings } from "./settings.ts";
import type { ExtractionOptions } from "./structure/types.ts";

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
  now(): number;
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

/** Object key of a version's blob: `<spec>/<task>/v<N>/<file>[.gz]`. */
export function blobKey(
  specName: string,
  taskId: string,
  version: number,
  type: ArtifactTypeDefinition,
  compressed: boolean,
): string {
  return `${specName}/${taskId}/v${version}/${type.fileName}${compressed ? ".gz" : ""}`;
}

/**
 * Where the versions of one artifact go, as the metadata layer needs it to build a key and URI
 * from a version number in SQL: key = `keyPrefix + version + keySuffix`, URI = `uriPrefix + key`.
 */
export function blobLocation(
  ctx: Pick<StoreContext, "backend">,
  specName: string,
  taskId: string,
  type: ArtifactTypeDefinition,
  compressed: boolean,
): { keyPrefix: string; keySuffix: string; uriPrefix: string } {
  const keyPrefix = `${specName}/${taskId}/v`;
  const keySuffix = `/${type.fileName}${compressed ? ".gz" : ""}`;
  const sample = `${keyPrefix}1${keySuffix}`;
  const uri = ctx.backend.uriFor(sample);
  if (!uri.endsWith(sample)) {
    throw new ArtifactStoreError(
      "E_CONFIG",
      `[${ctx.backend.name}] uriFor must end with the key it names (got ${uri} for ${sample})`,
    );
  }
  return { keyPrefix, keySuffix, uriPrefix: uri.slice(0, uri.length - sample.length) };
}

/** Object key of a version's metadata sidecar: `<spec>/<task>/v<N>/<type>.metadata.json`. */
export function sidecarKey(specName: string, taskId: string, version: number, typeName: string): string {
  return `${specName}/${taskId}/v${version}/${typeName}.metadata.json`;
}

/**
 * `@necrocode/artifact-store`: the pure core. Runs in any runtime with Web Streams and fetch.
 * Backends live in their own subpaths (`/backends/memory`, `/backends/fs`, `/backends/s3`,
 * `/backends/gcs`); `/local` opens a ready store on Bun and Node.
 */

export type { CodecEngines, Hasher } from "./codec/engines.ts";
export { portableEngines } from "./codec/portable.ts";
export type { ArtifactStoreConfig, TokenConfig } from "./config/schema.ts";
export { applyEnvOverrides, BUILT_IN_TYPES, parseConfig } from "./config/schema.ts";
export { ArtifactStoreError, ERROR_CODES, type ErrorCode, isArtifactStoreError } from "./contracts/errors.ts";
export type { MetadataRepository } from "./contracts/metadata-repository.ts";
export type {
  ByteRange,
  ListPage,
  ObjectInfo,
  PutOptions,
  StorageBackend,
  StoredObject,
} from "./contracts/storage-backend.ts";
export type * from "./contracts/types.ts";
export type { Logger } from "./contracts/types.ts";
export {
  type ComparedVersion,
  compareDiffs,
  compareTestCases,
  compareTestReports,
  type DiffComparison,
  type DiffFileChange,
  type TestChange,
  type TestComparison,
} from "./core/compare.ts";
export type { ContentRange } from "./core/content-range.ts";
export type { ArtifactDownload, OpenOptions } from "./core/download.ts";
export type {
  AppendLogInput,
  AppendLogResult,
  LiveLogRead,
  LiveLogRef,
  LiveLogStatus,
  SealLogInput,
} from "./core/live-log.ts";
export type {
  ArtifactChange,
  CleanupCandidate,
  CleanupOptions,
  CleanupReport,
  StoreStats,
} from "./core/maintenance.ts";
export type { StoreMetricsSnapshot } from "./core/metrics.ts";
export type { ReindexOptions, ReindexReport } from "./core/reindex.ts";
export type { GcOptions, GcReport } from "./core/repair.ts";
export type { SearchFilters, SearchPage } from "./core/search.ts";
export type { StoreSettings } from "./core/settings.ts";
export { type ArtifactStore, type CreateArtifactStoreOptions, createArtifactStore } from "./core/store.ts";
export { createStructureExtractor } from "./core/structure/extract.ts";
export { classifyLogLine } from "./core/structure/log-rules.ts";
export type * from "./core/structure/types.ts";
export type { UploadInput, UploadResult } from "./core/upload.ts";
export type { VerifyOptions, VerifyReport } from "./core/verify.ts";
export { createLibsqlMetadata, type LibsqlMetadataOptions } from "./metadata/libsql.ts";

/**
 * What a store offers: the contract every entry (the HTTP API, the viewer, the CLI, the library)
 * uses. `createArtifactStore` (store.ts) builds one.
 */
import type { ArtifactStoreError } from "../contracts/errors.ts";
import type { SpecOverview, TaskOverview } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { ArtifactContent, ArtifactMetadata, ArtifactTarget, ArtifactTypeDefinition } from "../contracts/types.ts";
import type { ConvertOptions, ConvertReport } from "./convert.ts";
import type { DiskReport } from "./disk-space.ts";
import type { ArtifactDownload, DownloadMetadata, OpenOptions, PreparedDownload } from "./download.ts";
import type {
  AppendLogInput,
  AppendLogResult,
  LiveLogRead,
  LiveLogRef,
  LiveLogStatus,
  SealLogInput,
} from "./live-log.ts";
import type { ArtifactChange, CleanupOptions, CleanupReport, StoreStats } from "./maintenance.ts";
import type { StoreMetricsSnapshot } from "./metrics.ts";
import type { ReindexOptions, ReindexReport } from "./reindex.ts";
import type { GcOptions, GcReport } from "./repair.ts";
import type { SearchFilters, SearchPage } from "./search.ts";
import type { StoreSettings } from "./settings.ts";
import type { DiffFileEntry, TestCaseEntry, TestCaseOrder, TestStatus } from "./structure/types.ts";
import type { UploadInput, UploadResult } from "./upload.ts";
import type { VerifyOptions, VerifyReport } from "./verify.ts";

/**
 * The artifact store: upload, download, search, delete and expire artifacts.
 * Every method validates its input before any I/O and fails with {@link ArtifactStoreError}.
 */
export interface ArtifactStore {
  /**
   * Stores a new version and returns its metadata (with `warnings`).
   *
   * @example
   * const result = await store.upload({ specName: "chat-app", taskId: "1.1", type: "diff", content: diffText, tags: ["ci"] });
   * console.log(result.uri, result.version, result.originalChecksum);
   */
  upload(input: UploadInput): Promise<UploadResult>;
  /**
   * The seed's positional form; returns the URI.
   *
   * @example
   * const uri = await store.upload("1.1", "chat-app", "log", logText, { runner: "gha-42" });
   */
  upload(
    taskId: string,
    specName: string,
    type: string,
    content: ArtifactContent,
    metadata?: Record<string, unknown>,
  ): Promise<string>;
  /**
   * The whole content of a version, verified against its checksum (unless `verifyChecksum: false`,
   * or the seed's positional `download(uri, false)`). For large artifacts use
   * {@link ArtifactStore.open}, which streams.
   */
  download(target: ArtifactTarget, options?: { verifyChecksum?: boolean } | boolean): Promise<Uint8Array>;
  /** {@link ArtifactStore.download} decoded as UTF-8. */
  downloadText(target: ArtifactTarget, options?: { verifyChecksum?: boolean } | boolean): Promise<string>;
  /**
   * Streams a version: decoded or as stored gzip, whole or a range, verified as it streams.
   *
   * @example
   * const { body, metadata } = await store.open({ specName: "chat-app", taskId: "1.1", type: "log" });
   * await body.pipeTo(Writable.toWeb(process.stdout));
   */
  open(target: ArtifactTarget, options?: OpenOptions): Promise<ArtifactDownload>;
  /**
   * Looks a version up and decides what `open` would send (encoding, length, range, checksum)
   * without reading stored bytes; `open()` on the result starts the read. One metadata lookup
   * serves HEAD, conditional requests and the body.
   */
  prepareOpen(target: ArtifactTarget, options?: OpenOptions): Promise<PreparedDownload>;
  /**
   * {@link ArtifactStore.prepareOpen} whose metadata leaves out tags, summary and secrets: a
   * lighter lookup, for a read that sends the bytes (the HTTP GET and HEAD).
   */
  prepareRead(target: ArtifactTarget, options?: OpenOptions): Promise<PreparedDownload<DownloadMetadata>>;
  /** Metadata of a version (the latest when the ref has no version), or null. */
  stat(target: ArtifactTarget): Promise<ArtifactMetadata | null>;
  /** Deletes a version (URI or ref with version) or all versions (ref without version); returns how many. */
  delete(target: ArtifactTarget): Promise<number>;
  /**
   * Every committed version matching every given filter, newest first: all of them (never cut
   * off silently), or at most `limit` when given. Keys are camelCase or the seed's snake_case
   * (`spec_name`, `task_id`, `type`, `tags`, `created_after`, `created_before`, …); an unknown key
   * is refused with E_INVALID_INPUT naming it and listing the accepted ones. For pages, see
   * {@link ArtifactStore.searchPage}.
   *
   * @example
   * const logs = await store.search({ specName: "chat-app", type: "log", tags: ["nightly"] });
   */
  search(filters?: SearchFilters): Promise<ArtifactMetadata[]>;
  /** {@link ArtifactStore.search} with an opaque cursor for the next page. */
  searchPage(filters?: SearchFilters): Promise<SearchPage>;
  /** Pins/unpins and retags a version. */
  update(target: ArtifactTarget, change: ArtifactChange): Promise<ArtifactMetadata>;
  /** Deletes every expired, unpinned version; returns how many. */
  cleanupExpired(): Promise<number>;
  /** The retention sweep with options: dry run with reasons, batch size, limit, reference time. */
  cleanup(options?: CleanupOptions): Promise<CleanupReport>;
  /**
   * Finishes interrupted uploads and deletes, removes unreferenced objects and stale staging
   * files older than the grace period. Complete versions without a row are kept (see `reindex`).
   */
  gc(options?: GcOptions): Promise<GcReport>;
  /** Scrubs every committed version's checksum; flags failures corrupt (their downloads fail closed). */
  verify(options?: VerifyOptions): Promise<VerifyReport>;
  /**
   * Finishes the publishes in flight (versions whose upload was complete when a process died
   * before making them current) and returns their URIs. A server calls it at start; `gc` finishes
   * those older than its grace period, and a reader or uploader waiting on one finishes it after
   * a couple of seconds.
   */
  finishPublishesInFlight(): Promise<string[]>;
  /**
   * Converts a store written by the first layout (`<spec>/<task>/v<N>/` folders with
   * `<type>.metadata.json` sidecars) to the seed's tree. Resumable, safe to interrupt.
   */
  convertLegacyLayout(options?: ConvertOptions): Promise<ConvertReport>;
  /** Rebuilds missing metadata rows from each task's metadata.json (after losing the database). */
  reindex(options?: ReindexOptions): Promise<ReindexReport>;
  /** Usage per type and spec, quota and its warning, counters. */
  stats(): Promise<StoreStats>;
  /** Counters since the store was opened. */
  metrics(): StoreMetricsSnapshot;
  /** Free space on the volume holding base_path and the floor below which writes are refused; null for object stores. */
  disk(): Promise<DiskReport | null>;
  /** Quota figures from one metadata row read: cheap enough for every health check and scrape. */
  quota(): Promise<{ usedBytes: number; maxBytes: number | null; artifacts: number }>;
  /**
   * Appends a numbered, checksummed chunk to a live log (one the agent is still writing).
   *
   * @example
   * await store.appendLog({ specName: "chat-app", taskId: "1.1", seq: 1, content: "step 1 ok\n" });
   * await store.appendLog({ specName: "chat-app", taskId: "1.1", seq: 2, content: "step 2 ok\n" });
   * const sealed = await store.sealLog({ specName: "chat-app", taskId: "1.1" }); // a normal version
   */
  appendLog(input: AppendLogInput): Promise<AppendLogResult>;
  /** Commits a live log as a normal version through the upload pipeline, then removes its chunks. */
  sealLog(input: SealLogInput): Promise<UploadResult>;
  /** Bytes of a live log from `offset` (or its last `suffixLength` bytes); null when there is none. */
  readLiveLog(
    ref: LiveLogRef,
    range?: { offset?: number; length?: number; suffixLength?: number },
  ): Promise<LiveLogRead | null>;
  /** Live logs (not sealed yet), optionally of one spec and task. */
  liveLogs(filter?: { specName?: string; taskId?: string }): Promise<LiveLogStatus[]>;
  /** Drops a live log without sealing it; false when there was none. */
  discardLog(ref: LiveLogRef): Promise<boolean>;
  /** Files of a diff version (from the structure extracted at upload), in diff order. */
  diffFiles(target: ArtifactTarget, page?: { limit?: number; offset?: number }): Promise<DiffFileEntry[]>;
  /** Tests of a test-report version, filtered by status and a substring of suite or name. */
  testCases(
    target: ArtifactTarget,
    filter?: { status?: TestStatus; contains?: string; order?: TestCaseOrder; limit?: number; offset?: number },
  ): Promise<{ items: TestCaseEntry[]; total: number }>;
  /** Specs with their task and version counts (only `specs` when given): the viewer's first page. */
  browseSpecs(specs?: readonly string[] | null): Promise<SpecOverview[]>;
  /** Tasks of a spec, most recently active first. */
  browseTasks(
    specName: string,
    page?: { limit?: number; offset?: number },
  ): Promise<{ items: TaskOverview[]; total: number }>;
  /** Artifact types this store accepts. */
  readonly types: readonly ArtifactTypeDefinition[];
  readonly backend: StorageBackend;
  readonly settings: Readonly<StoreSettings>;
  /** Closes the metadata client and the backend. */
  close(): Promise<void>;
}

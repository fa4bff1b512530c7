import type { CodecEngines } from "../codec/engines.ts";
import { portableEngines } from "../codec/portable.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { MetadataRepository, SpecOverview, TaskOverview } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type {
  ArtifactContent,
  ArtifactMetadata,
  ArtifactTarget,
  ArtifactTypeDefinition,
  Logger,
} from "../contracts/types.ts";
import { createAccessLog } from "./access-log.ts";
import { consoleWarningsLogger, type StoreContext } from "./context.ts";
import { type ConvertOptions, type ConvertReport, convertLegacyLayout } from "./convert.ts";
import { deleteArtifacts } from "./delete.ts";
import { type DiskReport, diskReport, withHeadroom } from "./disk-space.ts";
import {
  type ArtifactDownload,
  downloadWhole,
  type OpenOptions,
  openArtifact,
  type PreparedDownload,
  prepareDownload,
} from "./download.ts";
import {
  type AppendLogInput,
  type AppendLogResult,
  appendLog,
  describeLiveLog,
  discardLog,
  type LiveLogRead,
  type LiveLogRef,
  type LiveLogStatus,
  readLiveLog,
  type SealLogInput,
  sealLog,
} from "./live-log.ts";
import {
  type ArtifactChange,
  type CleanupOptions,
  type CleanupReport,
  cleanupExpired,
  collectStats,
  type StoreStats,
  updateArtifact,
} from "./maintenance.ts";
import { createStoreMetrics, type StoreMetricsSnapshot } from "./metrics.ts";
import { assertValidName } from "./names.ts";
import { currentUri, findRecord, publicMetadata, requireRecord, withComputedFields } from "./records.ts";
import type { KnownValue } from "./redaction/anchors.ts";
import { createRedaction } from "./redaction/settings.ts";
import {
  collectGarbage,
  finishPublishesInFlight,
  type GcOptions,
  type GcReport,
  type ReindexOptions,
  type ReindexReport,
  reindexStore,
  type VerifyOptions,
  type VerifyReport,
  verifyStore,
} from "./repair.ts";
import { type SearchFilters, type SearchPage, searchArtifacts, searchEverything } from "./search.ts";
import { resolveStoreSettings, type StoreSettings } from "./settings.ts";
import type { DiffFileEntry, ExtractionOptions, TestCaseEntry, TestCaseOrder, TestStatus } from "./structure/types.ts";
import { createTaskFiles } from "./task-files.ts";
import { type UploadInput, type UploadResult, uploadArtifact } from "./upload.ts";

export interface CreateArtifactStoreOptions {
  backend: StorageBackend;
  metadata: MetadataRepository;
  /** gzip and SHA-256 engines; default fflate + @noble/hashes (run everywhere). */
  codecs?: CodecEngines;
  /** Store settings; anything left out takes the config defaults. */
  config?: Partial<StoreSettings>;
  logger?: Logger;
  /** Clock, ms since the epoch (tests move it to expire artifacts). */
  now?: () => number;
  /**
   * Told of each write the store defers past the response (batched last-access times), with a
   * promise that settles once it is done. Workers end a request's timers with its response:
   * the edge entry passes these to the request's `waitUntil`.
   */
  keepAlive?: (written: Promise<void>) => void;
  /** Structure extraction at upload (diff files, log errors, test outcomes): on by default, capped at 128 MiB read per artifact. */
  extraction?: ExtractionOptions;
  /**
   * Values masked wherever they appear in uploads (`redaction.values_from_env` and the store's
   * own credentials): `secretValuesFor(config, env)` from `@necrocode/artifact-store` builds them.
   */
  secretValues?: KnownValue[];
  /**
   * Told of every warning of a write (e.g. the quota is nearly used up). The seed's positional
   * `upload()` returns only a URI, so its warnings reach the caller here and in the logger.
   */
  onWarning?: (warning: string, context: { uri: string }) => void;
}

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

/**
 * Builds a store from a backend and a metadata repository. Pure: works in any runtime with
 * Web Streams and fetch. On Bun and Node, `openArtifactStore` from
 * `@necrocode/artifact-store/local` wires the filesystem and a local libSQL file for you.
 *
 * @example
 * import { createArtifactStore, createLibsqlMetadata } from "@necrocode/artifact-store";
 * import { createMemoryBackend } from "@necrocode/artifact-store/backends/memory";
 * import { createClient } from "@libsql/client/web";
 *
 * const store = createArtifactStore({
 *   backend: createMemoryBackend(),
 *   metadata: await createLibsqlMetadata({ client: createClient({ url: "http://127.0.0.1:8080" }) }),
 * });
 */
export function createArtifactStore(options: CreateArtifactStoreOptions): ArtifactStore {
  if (!options?.backend || !options.metadata) {
    throw new ArtifactStoreError("E_CONFIG", "createArtifactStore needs { backend, metadata }");
  }
  const ctx = createStoreContext(options);
  const { settings } = ctx;
  const recordId = async (target: ArtifactTarget) => (await requireRecord(ctx, target)).id;

  const download = async (target: ArtifactTarget, downloadOptions: { verifyChecksum?: boolean } | boolean = {}) => {
    if (typeof downloadOptions !== "boolean" && (typeof downloadOptions !== "object" || downloadOptions === null)) {
      throw new ArtifactStoreError("E_INVALID_INPUT", "download options must be { verifyChecksum } or a boolean");
    }
    const verifyChecksum = typeof downloadOptions === "boolean" ? downloadOptions : downloadOptions.verifyChecksum;
    return downloadWhole(ctx, target, verifyChecksum === undefined ? {} : { verifyChecksum });
  };

  const store: ArtifactStore = {
    upload: uploadEitherWay(ctx, options.onWarning),
    download,
    async downloadText(target, downloadOptions) {
      return new TextDecoder().decode(await download(target, downloadOptions));
    },
    open: (target, openOptions) => openArtifact(ctx, target, openOptions),
    prepareOpen: (target, openOptions) => prepareDownload(ctx, target, openOptions),
    async stat(target) {
      const record = await findRecord(ctx, target);
      return record ? publicMetadata(record) : null;
    },
    // Deletes, cleanup and gc work on a full disk: they may use the reserved headroom.
    delete: (target) => withHeadroom(ctx, () => deleteArtifacts(ctx, target)),
    search: (filters) => searchEverything(ctx, filters),
    searchPage: (filters) => searchArtifacts(ctx, filters),
    update: (target, change) => updateArtifact(ctx, target, change),
    async cleanupExpired() {
      return (await withHeadroom(ctx, () => cleanupExpired(ctx))).deleted;
    },
    cleanup: (cleanupOptions) =>
      cleanupOptions?.dryRun
        ? cleanupExpired(ctx, cleanupOptions)
        : withHeadroom(ctx, () => cleanupExpired(ctx, cleanupOptions)),
    stats: () => collectStats(ctx),
    gc: (gcOptions) =>
      gcOptions?.dryRun ? collectGarbage(ctx, gcOptions) : withHeadroom(ctx, () => collectGarbage(ctx, gcOptions)),
    verify: (verifyOptions) => verifyStore(ctx, verifyOptions),
    finishPublishesInFlight: () => finishPublishesInFlight(ctx),
    convertLegacyLayout: (convertOptions) => convertLegacyLayout(ctx, convertOptions),
    reindex: (reindexOptions) => reindexStore(ctx, reindexOptions),
    metrics: () => ctx.metrics.snapshot(),
    appendLog: (input) => appendLog(ctx, input),
    sealLog: (input) => sealLog(ctx, input),
    readLiveLog: (ref, range) => readLiveLog(ctx, ref, range),
    async liveLogs(filter = {}) {
      return (await options.metadata.listLiveLogs(filter)).map(describeLiveLog);
    },
    discardLog: (ref) => withHeadroom(ctx, () => discardLog(ctx, ref)),
    diffFiles: async (target, value) => options.metadata.listDiffFiles(await recordId(target), page(value, 1000)),
    testCases: async (target, filter = {}) =>
      options.metadata.listTestCases(await recordId(target), {
        ...page(filter, 1000),
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.contains ? { contains: filter.contains } : {}),
        ...(filter.order ? { order: filter.order } : {}),
      }),
    browseSpecs: (specs) => options.metadata.browseSpecs(specs ?? null),
    browseTasks: (specName, value) =>
      options.metadata.browseTasks(assertValidName("specName", specName), page(value, 200)),
    disk: () => diskReport(ctx),
    async quota() {
      const totals = await options.metadata.usageTotals();
      return { usedBytes: totals.bytes, maxBytes: settings.storageQuota.maxBytes, artifacts: totals.rows };
    },
    types: settings.types,
    backend: options.backend,
    settings,
    async close() {
      await ctx.accessLog.flush();
      await ctx.files.flush();
      await options.metadata.close();
      await options.backend.close?.();
    },
  };
  return store;
}

/** What every operation of one store shares: its parts, settings, metrics, access log and redaction. */
function createStoreContext(options: CreateArtifactStoreOptions): StoreContext {
  const settings = resolveStoreSettings(options.config);
  const logger = options.logger ?? consoleWarningsLogger;
  const now = options.now ?? Date.now;
  const types = new Map(settings.types.map((type) => [type.name, type]));
  // Every record's URI and expiry are computed from where the store is and its current policy.
  const metadata = withComputedFields(options.metadata, options.backend, types, settings.versioningEnabled);
  return {
    backend: options.backend,
    metadata,
    codecs: options.codecs ?? portableEngines,
    settings,
    types,
    logger,
    metrics: createStoreMetrics(),
    accessLog: createAccessLog(options.metadata, logger, now, undefined, options.keepAlive),
    redaction: createRedaction(settings.redaction, options.secretValues),
    files: createTaskFiles({ backend: options.backend, metadata, logger, now }),
    now,
    ...(options.extraction ? { extraction: options.extraction } : {}),
  };
}

/**
 * The object form returns the metadata (with warnings); the seed's positional form returns the
 * URI that always means the current version, and sends warnings to the logger and `onWarning`.
 */
function uploadEitherWay(
  ctx: StoreContext,
  onWarning: CreateArtifactStoreOptions["onWarning"],
): ArtifactStore["upload"] {
  return ((...args: unknown[]) => {
    if (args.length === 1) return uploadArtifact(ctx, args[0] as UploadInput);
    const [taskId, specName, type, content, metadata] = args as [
      string,
      string,
      string,
      ArtifactContent,
      Record<string, unknown>?,
    ];
    return uploadArtifact(ctx, {
      taskId,
      specName,
      type,
      content,
      ...(metadata === undefined ? {} : { metadata }),
    }).then((result) => {
      const uri = currentUri(ctx, { ...result, id: 0, storageKey: "" });
      for (const warning of result.warnings) {
        ctx.logger.warn(warning, { uri });
        onWarning?.(warning, { uri });
      }
      return uri;
    });
  }) as ArtifactStore["upload"];
}

/** A page of a listing: `limit` between 1 and 10 000 (`defaultLimit` when absent), `offset` from 0. */
function page(value: { limit?: number; offset?: number } | undefined, defaultLimit: number) {
  return {
    limit: Math.max(1, Math.min(value?.limit ?? defaultLimit, 10_000)),
    offset: Math.max(0, value?.offset ?? 0),
  };
}

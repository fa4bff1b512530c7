import type { CodecEngines } from "../codec/engines.ts";
import { portableEngines } from "../codec/portable.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { ArtifactContent, ArtifactTarget, Logger, ProcessIdentity } from "../contracts/types.ts";
import { createAccessLog } from "./access-log.ts";
import type { ArtifactStore } from "./artifact-store.ts";
import { consoleWarningsLogger, type StoreContext } from "./context.ts";
import { convertLegacyLayout } from "./convert.ts";
import { deleteArtifacts } from "./delete.ts";
import { diskReport, withHeadroom } from "./disk-space.ts";
import { downloadWhole, openArtifact, prepareDownload, prepareRead } from "./download.ts";
import { appendLog, describeLiveLog, discardLog, readLiveLog, sealLog } from "./live-log.ts";
import { cleanupExpired, collectStats, updateArtifact } from "./maintenance.ts";
import { createStoreMetrics } from "./metrics.ts";
import { assertValidName } from "./names.ts";
import { currentUri, findRecord, publicMetadata, requireRecord, withComputedFields } from "./records.ts";
import type { KnownValue } from "./redaction/anchors.ts";
import { createRedaction } from "./redaction/settings.ts";
import { reindexStore } from "./reindex.ts";
import { collectGarbage, finishPublishesInFlight } from "./repair.ts";
import { searchArtifacts, searchEverything } from "./search.ts";
import { resolveStoreSettings, type StoreSettings } from "./settings.ts";
import type { ExtractionOptions } from "./structure/types.ts";
import { createTaskFiles } from "./task-files.ts";
import { type UploadInput, uploadArtifact } from "./upload.ts";
import { verifyStore } from "./verify.ts";

/** The contract lives in artifact-store.ts; it is used through this module, beside its factory. */
export type { ArtifactStore };

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
  /**
   * Names this process in task leases and tells whether another one has ended, so a restart
   * takes over a SIGKILLed predecessor's leases at once (the local runtimes pass
   * `createProcessIdentity()`); by default a dead holder's lease is waited out (2 s).
   */
  identity?: ProcessIdentity;
  /**
   * A small first version of its series (stored ≤ 64 KiB) is committed with its bytes in ONE
   * durable database transaction and written at its seed path a moment later, by a background
   * pass (milliseconds; the next turn of its task, `gc` and `close()` at the latest): `upload`
   * resolves before the seed tree shows it, reads serve it from the database meanwhile. Only
   * with a local libSQL file as the metadata database. Default false: the file and
   * `metadata.json` are in place when `upload` resolves. The HTTP server turns it on.
   * `{ delayMs }`: on, the background pass waiting that long after a commit (default 2 ms).
   */
  inlineSmallUploads?: boolean | { delayMs: number };
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
    prepareRead: (target, openOptions) => prepareRead(ctx, target, openOptions),
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
      // Every version committed inline is at its key before the database closes.
      await ctx.files.drainInline();
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
    files: createTaskFiles({
      backend: options.backend,
      metadata,
      logger,
      now,
      ...(options.identity ? { identity: options.identity } : {}),
      ...(typeof options.inlineSmallUploads === "object"
        ? { materialiseDelayMs: options.inlineSmallUploads.delayMs }
        : {}),
    }),
    now,
    inlineSmallUploads: options.inlineSmallUploads !== undefined && options.inlineSmallUploads !== false,
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

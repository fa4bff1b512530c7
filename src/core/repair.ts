/**
 * Maintenance that keeps storage and metadata in agreement. `gc` (here) finishes crashed
 * publishes and deletes, drops crashed uploads, removes unreferenced objects and stale staging
 * files; `verify` (verify.ts) scrubs every stored checksum; `reindex` (reindex.ts) rebuilds
 * metadata rows from each task's `metadata.json` when the database was lost.
 * Objects whose names do not follow the store's layout are never touched.
 */

import type { ObjectInfo } from "../contracts/storage-backend.ts";
import type { StoreContext } from "./context.ts";
import { deleteRecords } from "./delete.ts";
import { parseKey, taskMetadataKey, typeOfBlobFile, UPLOADS_PREFIX } from "./layout.ts";
import { parseTaskMetadata } from "./layout-files.ts";
import { expireLiveLogs } from "./live-log-expiry.ts";
import { removeObjects } from "./records.ts";
import { completePublish } from "./upload-publish.ts";

const BATCH = 500;

export interface GcOptions {
  /** Only objects, rows and staging files older than this are touched (default 1 hour). */
  graceMs?: number;
  dryRun?: boolean;
  now?: number;
  onProgress?: (scannedObjects: number) => void;
}

export interface GcReport {
  dryRun: boolean;
  /** Reservations of uploads that never finished (their objects are removed with them). */
  stalePending: string[];
  /** Publishes a crash interrupted (the upload was complete), finished now. */
  finishedPublishes: string[];
  /** Deletes that were interrupted and are now finished. */
  finishedDeletes: number;
  /** Objects no row refers to, that no `metadata.json` lists either: removed. */
  orphanObjects: string[];
  /** Versions without a row that their task's `metadata.json` lists: kept; `reindex` restores them. */
  recoverable: string[];
  /** Staging files of crashed uploads (filesystem backend). */
  stagingFiles: string[];
  /** Multipart uploads of crashed uploads, aborted (S3). */
  incompleteUploads: string[];
  /** Live logs idle longer than `live_log_idle_expiry` (`spec/task/type`), discarded with their chunks. */
  expiredLiveLogs: string[];
  scannedObjects: number;
  durationMs: number;
}

export async function collectGarbage(ctx: StoreContext, options: GcOptions = {}): Promise<GcReport> {
  const started = Date.now();
  const now = options.now ?? ctx.now();
  const graceMs = options.graceMs ?? 3_600_000;
  const dryRun = options.dryRun ?? false;
  // A scheduled metadata-index.json write is done now, not in the middle of the staging sweep.
  await ctx.files.flush();
  // Versions committed inline are written at their keys first: the sweep below then sees every file.
  if (!dryRun) await ctx.files.drainInline();
  const report: GcReport = {
    dryRun,
    stalePending: [],
    finishedPublishes: [],
    finishedDeletes: 0,
    orphanObjects: [],
    recoverable: [],
    stagingFiles: [],
    incompleteUploads: [],
    expiredLiveLogs: [],
    scannedObjects: 0,
    durationMs: 0,
  };

  const window = { now, graceMs, dryRun };
  await finishInterruptedPublishes(ctx, window, report);
  await removeStalePending(ctx, window, report);
  if (!dryRun) report.finishedDeletes = await finishInterruptedDeletes(ctx);
  await removeOrphanObjects(ctx, window, report, options.onProgress);

  // Live logs their writer abandoned, and chunks no live log owns.
  const live = await expireLiveLogs(ctx, window);
  report.expiredLiveLogs = live.expired;
  report.orphanObjects.push(...live.orphanChunks);

  // Multipart uploads a crash left open (S3): their parts cost money until aborted.
  if (ctx.backend.abortIncompleteUploads) {
    try {
      report.incompleteUploads = await ctx.backend.abortIncompleteUploads(graceMs, { dryRun, now });
    } catch (error) {
      // Some S3-compatible stores cannot list multipart uploads; the rest of gc still counts.
      ctx.logger.warn("gc could not list incomplete multipart uploads", { error: String(error) });
    }
  }

  // Staging files of uploads that crashed mid-write.
  if (ctx.backend.cleanStaging) report.stagingFiles = await ctx.backend.cleanStaging(graceMs, { dryRun, now });

  report.durationMs = Date.now() - started;
  const removed =
    report.stalePending.length +
    report.finishedPublishes.length +
    report.orphanObjects.length +
    report.stagingFiles.length +
    report.finishedDeletes +
    report.expiredLiveLogs.length;
  if (removed > 0 || report.recoverable.length > 0) {
    ctx.logger.info(dryRun ? "gc dry run" : "gc finished", {
      stalePending: report.stalePending.length,
      finishedDeletes: report.finishedDeletes,
      orphanObjects: report.orphanObjects.length,
      recoverable: report.recoverable.length,
      stagingFiles: report.stagingFiles.length,
      expiredLiveLogs: report.expiredLiveLogs.length,
    });
  }
  return report;
}

interface GcWindow {
  now: number;
  graceMs: number;
  dryRun: boolean;
}

/**
 * Finishes every publish in flight now: for a server at start, when any such publish belongs to
 * the process that died before it (the upload was complete; finishing is idempotent).
 */
export async function finishPublishesInFlight(ctx: StoreContext): Promise<string[]> {
  const report = { finishedPublishes: [] as string[] } as GcReport;
  await finishInterruptedPublishes(ctx, { now: ctx.now() + 1, graceMs: 0, dryRun: false }, report);
  // And versions it committed inline but had not yet written at their keys.
  await ctx.files.drainInline();
  return report.finishedPublishes;
}

/** Publishes that a crash interrupted: the upload was complete, so they are finished. */
async function finishInterruptedPublishes(ctx: StoreContext, { now, graceMs, dryRun }: GcWindow, report: GcReport) {
  for (const record of await ctx.metadata.listStale("publishing", now - graceMs, 10_000)) {
    if (dryRun) {
      report.finishedPublishes.push(record.uri);
      continue;
    }
    try {
      await completePublish(ctx, record);
      report.finishedPublishes.push(record.uri);
    } catch (error) {
      ctx.logger.warn("gc could not finish an interrupted publish", { uri: record.uri, error: String(error) });
    }
  }
}

/** Reservations older than the grace period belong to uploads that died: row first, then objects. */
async function removeStalePending(ctx: StoreContext, { now, graceMs, dryRun }: GcWindow, report: GcReport) {
  if (dryRun) {
    const stale = await ctx.metadata.listStale("pending", now - graceMs, 10_000);
    report.stalePending.push(...stale.map((record) => record.uri));
    return;
  }
  for (;;) {
    const stale = await ctx.metadata.listStale("pending", now - graceMs, BATCH);
    if (stale.length === 0) break;
    for (const record of stale) {
      // Row first: an upload that commits meanwhile keeps its row, and then its objects too.
      if (!(await ctx.metadata.abandon(record.id))) continue;
      await removeObjects(ctx, record);
      report.stalePending.push(record.uri);
    }
  }
}

/** Rows marked deleting are deletes that were interrupted: finishing them is idempotent. */
async function finishInterruptedDeletes(ctx: StoreContext): Promise<number> {
  let total = 0;
  for (;;) {
    const stuck = await ctx.metadata.listStale("deleting", Number.MAX_SAFE_INTEGER, BATCH);
    if (stuck.length === 0) break;
    const finished = (await deleteRecords(ctx, stuck)).length;
    total += finished;
    if (finished === 0) break;
  }
  return total;
}

/**
 * Objects under the store's layout that no row refers to: kept when their task's `metadata.json`
 * lists them (reindex restores them), else removed. Uploads in progress are listed apart: the fs
 * backend keeps them inside `.store/`.
 */
async function removeOrphanObjects(
  ctx: StoreContext,
  { now, graceMs, dryRun }: GcWindow,
  report: GcReport,
  onProgress: ((scannedObjects: number) => void) | undefined,
) {
  const recoverable = createRecoverableCheck(ctx);
  for (const prefix of ["", UPLOADS_PREFIX]) {
    for await (const page of listAll(ctx, prefix)) {
      const objects = prefix === "" ? page.filter((object) => !object.key.startsWith(UPLOADS_PREFIX)) : page;
      report.scannedObjects += objects.length;
      onProgress?.(report.scannedObjects);
      if (!dryRun) {
        for (const object of objects) {
          const layout = parseKey(object.key);
          if (layout?.kind === "task-metadata") await refreshStaleTaskFile(ctx, layout.specName, layout.taskId);
        }
      }
      const blobs = objects.flatMap((object) => {
        const layout = parseKey(object.key);
        // Only files of a configured type: anything else in a task folder is not the store's.
        return layout &&
          (layout.kind === "current" || layout.kind === "version" || layout.kind === "upload") &&
          typeOfBlobFile(ctx.types.values(), layout.fileName)
          ? [{ object, layout }]
          : [];
      });
      const referenced = await ctx.metadata.referencedKeys(
        blobs.map((entry) => entry.object.key),
        [],
      );
      for (const { object, layout } of blobs) {
        if (referenced.has(object.key)) continue;
        if (object.lastModified && now - object.lastModified.getTime() < graceMs) continue;
        if (layout.kind !== "upload" && (await recoverable(layout.specName, layout.taskId, object.key))) {
          report.recoverable.push(object.key);
          continue;
        }
        report.orphanObjects.push(object.key);
        if (!dryRun) await ctx.backend.delete(object.key);
      }
    }
  }
}

/**
 * A task's `metadata.json` that lists a version with neither a row nor its bytes (a delete a
 * crash interrupted after its row went) is rewritten from the database. Entries whose bytes
 * are there stay listed: after losing the database, they are what `reindex` restores.
 */
async function refreshStaleTaskFile(ctx: StoreContext, specName: string, taskId: string): Promise<void> {
  const object = await ctx.backend.get(taskMetadataKey(specName, taskId)).catch(() => null);
  if (!object) return;
  const parsed = parseTaskMetadata(await new Response(object.body).text(), { specName, taskId }, ctx.types);
  if (typeof parsed === "string") return;
  for (const entry of parsed.restores) {
    if (await ctx.metadata.findVersion(entry)) continue;
    if ((await ctx.backend.head(entry.storageKey))?.size === entry.size) continue;
    await ctx.files.refreshTask(specName, taskId);
    return;
  }
}

/** Whether a task's `metadata.json` lists a version at this key (each file read once per run). */
function createRecoverableCheck(ctx: StoreContext) {
  const listedByTask = new Map<string, Promise<Set<string>>>();
  const read = async (specName: string, taskId: string): Promise<Set<string>> => {
    const object = await ctx.backend.get(taskMetadataKey(specName, taskId)).catch(() => null);
    if (!object) return new Set();
    const parsed = parseTaskMetadata(await new Response(object.body).text(), { specName, taskId }, ctx.types);
    return new Set(typeof parsed === "string" ? [] : parsed.restores.map((restore) => restore.storageKey));
  };
  return async (specName: string, taskId: string, key: string): Promise<boolean> => {
    const task = `${specName}/${taskId}`;
    let listed = listedByTask.get(task);
    if (!listed) {
      listed = read(specName, taskId);
      listedByTask.set(task, listed);
    }
    return (await listed).has(key);
  };
}

/** Every object of the backend (under `prefix`), a page at a time. */
export async function* listAll(ctx: StoreContext, prefix = ""): AsyncGenerator<ObjectInfo[]> {
  let cursor: string | undefined;
  do {
    const page = await ctx.backend.list({ limit: 1000, ...(prefix ? { prefix } : {}), ...(cursor ? { cursor } : {}) });
    if (page.objects.length > 0) yield page.objects;
    cursor = page.cursor;
  } while (cursor);
}

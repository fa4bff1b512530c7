/**
 * Maintenance that keeps storage and metadata in agreement:
 * - `gc`: finishes crashed uploads and deletes, removes unreferenced objects and stale staging files;
 * - `verify`: scrubs every stored checksum, flags what fails, clears flags of what passes again;
 * - `reindex`: rebuilds metadata rows from the sidecars when the database was lost.
 * Objects whose names do not follow the store's layout are never touched.
 */

import { toHex } from "../codec/engines.ts";
import { observeStream } from "../codec/streams.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import type { ObjectInfo } from "../contracts/storage-backend.ts";
import { forEachConcurrently } from "../lib/concurrency.ts";
import type { StoreContext } from "./context.ts";
import { blobKey, type KeyLayout, parseKey, parseSidecar, sidecarKey, typeOfBlobFile } from "./layout.ts";
import { expireLiveLogs } from "./live-log-expiry.ts";
import { deleteRecords } from "./maintenance.ts";
import { flagCorrupt, removeObjects } from "./records.ts";
import { reextractStructure } from "./structure/reextract.ts";

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
  /** Deletes that were interrupted and are now finished. */
  finishedDeletes: number;
  /** Objects no row refers to, without a sidecar that could bring them back: removed. */
  orphanObjects: string[];
  /** Complete versions (blob + sidecar) without a row: kept; `reindex` restores them. */
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
  const report: GcReport = {
    dryRun,
    stalePending: [],
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

/** Objects under the store's layout that no row refers to: kept when reindex could restore them, else removed. */
async function removeOrphanObjects(
  ctx: StoreContext,
  { now, graceMs, dryRun }: GcWindow,
  report: GcReport,
  onProgress: ((scannedObjects: number) => void) | undefined,
) {
  for await (const page of listAll(ctx)) {
    report.scannedObjects += page.length;
    onProgress?.(report.scannedObjects);
    const parsed = page
      .map((object) => ({ object, layout: parseKey(object.key) }))
      .filter((entry) => entry.layout !== null);
    const referenced = await ctx.metadata.referencedKeys(
      parsed.filter((entry) => entry.layout?.kind === "blob").map((entry) => entry.object.key),
      parsed.flatMap((entry) => (entry.layout?.kind === "sidecar" ? [{ key: entry.object.key, ...entry.layout }] : [])),
    );
    for (const { object, layout } of parsed) {
      if (!layout || referenced.has(object.key)) continue;
      if (object.lastModified && now - object.lastModified.getTime() < graceMs) continue;
      if (await isRecoverable(ctx, layout)) {
        report.recoverable.push(object.key);
        continue;
      }
      report.orphanObjects.push(object.key);
      if (!dryRun) await ctx.backend.delete(object.key);
    }
  }
}

/** A blob whose sidecar exists, or a sidecar whose blob exists: a whole version reindex can restore. */
async function isRecoverable(ctx: StoreContext, layout: KeyLayout): Promise<boolean> {
  if (layout.kind === "blob") {
    const type = typeOfBlobFile(ctx.types.values(), layout.fileName);
    if (!type) return false;
    return (await ctx.backend.head(sidecarKey(layout.specName, layout.taskId, layout.version, type.name))) !== null;
  }
  const type = ctx.types.get(layout.type);
  if (!type) return false;
  for (const compressed of [true, false]) {
    if (await ctx.backend.head(blobKey(layout.specName, layout.taskId, layout.version, type, compressed))) return true;
  }
  return false;
}

async function* listAll(ctx: StoreContext): AsyncGenerator<ObjectInfo[]> {
  let cursor: string | undefined;
  do {
    const page = await ctx.backend.list({ limit: 1000, ...(cursor ? { cursor } : {}) });
    if (page.objects.length > 0) yield page.objects;
    cursor = page.cursor;
  } while (cursor);
}

export interface VerifyOptions {
  /** Also decompress and check the content's checksum (default: stored bytes only). */
  deep?: boolean;
  /** Versions checked at once (default 4). */
  concurrency?: number;
  onProgress?: (progress: { checked: number; total: number; bytes: number; corrupt: number }) => void;
}

export interface VerifyReport {
  checked: number;
  /** Stored bytes read. */
  bytes: number;
  corrupt: { uri: string; reason: string }[];
  /** Versions flagged corrupt earlier that verify again (restored from elsewhere): flag cleared. */
  recovered: string[];
  durationMs: number;
}

export async function verifyStore(ctx: StoreContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now();
  const total = (await ctx.metadata.usage()).committedCount;
  const report: VerifyReport = { checked: 0, bytes: 0, corrupt: [], recovered: [], durationMs: 0 };
  for (let after = 0; ; ) {
    const batch = await ctx.metadata.listCommittedAfter(after, BATCH);
    if (batch.length === 0) break;
    after = (batch.at(-1) as ArtifactRecord).id;
    await forEachConcurrently(batch, options.concurrency ?? 4, async (record) => {
      const problem = await checkRecord(ctx, record, options.deep ?? false, (bytes) => (report.bytes += bytes));
      report.checked++;
      if (problem) {
        report.corrupt.push({ uri: record.uri, reason: problem });
        if (record.integrity !== "corrupt") await flagCorrupt(ctx, record, problem);
      } else if (record.integrity === "corrupt") {
        await ctx.metadata.setIntegrity(record.id, "ok");
        report.recovered.push(record.uri);
        ctx.logger.info("artifact verifies again; corrupt flag cleared", { uri: record.uri });
      }
      options.onProgress?.({ checked: report.checked, total, bytes: report.bytes, corrupt: report.corrupt.length });
    });
  }
  report.durationMs = Date.now() - started;
  return report;
}

/** Reads one version and returns what is wrong with it, or null. */
async function checkRecord(
  ctx: StoreContext,
  record: ArtifactRecord,
  deep: boolean,
  onBytes: (bytes: number) => void,
): Promise<string | null> {
  let object: Awaited<ReturnType<typeof ctx.backend.get>>;
  try {
    object = await ctx.backend.get(record.storageKey);
  } catch (error) {
    return `stored object could not be read: ${String(error)}`;
  }
  if (!object) {
    // Deleted or superseded while the scrub ran: nothing to flag.
    if (!(await ctx.metadata.findByUri(record.uri))) return null;
    return `stored object ${record.storageKey} is missing`;
  }
  const storedHash = ctx.codecs.createSha256();
  const originalHash = ctx.codecs.createSha256();
  let storedSize = 0;
  let originalSize = 0;
  let stream = object.body.pipeThrough(
    observeStream({
      onChunk(chunk) {
        storedSize += chunk.length;
        onBytes(chunk.length);
        storedHash.update(chunk);
      },
    }),
  );
  if (deep) {
    if (record.compressed) stream = stream.pipeThrough(ctx.codecs.createGunzip());
    stream = stream.pipeThrough(
      observeStream({
        onChunk(chunk) {
          originalSize += chunk.length;
          originalHash.update(chunk);
        },
      }),
    );
  }
  try {
    for await (const _chunk of stream) {
      // draining: the observers do the work
    }
  } catch (error) {
    return `stored bytes could not be decoded: ${error instanceof Error ? error.message : String(error)}`;
  }
  const storedChecksum = toHex(storedHash.digest());
  if (storedSize !== record.size || storedChecksum !== record.checksum) {
    return `stored bytes: ${storedSize} with SHA-256 ${storedChecksum}, expected ${record.size} with ${record.checksum}`;
  }
  if (deep) {
    const originalChecksum = toHex(originalHash.digest());
    if (originalSize !== record.originalSize || originalChecksum !== record.originalChecksum) {
      return `content: ${originalSize} bytes with SHA-256 ${originalChecksum}, expected ${record.originalSize} with ${record.originalChecksum}`;
    }
  }
  return null;
}

export interface ReindexOptions {
  dryRun?: boolean;
  onProgress?: (scannedObjects: number) => void;
}

export interface ReindexReport {
  dryRun: boolean;
  /** Sidecars found. */
  sidecars: number;
  /** Versions given a row again (or that would be, in a dry run). */
  restored: string[];
  /** Sidecars whose version already has a row. */
  present: number;
  /** Sidecars that could not be used, and why. */
  skipped: { key: string; reason: string }[];
  durationMs: number;
}

/** Rebuilds missing metadata rows from sidecars whose blob exists with the recorded size. */
export async function reindexStore(ctx: StoreContext, options: ReindexOptions = {}): Promise<ReindexReport> {
  const started = Date.now();
  const report: ReindexReport = {
    dryRun: options.dryRun ?? false,
    sidecars: 0,
    restored: [],
    present: 0,
    skipped: [],
    durationMs: 0,
  };
  let scanned = 0;
  for await (const page of listAll(ctx)) {
    scanned += page.length;
    options.onProgress?.(scanned);
    const sidecars = page.flatMap((object) => {
      const layout = parseKey(object.key);
      return layout?.kind === "sidecar" ? [{ key: object.key, ...layout }] : [];
    });
    report.sidecars += sidecars.length;
    const referenced = await ctx.metadata.referencedKeys([], sidecars);
    for (const sidecar of sidecars) {
      if (referenced.has(sidecar.key)) {
        report.present++;
        continue;
      }
      const outcome = await restoreFromSidecar(ctx, sidecar, report.dryRun);
      if (typeof outcome === "string") report.skipped.push({ key: sidecar.key, reason: outcome });
      else report.restored.push(outcome.uri);
    }
  }
  report.durationMs = Date.now() - started;
  ctx.logger.info(report.dryRun ? "reindex dry run" : "reindex finished", {
    sidecars: report.sidecars,
    restored: report.restored.length,
    present: report.present,
    skipped: report.skipped.length,
  });
  return report;
}

/** The restored version's URI, or why the sidecar cannot be used. */
async function restoreFromSidecar(
  ctx: StoreContext,
  sidecar: { key: string; specName: string; taskId: string; version: number; type: string },
  dryRun: boolean,
): Promise<{ uri: string } | string> {
  const type = ctx.types.get(sidecar.type);
  if (!type) return `type ${sidecar.type} is not configured`;
  const object = await ctx.backend.get(sidecar.key);
  if (!object) return "sidecar vanished";
  const restore = parseSidecar(await new Response(object.body).text(), { ...sidecar, type }, ctx.backend);
  if (typeof restore === "string") return restore;
  const { storageKey, size, uri } = restore;
  const blob = await ctx.backend.head(storageKey);
  if (!blob) return `blob ${storageKey} is missing`;
  if (blob.size !== size) return `blob ${storageKey} has ${blob.size} bytes, the sidecar says ${size}`;
  if (dryRun) return { uri };
  const restored = await ctx.metadata.restore(restore);
  if (restored) await reextractStructure(ctx, restored);
  return restored ? { uri } : "a row for this version appeared meanwhile";
}

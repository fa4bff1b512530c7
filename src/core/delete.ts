/**
 * Deletion: row → `deleting`, blob deleted, row deleted, the task's `metadata.json` rewritten.
 * Every step is idempotent, so a crash in between is finished by the next delete, sweep or gc.
 *
 * A task's deletes and publishes take turns ({@link TaskFiles.withTask}): the seed path of an
 * artifact is replaced by a publish, so a delete must see where each version is *now* (the row
 * is read again inside the turn) and never remove bytes a publish just put there. When the
 * current version goes and an older one is kept, the older one moves to the seed path.
 */
import { isDiskFull } from "../contracts/errors.ts";
import type { ArtifactRecord, RetentionRule } from "../contracts/metadata-repository.ts";
import type { ArtifactTarget } from "../contracts/types.ts";
import { forEachConcurrently } from "../lib/concurrency.ts";
import type { StoreContext } from "./context.ts";
import { currentKey, parseKey } from "./layout.ts";
import { copyObject, refOf, removeObjects } from "./records.ts";

/** Tasks handled at once during sweeps. */
const TASK_CONCURRENCY = 8;

/**
 * Deletes one version (a URI, or a ref with `version`) or every version of an artifact
 * (a ref without `version`). Returns how many versions were deleted; 0 when there was nothing.
 */
export async function deleteArtifacts(ctx: StoreContext, target: ArtifactTarget): Promise<number> {
  const records = await ctx.metadata.findForDelete(refOf(ctx, target));
  const deleted = (await deleteRecords(ctx, records)).length;
  ctx.metrics.count("deletes", deleted);
  return deleted;
}

/**
 * Marks, deletes objects, removes rows; returns the versions actually deleted. Rows whose
 * objects could not be deleted stay `deleting`; a sweep skips versions no longer expired
 * (pinned meanwhile).
 */
export async function deleteRecords(
  ctx: StoreContext,
  candidates: ArtifactRecord[],
  options: { expiredBy?: number; policy?: RetentionRule[] } = {},
): Promise<ArtifactRecord[]> {
  if (candidates.length === 0) return [];
  const byTask = new Map<string, ArtifactRecord[]>();
  for (const record of candidates) {
    const task = `${record.specName}/${record.taskId}`;
    byTask.set(task, [...(byTask.get(task) ?? []), record]);
  }
  const deleted: ArtifactRecord[] = [];
  const failures: unknown[] = [];
  await forEachConcurrently([...byTask.values()], TASK_CONCURRENCY, async (records) => {
    const { specName, taskId } = records[0] as ArtifactRecord;
    try {
      deleted.push(
        ...(await ctx.files.withTask(specName, taskId, () => deleteInTask(ctx, records, options, failures))),
      );
    } catch (error) {
      failures.push(error);
    }
  });
  if (deleted.length > 0) ctx.files.indexChanged();
  if (failures.length > 0 && deleted.length === 0) throw failures[0];
  return deleted;
}

async function deleteInTask(
  ctx: StoreContext,
  candidates: ArtifactRecord[],
  options: { expiredBy?: number; policy?: RetentionRule[] },
  failures: unknown[],
): Promise<ArtifactRecord[]> {
  const { specName, taskId } = candidates[0] as ArtifactRecord;
  const ids = candidates.map((record) => record.id);
  let markedIds: number[];
  try {
    markedIds = await ctx.metadata.markDeleting(ids, options);
  } catch (error) {
    // The disk is full and no headroom is left. An explicit delete then frees the objects' bytes
    // first, so that its row writes find room (a sweep never does: a version pinned since it was
    // listed must keep its bytes). A crash in between leaves rows without objects, which the
    // next delete of them, or verify, finishes.
    if (!isDiskFull(error) || options.expiredBy !== undefined) throw error;
    ctx.logger.warn("the disk is full: deleting the objects before their rows", { versions: ids.length });
    for (const record of candidates) await removeObjects(ctx, record);
    markedIds = await ctx.metadata.markDeleting(ids, options);
  }
  const marked = new Set(markedIds);
  // Rows another caller already marked are still ours to finish (deletion is idempotent); but a
  // sweep deletes only what is still expired when it marks it.
  const chosen = options.expiredBy === undefined ? candidates : candidates.filter((record) => marked.has(record.id));
  const done: ArtifactRecord[] = [];
  const emptiedSeries = new Set<string>();
  for (const candidate of chosen) {
    // Where the version is now: a publish may have moved it to versions/ since it was listed.
    const [record] = (
      await ctx.metadata.findForDelete({ specName, taskId, type: candidate.type, version: candidate.version })
    ).filter((row) => row.id === candidate.id);
    if (!record) continue;
    try {
      await removeObjects(ctx, record);
      done.push(record);
      if (parseKey(record.storageKey)?.kind === "current") emptiedSeries.add(record.type);
    } catch (error) {
      failures.push(error);
      ctx.logger.warn("could not delete stored objects; the version stays marked deleting and is retried", {
        uri: record.uri,
        error: String(error),
      });
    }
  }
  await ctx.metadata.remove(done.map((record) => record.id));
  for (const type of emptiedSeries) await promoteLatest(ctx, specName, taskId, type);
  await ctx.files.writeTask(specName, taskId, await ctx.metadata.listTask(specName, taskId));
  return done;
}

/**
 * The seed path holds the current version: when it was deleted and an older version is kept,
 * that one is linked (or copied) to the seed path, its row re-keyed, then its old copy removed.
 * A crash in between leaves an extra copy that gc removes.
 */
async function promoteLatest(ctx: StoreContext, specName: string, taskId: string, typeName: string): Promise<void> {
  const latest = await ctx.metadata.findVersion({ specName, taskId, type: typeName });
  const type = ctx.types.get(typeName);
  if (!latest || !type) return;
  const seedKey = currentKey(specName, taskId, type, latest.compressed);
  if (latest.storageKey === seedKey) return;
  try {
    const contentType = latest.compressed ? "application/gzip" : latest.mimeType;
    if (!(await copyObject(ctx, latest.storageKey, seedKey, contentType))) return;
    if (await ctx.metadata.rekey(latest.id, latest.storageKey, seedKey)) await ctx.backend.delete(latest.storageKey);
  } catch (error) {
    ctx.logger.warn("could not move the latest kept version to the seed path", {
      uri: latest.uri,
      error: String(error),
    });
  }
}

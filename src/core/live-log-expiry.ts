/** Part of gc: live logs their writer abandoned, and chunk objects no live log owns. */
import type { StoreContext } from "./context.ts";
import { LIVE_PREFIXES, liveChunkSession } from "./layout.ts";
import { removeChunkObjects } from "./live-log.ts";

/**
 * Live logs nobody appended to for `liveLogIdleSeconds` (an agent that died mid-run), discarded
 * with their chunks; returns `spec/task/type` of each. Chunk objects of sessions that have no
 * row any more (a crash between storing a chunk and recording it, a removal that failed) and
 * are older than `graceMs` go too. Part of gc.
 */
export async function expireLiveLogs(
  ctx: StoreContext,
  options: { now: number; graceMs: number; dryRun: boolean },
): Promise<{ expired: string[]; orphanChunks: string[] }> {
  const idleBefore = options.now - ctx.settings.liveLogIdleSeconds * 1000;
  const expired: string[] = [];
  const open = await ctx.metadata.listLiveLogs({});
  for (const live of open) {
    if (live.updatedAt >= idleBefore) continue;
    expired.push(`${live.specName}/${live.taskId}/${live.type}`);
    if (options.dryRun) continue;
    await ctx.metadata.removeLiveLog(live.session);
    await removeChunkObjects(ctx, live, live.session);
  }
  const known = new Set(open.map((live) => live.session));
  const orphanChunks: string[] = [];
  // Also a previous release's `.live/`, until its last chunks are gone.
  for (const prefix of LIVE_PREFIXES) {
    let cursor: string | undefined;
    do {
      const page = await ctx.backend.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const object of page.objects) {
        const session = liveChunkSession(object.key);
        if (session === undefined || known.has(session)) continue;
        if (object.lastModified && options.now - object.lastModified.getTime() < options.graceMs) continue;
        orphanChunks.push(object.key);
        if (!options.dryRun) await ctx.backend.delete(object.key);
      }
      cursor = page.cursor;
    } while (cursor);
  }
  if (expired.length > 0)
    ctx.logger.info(options.dryRun ? "idle live logs would be discarded" : "discarded idle live logs", {
      logs: expired.length,
      idleSeconds: ctx.settings.liveLogIdleSeconds,
    });
  return { expired, orphanChunks };
}

/** Discards a live log without sealing it; returns whether there was one. */

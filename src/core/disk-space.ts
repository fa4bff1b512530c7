/**
 * The disk under the store: refusing content writes below the free-space floor (before any
 * metadata write, so a refusal leaves no trace), giving deletes the reserved headroom on a
 * full disk, and the figures stats and health checks report. Only backends with the
 * `volumeSpace` capability (fs) take part; object stores have no disk to fill.
 */
import { isDiskFull, storageFullError } from "../contracts/errors.ts";
import type { StoreContext } from "./context.ts";
import { formatBytes } from "./format.ts";
import { DEFAULT_MIN_FREE_BYTES } from "./settings.ts";

/** What `/healthz` and `stats()` say about the volume. */
export interface DiskReport {
  freeBytes: number;
  totalBytes: number;
  /** Content writes are refused below this. */
  minFreeBytes: number;
  /** Headroom held for deletes right now (0 while it is given back). */
  reservedBytes: number;
  /** False while free space is below the floor: uploads and live appends get E_STORAGE_FULL. */
  writable: boolean;
  warning: string | null;
}

/** Below this much free space a delete gives the reserve back before it starts. */
const NEARLY_FULL_BYTES = 1024 * 1024;

function floorOf(ctx: StoreContext): number {
  return ctx.settings.storageQuota.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
}

/** The volume's figures, or null when the backend has no volume (memory, S3, GCS). */
export async function diskReport(ctx: StoreContext): Promise<DiskReport | null> {
  if (!ctx.backend.volumeSpace) return null;
  // A volume whose figures cannot be read (a runtime without statfs) does not stop uploads.
  const space = await ctx.backend.volumeSpace().catch((error: unknown) => {
    ctx.logger.warn("cannot read the free space of the disk holding base_path", { error: String(error) });
    return null;
  });
  if (!space) return null;
  const minFreeBytes = floorOf(ctx);
  const writable = space.freeBytes >= minFreeBytes;
  return {
    ...space,
    minFreeBytes,
    writable,
    warning: writable
      ? null
      : `${formatBytes(space.freeBytes)} free on the disk holding base_path, below the ${formatBytes(minFreeBytes)} floor ` +
        "(storage_quota.min_free_space): uploads are refused until deletes or the cleanup free space",
  };
}

/** How long a volume's figures answer small writes without asking the volume again. */
const ROOM_CACHE_MS = 1000;
/** Small writes answered from one statfs may take at most this much (and an eighth of the room above the floor). */
const ROOM_BUDGET_BYTES = 64 * 1024 * 1024;

/** Per backend: the room above the floor the last statfs saw, less what small writes took since. */
const roomSeen = new WeakMap<object, { at: number; budget: number }>();

/**
 * True when a write of `bytes` fits in the budget of the last statfs (well above the floor, less
 * than a second ago): then it is taken from the budget and no statfs is needed. A volume within
 * 8 × 64 MiB of its floor is asked every time, so near the floor every write is checked.
 */
function fitsRoomSeen(ctx: StoreContext, bytes: number | undefined): boolean {
  const seen = roomSeen.get(ctx.backend);
  if (bytes === undefined || !seen || Date.now() - seen.at > ROOM_CACHE_MS || bytes > seen.budget) return false;
  seen.budget -= bytes;
  return true;
}

function rememberRoom(ctx: StoreContext, report: DiskReport): void {
  const budget = Math.min(ROOM_BUDGET_BYTES, (report.freeBytes - report.minFreeBytes) / 8);
  // Only with the reserve in place (else the next write takes it back first).
  if (report.writable && report.reservedBytes > 0 && budget >= ROOM_BUDGET_BYTES)
    roomSeen.set(ctx.backend, { at: Date.now(), budget });
  else roomSeen.delete(ctx.backend);
}

/**
 * Refuses a content write (upload, live append) while the volume's free space is below the
 * floor. Runs before the version is reserved: a refused upload writes nothing anywhere.
 * `bytes`, when known up front (a small upload), lets one statfs answer many small writes
 * (see {@link fitsRoomSeen}); other writes always ask the volume.
 */
export async function assertDiskRoom(ctx: StoreContext, bytes?: number): Promise<void> {
  if (fitsRoomSeen(ctx, bytes)) return;
  const report = await diskReport(ctx);
  if (!report) return;
  rememberRoom(ctx, report);
  if (report.writable) {
    // Room again: the reserve deletes gave back is taken first (a file check when it is there).
    if (report.reservedBytes === 0) await ctx.backend.restoreHeadroom?.().catch(() => {});
    return;
  }
  // Nearly full: the write-ahead log's growth goes back to the disk too (a no-op once it has).
  await reclaimJournal(ctx);
  throw storageFullError(
    ctx.backend.name,
    `${formatBytes(report.freeBytes)} free, below the floor of ${formatBytes(report.minFreeBytes)} (storage_quota.min_free_space); nothing was stored`,
    {
      details: { freeBytes: report.freeBytes, minFreeBytes: report.minFreeBytes },
    },
  );
}

/**
 * Runs a delete, cleanup or gc so that it works on a full disk: when the volume is below the
 * floor the reserve is given back first; when the disk fills up anyway the reserve goes and the
 * work (idempotent) runs again. The reserve is taken again once there is room for it.
 */
export async function withHeadroom<T>(ctx: StoreContext, work: () => Promise<T>): Promise<T> {
  const { backend } = ctx;
  if (!backend.releaseHeadroom) return work();
  let released = false;
  const release = async (reason: string) => {
    released = (await backend.releaseHeadroom?.().catch(() => false)) ?? false;
    if (released) ctx.logger.warn(`the disk holding base_path is ${reason}: the reserve goes to let deletes finish`);
    return released;
  };
  try {
    // Nearly full: the reserve goes first, so the work does not fail half-way and run twice.
    const space = await backend.volumeSpace?.().catch(() => null);
    if (space && space.reservedBytes > 0 && space.freeBytes < Math.max(space.reservedBytes, NEARLY_FULL_BYTES))
      await release("nearly full");
    try {
      return await work();
    } catch (error) {
      if (released || !isDiskFull(error) || !(await release("full"))) throw error;
      return await work();
    }
  } finally {
    if (released) {
      await ctx.metadata.reclaimJournal?.().catch(() => {});
      await backend.restoreHeadroom?.().catch(() => {});
    }
  }
}

/** After a refusal for a full disk: gives the write-ahead log's growth back to the volume (best effort). */
export async function afterDiskFull(ctx: StoreContext, error: unknown): Promise<void> {
  if (isDiskFull(error)) await reclaimJournal(ctx);
}

/**
 * Checkpoints and truncates the metadata's write-ahead log. Moving its pages into the database
 * may need a little room first: on a full disk that comes from the reserve. Best effort.
 */
async function reclaimJournal(ctx: StoreContext): Promise<void> {
  const reclaim = ctx.metadata.reclaimJournal;
  if (!reclaim) return;
  await reclaim().catch(async (error: unknown) => {
    if (isDiskFull(error)) await withHeadroom(ctx, reclaim).catch(() => {});
  });
}

/**
 * The volume's free space (statfs) and the reserve file that keeps headroom for deletes. Release
 * and restore run one at a time; restore writes the file only while the volume has room for it
 * and a margin, and removes a partial file when the disk fills up meanwhile.
 * The filesystem calls are injected (`node:fs/promises` and `node:path` from fs.ts), so this
 * module stays on Web APIs like everything outside the few runtime-specific files.
 */
import type { VolumeSpace } from "../contracts/storage-backend.ts";
import { isNotFound, wrapFsError } from "./fs-errors.ts";

/** Free space left over when the reserve is taken again. */
const RESERVE_MARGIN_BYTES = 256 * 1024;

/** What the headroom needs of an open file: `node:fs/promises`' FileHandle has it. */
export interface ReserveFileHandle {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The filesystem functions the headroom uses, with the signatures of `node:fs/promises` and `node:path`. */
export interface HeadroomFileSystem {
  statfs(path: string): Promise<{ bavail: number; bfree: number; bsize: number; blocks: number }>;
  stat(path: string): Promise<{ size: number }>;
  rm(path: string, options: { force: boolean }): Promise<void>;
  mkdir(path: string, options: { recursive: boolean }): Promise<unknown>;
  open(path: string, flags: "a"): Promise<ReserveFileHandle>;
  dirname(path: string): string;
  /** fsync of a path (the root, so a journaling filesystem counts what deletes freed). */
  sync(path: string): Promise<void>;
}

export interface DiskHeadroomOptions {
  /** The store's root; its volume (or its nearest existing ancestor's) is the one measured. */
  root: string;
  /** The reserve file. */
  reservePath: string;
  /** Bytes the reserve file holds once restored; 0: none. */
  reserveBytes: number;
  /** Root may also use the blocks ext4 keeps for it: its free space counts them. */
  runsAsRoot: boolean;
  files: HeadroomFileSystem;
}

export interface DiskHeadroom {
  volumeSpace(): Promise<VolumeSpace>;
  /** Removes the reserve file; true when it held anything. */
  release(): Promise<boolean>;
  /** Takes the reserve back to its configured size when the volume has room for it. */
  restore(): Promise<void>;
}

export function createDiskHeadroom(options: DiskHeadroomOptions): DiskHeadroom {
  const { root, reservePath, reserveBytes, runsAsRoot, files } = options;
  let turn: Promise<unknown> = Promise.resolve();
  const serialized = <T>(work: () => Promise<T>): Promise<T> => {
    const result = turn.then(work, work);
    turn = result.catch(() => {});
    return result;
  };
  const reserveSize = async () => (await files.stat(reservePath).catch(() => null))?.size ?? 0;
  const volumeSpace = async (): Promise<VolumeSpace> => {
    // The root may not exist yet: its nearest existing ancestor is on the same volume.
    for (let path = root; ; path = files.dirname(path)) {
      try {
        const stats = await files.statfs(path);
        return {
          // What this process can write: root may also use the blocks ext4 keeps for it.
          freeBytes: (runsAsRoot ? stats.bfree : stats.bavail) * stats.bsize,
          totalBytes: stats.blocks * stats.bsize,
          reservedBytes: await reserveSize(),
        };
      } catch (error) {
        if (!isNotFound(error) || files.dirname(path) === path) throw wrapFsError(error, "reading the free space");
      }
    }
  };
  return {
    volumeSpace,
    release: () =>
      serialized(async () => {
        const held = await reserveSize();
        if (held === 0) return false;
        await files.rm(reservePath, { force: true });
        return true;
      }),
    restore: () =>
      serialized(async () => {
        const held = await reserveSize();
        // A reserve larger than configured (the setting went down) gives the difference back.
        if (held > reserveBytes) {
          await files.rm(reservePath, { force: true });
          if (reserveBytes <= 0) return;
          return restoreReserve(0);
        }
        if (held === reserveBytes) return;
        return restoreReserve(held);
      }),
  };

  async function restoreReserve(held: number): Promise<void> {
    // Taken back as soon as deletes freed it and a little more: uploads stay refused below
    // the floor meanwhile, so only deletes would have used that space. A journaling
    // filesystem (ext4) counts blocks of deleted files free only once its journal commits:
    // an fsync of the root commits it, so the figure below sees what deletes freed.
    await files.sync(root).catch(() => {});
    const space = await volumeSpace();
    if (space.freeBytes < reserveBytes - held + RESERVE_MARGIN_BYTES) return;
    await files.mkdir(files.dirname(reservePath), { recursive: true });
    // Real bytes, not a sparse file: only written blocks hold space for later.
    const handle = await files.open(reservePath, "a");
    try {
      const zeros = new Uint8Array(Math.min(1024 * 1024, reserveBytes));
      for (let size = held; size < reserveBytes; ) {
        const { bytesWritten } = await handle.write(zeros, 0, Math.min(zeros.length, reserveBytes - size));
        size += bytesWritten;
      }
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      await files.rm(reservePath, { force: true });
      throw wrapFsError(error, "writing the disk reserve");
    }
    await handle.close();
  }
}

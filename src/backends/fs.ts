/**
 * Filesystem backend: one file per object under a root directory.
 * Publish is staging file → fsync → rename → directory fsync, so a crash leaves either the
 * old state or the complete new file, never a partial one under its final name.
 */
import { randomUUID } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { link, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, statfs, unlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { ArtifactStoreError, storageFullError } from "../contracts/errors.ts";
import type {
  ListPage,
  MaintenanceOptions,
  ObjectInfo,
  StorageBackend,
  StoredObject,
  VolumeSpace,
} from "../contracts/storage-backend.ts";
import { createPathSyncer, type PathSyncer } from "../lib/path-syncer.ts";
import { assertValidKey, resolveRange } from "./keys.ts";

export interface FsBackendOptions {
  /** Directory that holds the objects, created when missing. */
  root: string;
  /** Where uploads are written before they are published; must be on the same filesystem as `root`. */
  stagingDir?: string;
  /**
   * `true` (default): fsync each file and its directory before a put resolves, so an
   * acknowledged upload survives power loss. `false` trades that for speed.
   */
  fsync?: boolean;
  /** Bytes read per chunk on download (default 256 KiB). */
  readChunkSize?: number;
  /**
   * Bytes kept in a preallocated file (`<root>/.store/disk-reserve`) and given back when a delete
   * or cleanup finds the disk full, so removing artifacts always works (default 0: none; the
   * config's `storage_quota.disk_reserve` sets it for servers).
   */
  reserveBytes?: number;
}

/** Name of the directory under the root that holds the store's own files (database, staging). */
export const STORE_DIRECTORY = ".store";

/** Extends {@link StorageBackend} with what only a filesystem has. */
export interface FsBackend extends StorageBackend {
  readonly root: string;
  readonly stagingDir: string;
  cleanStaging(olderThanMs: number, options?: MaintenanceOptions): Promise<string[]>;
}

/**
 * @example
 * const backend = createFsBackend({ root: "/var/lib/artifacts" });
 * await backend.put("spec/task/v1/log.txt.gz", stream);
 */
export function createFsBackend(options: FsBackendOptions): FsBackend {
  const root = resolve(options.root);
  const stagingDir = resolve(options.stagingDir ?? join(root, STORE_DIRECTORY, "staging"));
  const fsyncEnabled = options.fsync ?? true;
  const readChunkSize = options.readChunkSize ?? 256 * 1024;
  let stagingReady: Promise<unknown> | undefined;
  const headroom = createDiskHeadroom(root, join(root, STORE_DIRECTORY, "disk-reserve"), options.reserveBytes ?? 0);

  const pathOf = (key: string): string => {
    assertValidKey(key, "fs");
    if (key === STORE_DIRECTORY || key.startsWith(`${STORE_DIRECTORY}/`)) {
      throw new ArtifactStoreError("E_INVALID_INPUT", `[fs] key ${JSON.stringify(key)} is reserved for the store`);
    }
    return join(root, ...key.split("/"));
  };

  /**
   * The store never creates symbolic links, so it never follows one: a link anywhere between the
   * root and `path` (an `evil -> /outside` someone placed in base_path) would let a put write,
   * and gc or a delete remove, files outside the root. Each existing directory on the way is
   * lstat'ed; true when none is a link. The last component is checked by its own caller
   * (lstat, O_NOFOLLOW), since rename and unlink act on a link itself, never on its target.
   */
  const linkFree = async (path: string): Promise<boolean> => {
    const segments = path
      .slice(root.length + 1)
      .split(sep)
      .slice(0, -1);
    let directory = root;
    for (const segment of segments) {
      directory = join(directory, segment);
      const stats = await lstat(directory).catch((error: unknown) => {
        if (isNotFound(error) || isNotDirectory(error)) return null;
        throw error;
      });
      if (!stats) return true; // the rest does not exist yet: nothing to follow
      if (!stats.isDirectory()) return false;
    }
    return true;
  };
  const refuseLinks = async (path: string, key: string): Promise<void> => {
    if (!(await linkFree(path))) {
      throw new ArtifactStoreError(
        "E_BACKEND",
        `[fs] ${key} leads through a symbolic link or a file inside the store's directory; the store never follows links it did not create: remove it`,
      );
    }
  };

  const directorySyncs = createPathSyncer(openForSync);
  const syncDirectory = (path: string): Promise<void> => (fsyncEnabled ? directorySyncs.sync(path) : Promise.resolve());
  const deferred = createDeferredSyncs(directorySyncs);

  /** Directories created by a put whose entries are being fsynced, and that fsync. */
  const unsyncedDirectories = new Map<string, Promise<unknown>>();

  /**
   * Creates the parent directories of `target`; fsyncs each new one's parent so the entry is
   * durable. A put into a directory another put has just created waits for that fsync too:
   * otherwise it could be acknowledged while the directory itself might still vanish.
   */
  const ensureParent = async (target: string, durable: boolean): Promise<void> => {
    const parent = dirname(target);
    const firstCreated = await mkdir(parent, { recursive: true });
    if (!fsyncEnabled) return;
    if (!firstCreated) {
      if (!durable) return;
      const pending: Promise<unknown>[] = [];
      for (let directory = parent; directory.startsWith(root + sep); directory = dirname(directory)) {
        const syncing = unsyncedDirectories.get(directory);
        if (syncing) pending.push(syncing);
      }
      await Promise.all(pending);
      return;
    }
    const created: string[] = [];
    for (let directory = parent; ; directory = dirname(directory)) {
      created.push(directory);
      if (directory === firstCreated || directory === root) break;
    }
    const parents = created.map((directory) => dirname(directory));
    if (!durable) {
      for (const directory of parents) deferred.add(directory);
      return;
    }
    const syncing = Promise.all(parents.map(syncDirectory));
    for (const directory of created) unsyncedDirectories.set(directory, syncing);
    try {
      await syncing;
    } finally {
      for (const directory of created)
        if (unsyncedDirectories.get(directory) === syncing) unsyncedDirectories.delete(directory);
    }
  };

  async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
    let written = 0;
    while (written < chunk.length) {
      const result = await handle.write(chunk, written, chunk.length - written);
      written += result.bytesWritten;
    }
  }

  return {
    name: "fs",
    root,
    stagingDir,

    async put(key, body, putOptions = {}): Promise<ObjectInfo> {
      const durable = putOptions.durability !== "deferred";
      const target = pathOf(key);
      await refuseLinks(target, key);
      // Created once; a failure is not remembered, so the next put tries again.
      stagingReady ??= mkdir(stagingDir, { recursive: true }).catch((error: unknown) => {
        stagingReady = undefined;
        throw error;
      });
      await stagingReady;
      const stagingPath = join(stagingDir, `${randomUUID()}.tmp`);
      const reader = body.getReader();
      let handle: FileHandle | undefined;
      let size = 0;
      try {
        handle = await open(stagingPath, "wx");
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await writeAll(handle, value);
          size += value.length;
        }
        if (fsyncEnabled && durable) await handle.sync();
        await handle.close();
        handle = undefined;
        await publish(stagingPath, target, durable, putOptions.ifNotExists === true);
      } catch (error) {
        await reader.cancel(error).catch(() => {});
        await handle?.close().catch(() => {});
        await rm(stagingPath, { force: true }).catch(() => {});
        throw wrapFsError(error, `writing ${key}`);
      }
      const stats = await lstat(target);
      return { key, size, etag: etagOf(stats), lastModified: stats.mtime };
    },

    async get(key, getOptions = {}): Promise<StoredObject | null> {
      const path = pathOf(key);
      const { signal } = getOptions;
      signal?.throwIfAborted();
      let stats: Awaited<ReturnType<typeof lstat>>;
      try {
        if (!(await linkFree(path))) return null;
        stats = await lstat(path);
      } catch (error) {
        if (isNotFound(error) || isNotDirectory(error)) return null;
        throw wrapFsError(error, `reading ${key}`);
      }
      if (!stats.isFile()) return null;
      const range = getOptions.range ? resolveRange(getOptions.range, stats.size, "fs") : undefined;
      const end = range ? range.end : stats.size - 1;
      let position = range ? range.start : 0;
      // Opened on the first read, so a body nobody reads holds no file descriptor.
      let handle: FileHandle | undefined;
      const closeHandle = async () => {
        const current = handle;
        handle = undefined;
        await current?.close();
      };
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            try {
              // The reader went away (a client disconnect): stop reading and let go of the file.
              signal?.throwIfAborted();
              const wanted = Math.min(readChunkSize, end + 1 - position);
              if (wanted <= 0) {
                await closeHandle();
                controller.close();
                return;
              }
              handle ??= await open(path, fsConstants.O_RDONLY | NO_FOLLOW);
              const buffer = new Uint8Array(wanted);
              const { bytesRead } = await handle.read(buffer, 0, wanted, position);
              if (bytesRead === 0) {
                await closeHandle();
                controller.error(new ArtifactStoreError("E_CORRUPT", `[fs] ${key} is shorter than its size`));
                return;
              }
              position += bytesRead;
              controller.enqueue(bytesRead === wanted ? buffer : buffer.subarray(0, bytesRead));
            } catch (error) {
              await closeHandle().catch(() => {});
              controller.error(signal?.aborted ? signal.reason : wrapFsError(error, `reading ${key}`));
            }
          },
          async cancel() {
            await closeHandle();
          },
          // No read-ahead before the first read: a body nobody reads must not open the file.
        },
        { highWaterMark: 0 },
      );
      return {
        key,
        size: stats.size,
        etag: etagOf(stats),
        lastModified: stats.mtime,
        body,
        ...(range ? { range } : {}),
      };
    },

    async head(key) {
      const path = pathOf(key);
      try {
        if (!(await linkFree(path))) return null;
        const stats = await lstat(path);
        if (!stats.isFile()) return null;
        return { key, size: stats.size, etag: etagOf(stats), lastModified: stats.mtime };
      } catch (error) {
        if (isNotFound(error) || isNotDirectory(error)) return null;
        throw wrapFsError(error, `inspecting ${key}`);
      }
    },

    async delete(key) {
      const path = pathOf(key);
      try {
        // Through a link the object is not the store's: nothing of it is removed.
        if (!(await linkFree(path))) return;
        await unlink(path);
      } catch (error) {
        if (isNotFound(error)) return;
        throw wrapFsError(error, `deleting ${key}`);
      }
      await removeEmptyParents(path);
    },

    async list(listOptions = {}): Promise<ListPage> {
      const limit = listOptions.limit ?? 1000;
      const prefix = listOptions.prefix ?? "";
      const cursor = listOptions.cursor;
      const objects: ObjectInfo[] = [];
      // Start at the deepest directory the prefix names in full.
      const prefixDirectory = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
      const walk = async (relativeDirectory: string): Promise<boolean> => {
        let entries: string[];
        try {
          entries = (await readdir(join(root, ...relativeDirectory.split("/").filter(Boolean)))).sort();
        } catch (error) {
          if (isNotFound(error) || isNotDirectory(error)) return false;
          throw wrapFsError(error, "listing objects");
        }
        for (const entry of entries) {
          const key = relativeDirectory ? `${relativeDirectory}/${entry}` : entry;
          if (key === STORE_DIRECTORY) continue;
          if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
          // lstat: a symbolic link is neither a directory to walk nor an object (never followed).
          const stats = await lstat(join(root, ...key.split("/"))).catch(() => null);
          if (!stats) continue;
          if (stats.isDirectory()) {
            if (cursor !== undefined && compareKeys(key, cursor) < 0 && !cursor.startsWith(`${key}/`)) continue;
            if (await walk(key)) return true;
          } else if (stats.isFile()) {
            if (!key.startsWith(prefix)) continue;
            if (cursor !== undefined && compareKeys(key, cursor) <= 0) continue;
            if (objects.length === limit) return true;
            objects.push({ key, size: stats.size, etag: etagOf(stats), lastModified: stats.mtime });
          }
        }
        return false;
      };
      const more = await walk(prefixDirectory);
      const last = objects.at(-1);
      return { objects, ...(more && last ? { cursor: last.key } : {}) };
    },

    uriFor(key) {
      return pathToFileURL(pathOf(key)).href;
    },

    async close() {
      await deferred.flush();
    },

    volumeSpace: headroom.volumeSpace,
    releaseHeadroom: headroom.release,
    restoreHeadroom: headroom.restore,

    async cleanStaging(olderThanMs, cleanOptions = {}) {
      const now = cleanOptions.now ?? Date.now();
      let entries: string[];
      try {
        entries = await readdir(stagingDir);
      } catch (error) {
        if (isNotFound(error)) return [];
        throw wrapFsError(error, "listing staging files");
      }
      const removed: string[] = [];
      for (const entry of entries.sort()) {
        const path = join(stagingDir, entry);
        const stats = await lstat(path).catch(() => null);
        if (!stats?.isFile() || now - stats.mtimeMs < olderThanMs) continue;
        if (!cleanOptions.dryRun) await rm(path, { force: true });
        removed.push(entry);
      }
      return removed;
    },
  };

  async function publish(stagingPath: string, target: string, durable: boolean, createOnly: boolean): Promise<void> {
    // A concurrent delete may remove the freshly created parent between mkdir and rename.
    for (let attempt = 0; ; attempt++) {
      await ensureParent(target, durable);
      try {
        if (createOnly) {
          // link() fails when the name exists, where rename() would replace it; the staging
          // name goes afterwards (a crash in between leaves a staging file for gc).
          await link(stagingPath, target);
          await unlink(stagingPath);
        } else await rename(stagingPath, target);
        break;
      } catch (error) {
        if ((error as { code?: string }).code === "EEXIST") {
          throw new ArtifactStoreError(
            "E_CONFLICT",
            `[fs] an object already exists at ${relativeKey(target)}; the metadata database does not know it (lost or replaced?): run reindex before uploading`,
          );
        }
        if (!isNotFound(error) || attempt >= 5) throw error;
      }
    }
    if (durable) await syncDirectory(dirname(target));
    else if (fsyncEnabled) {
      deferred.add(target);
      deferred.add(dirname(target));
    }
  }

  function relativeKey(path: string): string {
    return path
      .slice(root.length + 1)
      .split(sep)
      .join("/");
  }

  async function removeEmptyParents(path: string): Promise<void> {
    for (let directory = dirname(path); directory !== root && directory.startsWith(root + sep); ) {
      try {
        await rmdir(directory);
      } catch {
        return; // not empty, or already gone: either way nothing more to tidy
      }
      directory = dirname(directory);
    }
  }
}

/** Opening a file never follows a link in its last component where the platform offers it (ELOOP instead). */
const NO_FOLLOW = fsConstants.O_NOFOLLOW ?? 0;

/** fsync of one path (file or directory), through the shared syncer. */
const openForSync = (path: string) => open(path, "r");

/** Paths written with `durability: "deferred"` (sidecars), fsynced together a moment later. */
function createDeferredSyncs(syncer: PathSyncer, delayMs = 250) {
  let pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<unknown> = Promise.resolve();
  const flush = () => {
    timer = undefined;
    const paths = [...pending];
    pending = new Set();
    // A path deleted meanwhile has nothing left to sync.
    const round = Promise.all(paths.map((path) => syncer.sync(path).catch(() => {})));
    flushing = Promise.all([flushing, round]);
    return round;
  };
  return {
    add(path: string) {
      pending.add(path);
      if (timer === undefined) {
        timer = setTimeout(() => void flush(), delayMs);
        timer.unref?.();
      }
    },
    /** Syncs what is pending now and waits for rounds already running. */
    async flush() {
      if (timer !== undefined) clearTimeout(timer);
      await flush();
      await flushing;
    },
  };
}

/**
 * The volume's free space (statfs) and the reserve file that keeps headroom for deletes. Release
 * and restore run one at a time; restore writes the file only while the volume has room for it
 * and a margin, and removes a partial file when the disk fills up meanwhile.
 */
/** Free space left over when the reserve is taken again. */
const RESERVE_MARGIN_BYTES = 256 * 1024;

function createDiskHeadroom(root: string, reservePath: string, reserveBytes: number) {
  let turn: Promise<unknown> = Promise.resolve();
  const serialized = <T>(work: () => Promise<T>): Promise<T> => {
    const result = turn.then(work, work);
    turn = result.catch(() => {});
    return result;
  };
  const runsAsRoot = process.getuid?.() === 0;
  const reserveSize = async () => (await stat(reservePath).catch(() => null))?.size ?? 0;
  const volumeSpace = async (): Promise<VolumeSpace> => {
    // The root may not exist yet: its nearest existing ancestor is on the same volume.
    for (let path = root; ; path = dirname(path)) {
      try {
        const stats = await statfs(path);
        return {
          // What this process can write: root may also use the blocks ext4 keeps for it.
          freeBytes: (runsAsRoot ? stats.bfree : stats.bavail) * stats.bsize,
          totalBytes: stats.blocks * stats.bsize,
          reservedBytes: await reserveSize(),
        };
      } catch (error) {
        if (!isNotFound(error) || dirname(path) === path) throw wrapFsError(error, "reading the free space");
      }
    }
  };
  return {
    volumeSpace,
    release: () =>
      serialized(async () => {
        const held = await reserveSize();
        if (held === 0) return false;
        await rm(reservePath, { force: true });
        return true;
      }),
    restore: () =>
      serialized(async () => {
        const held = await reserveSize();
        // A reserve larger than configured (the setting went down) gives the difference back.
        if (held > reserveBytes) {
          await rm(reservePath, { force: true });
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
    await createPathSyncer(openForSync)
      .sync(root)
      .catch(() => {});
    const space = await volumeSpace();
    if (space.freeBytes < reserveBytes - held + RESERVE_MARGIN_BYTES) return;
    await mkdir(dirname(reservePath), { recursive: true });
    // Real bytes, not a sparse file: only written blocks hold space for later.
    const handle = await open(reservePath, "a");
    try {
      const zeros = new Uint8Array(Math.min(1024 * 1024, reserveBytes));
      for (let size = held; size < reserveBytes; ) {
        const { bytesWritten } = await handle.write(zeros, 0, Math.min(zeros.length, reserveBytes - size));
        size += bytesWritten;
      }
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      await rm(reservePath, { force: true });
      throw wrapFsError(error, "writing the disk reserve");
    }
    await handle.close();
  }
}

/** Orders keys segment by segment, the order a sorted directory walk visits them in. */
function compareKeys(left: string, right: string): number {
  const leftSegments = left.split("/");
  const rightSegments = right.split("/");
  const shared = Math.min(leftSegments.length, rightSegments.length);
  for (let index = 0; index < shared; index++) {
    const a = leftSegments[index] as string;
    const b = rightSegments[index] as string;
    if (a !== b) return a < b ? -1 : 1;
  }
  return leftSegments.length - rightSegments.length;
}

function etagOf(stats: { size: number; mtimeMs: number; ino: number }): string {
  return `"${stats.ino.toString(16)}-${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "ENOENT";
}

function isNotDirectory(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "ENOTDIR";
}

function wrapFsError(error: unknown, action: string): unknown {
  if (error instanceof ArtifactStoreError) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === undefined) return error; // not a filesystem error: the body stream's own failure
  if (code === "ENOSPC" || code === "EDQUOT") return storageFullError("fs", `${action} failed`, { cause: error });
  // The system's message without the paths it names: clients see the key, never server paths.
  const reason = String((error as Error).message)
    .replace(/ '[^']*'/g, "")
    .replace(/, (open|write|rename|mkdir|unlink|stat|fsync|read)$/, "");
  return new ArtifactStoreError("E_BACKEND", `[fs] ${action} failed: ${reason}`, { cause: error });
}

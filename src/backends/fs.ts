/**
 * Filesystem backend: one file per object under a root directory.
 * Publish is staging file → fsync → rename → directory fsync, so a crash leaves either the
 * old state or the complete new file, never a partial one under its final name.
 * This file holds what needs `node:*`; the rest of the backend is Web-API modules beside it
 * that take the node functions they need: `fs-links.ts` (no link on the way to an object),
 * `fs-listing.ts` (the directory walk, etags),
 * `fs-read-stream.ts` (a download's body), `fs-publisher.ts` (a staged file put in place, with its
 * fsyncs), `fs-headroom.ts` (free space and the disk reserve),
 * `fs-deferred-syncs.ts` (sidecar fsyncs batched), `fs-tidy.ts` (emptied folders and old staging
 * files removed) and `fs-errors.ts`.
 */
import { randomUUID } from "node:crypto";
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  statfs,
  unlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { withLazyBody } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { MaintenanceOptions, ObjectInfo, StorageBackend, StoredObject } from "../contracts/storage-backend.ts";
import { resolveRange } from "../contracts/storage-backend.ts";
import { untilItWorks } from "../lib/concurrency.ts";
import { createPathSyncer } from "../lib/path-syncer.ts";
import { isNotFound, wrapFsError } from "./fs-errors.ts";
import { createDiskHeadroom } from "./fs-headroom.ts";
import { createLinkGuard, type LinkGuard } from "./fs-links.ts";
import { listObjects, objectInfoOf } from "./fs-listing.ts";
import { createPublisher, type Publisher } from "./fs-publisher.ts";
import { bodyOfBytes, createFileBody } from "./fs-read-stream.ts";
import { createStagingWriter, type StagingFileSystem } from "./fs-staging.ts";
import { createTidy } from "./fs-tidy.ts";
import { assertValidKey, PLAIN_KEY } from "./keys.ts";

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
/** Keys of uploads in progress: inside the store's directory, on the same filesystem as the seed paths. */
const UPLOADS_PREFIX = `${STORE_DIRECTORY}/uploads/`;
/** Keys of live-log chunks: the store's own files too. */
const LIVE_PREFIX = `${STORE_DIRECTORY}/live/`;
/** The only keys inside the store's directory. */
const isStoreKey = (key: string) => key.startsWith(UPLOADS_PREFIX) || key.startsWith(LIVE_PREFIX);

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
  const stagingReady = untilItWorks(() => mkdir(stagingDir, { recursive: true }));
  const publisher = createPublisher(root, fsyncEnabled, publisherFiles(fsyncEnabled));
  const headroom = createFsHeadroom(root, options.reserveBytes ?? 0);
  const pathOf = (key: string): string => objectPath(root, key);
  const rootHref = `${pathToFileURL(root).href.replace(/\/$/, "")}/`; // a plain key's URI: this + the key
  const links = createLinkGuard({ lstat: lstatOrNothing, stat: statOrNothing, sep });
  const { linkFree, refuseLinks, fileStats } = links;
  const objects: FsObjects = { root, stagingDir, stagingReady, publisher, pathOf, links };
  /** A failed fsync of a deferred write is reported (its bytes may be lost on a power failure). */
  const syncDeferred = () =>
    publisher.flush().catch((error: unknown) => {
      throw wrapFsError(error, "making deferred writes durable");
    });
  /** The root as given and as the kernel names it (its own links resolved, on first use). */
  const rootNames: { path: string; real?: string } = { path: root };

  return {
    name: "fs",
    root,
    stagingDir,

    async put(key, body, putOptions = {}): Promise<ObjectInfo> {
      const durable = putOptions.durability !== "deferred";
      const target = pathOf(key);
      const folder = refuseLinks(root, target, key);
      await stagingReady();
      const stagingPath = join(stagingDir, `${randomUUID()}.tmp`);
      let size: number;
      try {
        const write = fsyncEnabled ? writeStagingFileOffLoop : writeStagingFile;
        size = await write(stagingPath, body, fsyncEnabled && durable, putOptions.contentLength);
        await publisher.publish(stagingPath, target, durable, putOptions.ifNotExists === true, folder === "present");
      } catch (error) {
        await rm(stagingPath, { force: true }).catch(() => {});
        throw wrapFsError(error, `writing ${key}`);
      }
      // A deferred put's caller (a sidecar, a materialised version) reads no etag: no lstat for one.
      return durable ? { ...objectInfoOf(key, lstatSync(target)), size } : { key, size };
    },

    async get(key, getOptions = {}): Promise<StoredObject | null> {
      const path = pathOf(key);
      const small = getOptions.range ? undefined : getSmall(rootNames, key, path);
      if (small) return small;
      const { signal } = getOptions;
      signal?.throwIfAborted();
      const stats = fileStats(root, path, `reading ${key}`);
      if (!stats) return null;
      const range = getOptions.range ? resolveRange(getOptions.range, stats.size, "fs") : undefined;
      const body = createFileBody({
        key,
        start: range ? range.start : 0,
        end: range ? range.end : stats.size - 1,
        chunkSize: readChunkSize,
        ...(signal ? { signal } : {}),
        openFile: () => open(path, READ_FLAGS),
      });
      return { ...objectInfoOf(key, stats), body, ...(range ? { range } : {}) };
    },

    async head(key) {
      const stats = fileStats(root, pathOf(key), `inspecting ${key}`);
      return stats ? objectInfoOf(key, stats) : null;
    },

    copy: (from, to) => copyObject(objects, from, to),

    move: (from, to) => moveObject(objects, from, to),

    async delete(key) {
      const path = pathOf(key);
      try {
        // Through a link the object is not the store's: nothing of it is removed.
        if (!linkFree(root, path)) return;
        await unlink(path);
      } catch (error) {
        if (isNotFound(error)) return;
        throw wrapFsError(error, `deleting ${key}`);
      }
      await removeEmptyParents(root, path, links.forget);
    },

    list(listOptions = {}) {
      return listObjects(
        {
          readDirectory: (relativeDirectory) => readdir(join(root, ...relativeDirectory.split("/").filter(Boolean))),
          statEntry: (key) => lstat(join(root, ...key.split("/"))).catch(() => null),
          // The store's own directory is listed only for uploads in progress and live-log chunks, when asked by prefix.
          hidden: isStoreKey(listOptions.prefix ?? "") ? "" : STORE_DIRECTORY,
        },
        listOptions,
      );
    },
    uriFor(key) {
      // A plain key needs no path built: every search result's URI is one (see the layout).
      return PLAIN_KEY.test(key) && checkedKey(key) ? `${rootHref}${key}` : pathToFileURL(pathOf(key)).href;
    },

    close: syncDeferred,

    syncDeferred,

    volumeSpace: headroom.volumeSpace,
    releaseHeadroom: headroom.release,
    restoreHeadroom: headroom.restore,

    cleanStaging: (olderThanMs, cleanOptions = {}) => cleanStagingFiles(stagingDir, olderThanMs, cleanOptions),
  };
}

/** What the object operations share: where objects and staging files live, and the publisher. */
interface FsObjects {
  root: string;
  stagingDir: string;
  stagingReady: () => Promise<unknown>;
  publisher: Publisher;
  pathOf: (key: string) => string;
  links: LinkGuard;
}

/** A hard link: no bytes copied, and the name appears whole (linked in staging, then renamed). */
async function copyObject(objects: FsObjects, from: string, to: string): Promise<boolean> {
  const { root, stagingDir, stagingReady, publisher, pathOf, links } = objects;
  const source = pathOf(from);
  const target = pathOf(to);
  links.refuseLinks(root, source, from);
  const folder = links.refuseLinks(root, target, to);
  await stagingReady();
  const stagingPath = join(stagingDir, `${randomUUID()}.tmp`);
  try {
    await link(source, stagingPath);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw wrapFsError(error, `copying ${from}`);
  }
  try {
    await publisher.publish(stagingPath, target, true, false, folder === "present");
  } catch (error) {
    await rm(stagingPath, { force: true }).catch(() => {});
    throw wrapFsError(error, `copying ${from} to ${to}`);
  }
  return true;
}

/** rename() replaces the target atomically: a reader holding the old file keeps its bytes. */
async function moveObject(objects: FsObjects, from: string, to: string): Promise<boolean> {
  const { root, publisher, pathOf, links } = objects;
  const source = pathOf(from);
  const target = pathOf(to);
  const sourceFolder = links.refuseLinks(root, source, from);
  const folder = links.refuseLinks(root, target, to);
  if (sourceFolder === "missing" || !lstatOrNothing(source)?.isFile()) return false;
  try {
    await publisher.publish(source, target, true, false, folder === "present");
  } catch (error) {
    if (isNotFound(error)) return false;
    throw wrapFsError(error, `moving ${from} to ${to}`);
  }
  // The uploads folder of a task stays for its next upload (no folder to create and fsync each time).
  if (!from.startsWith(UPLOADS_PREFIX)) await removeEmptyParents(root, source, links.forget);
  return true;
}

/** Reads never follow a link in the last component (ELOOP) nor wait (a FIFO in place of an object would block the open). */
const READ_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

/** fsync of one path (file or directory), through the shared syncer. */
/** fsync of an open descriptor on the thread pool (the event loop never waits for the disk). */
const fsyncFd = (fd: number) => new Promise<void>((done, fail) => fsync(fd, (error) => (error ? fail(error) : done())));

/** A file or folder opened for an fsync: open and close synchronous (no thread-pool round trip each). */
const openForSync = async (path: string) => {
  const fd = openSync(path, "r");
  return { sync: () => fsyncFd(fd), close: async () => closeSync(fd) };
};

/** The headroom of the volume under `root`, with its reserve file in the store's directory. */
function createFsHeadroom(root: string, reserveBytes: number) {
  return createDiskHeadroom({
    root,
    reservePath: join(root, STORE_DIRECTORY, "disk-reserve"),
    reserveBytes,
    runsAsRoot: process.getuid?.() === 0,
    files: { statfs, stat, rm, mkdir, open, dirname, sync: (path) => createPathSyncer(openForSync).sync(path) },
  });
}

/**
 * The file that holds `key` under `root`; the store's own directory is no key's, except uploads
 * in progress (the layout's `.store/uploads/`), which must be on the seed paths' filesystem, and
 * live-log chunks (`.store/live/`).
 */
function objectPath(root: string, key: string): string {
  return join(root, ...checkedKey(key).split("/"));
}

/** `key`, when it may name an object (see {@link objectPath}); else E_INVALID_INPUT. */
function checkedKey(key: string): string {
  assertValidKey(key, "fs");
  if ((key === STORE_DIRECTORY || key.startsWith(`${STORE_DIRECTORY}/`)) && !isStoreKey(key)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `[fs] key ${JSON.stringify(key)} is reserved for the store`);
  }
  return key;
}

/** The publisher's filesystem: with fsync off, folders are created synchronously (no journal commit to wait for). */
const publisherFiles = (fsyncEnabled: boolean) => ({
  mkdir: fsyncEnabled ? mkdir : async (path: string, options: { recursive: true }) => mkdirSync(path, options),
  link,
  unlink,
  rename,
  dirname,
  sep,
  openForSync,
});

/** A new file, never an existing one replaced ("wx"); with `O_SYNC` each write returns once on disk. */
const CREATE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL;
const CREATE_SYNC_FLAGS = CREATE_FLAGS | fsConstants.O_SYNC;
/** What writing a put's staging file (fs-staging.ts) calls. */
const stagingFiles: StagingFileSystem = {
  open: (path, flags) => open(path, flags),
  writeFile: (path, bytes, sync) => writeFile(path, bytes, { flag: sync ? CREATE_SYNC_FLAGS : CREATE_FLAGS }),
  openSync: (path, flags) => openSync(path, flags),
  writeSync: (fd, buffer, offset, length) => writeSync(fd, buffer, offset, length),
  closeSync,
  fsync: (fd) => fsyncFd(fd),
};
/** A small body with synchronous calls (fsync off), or made by one round trip off the event loop (fsync on). */
const writeStagingFile = createStagingWriter(stagingFiles, false);
const writeStagingFileOffLoop = createStagingWriter(stagingFiles, true);

/** Emptied folders and old staging files removed: see fs-tidy.ts. */
const { removeEmptyParents, cleanStagingFiles } = createTidy({ readdir, lstat, rm, rmdir, join, dirname, sep });

/**
 * Link checks (fs-links.ts) on synchronous calls: from the kernel's cache, 1/10 the CPU of an
 * async one; a missing path answers `undefined` (a thrown ENOENT costs more than the call).
 */
const lstatOrNothing = (path: string): Stats | undefined => lstatSync(path, { throwIfNoEntry: false });
const statOrNothing = (path: string): Stats | undefined => statSync(path, { throwIfNoEntry: false });

/** A small object read whole (see {@link readSmallFile}); undefined when it must take the checked path. */
function getSmall(root: { path: string; real?: string }, key: string, path: string): StoredObject | undefined {
  const whole = readSmallFile(root, path);
  if (!whole) return undefined;
  const info = objectInfoOf(key, whole.stats);
  if (whole.bytes.length === whole.stats.size) return withLazyBody(info, whole.bytes);
  return { ...info, body: bodyOfBytes(key, whole.bytes, whole.stats.size) };
}

/** Objects up to this size are read whole by {@link readSmallFile}. */
const SMALL_FILE_BYTES = 64 * 1024;

/**
 * A small regular file read whole with a few synchronous calls (an async open, stat, read and
 * close, plus one lstat per directory on the way, cost about ten times the CPU of a 4 KiB GET's
 * synchronous ones). The file is opened with O_NOFOLLOW and O_NONBLOCK, and the kernel's name for the open
 * descriptor (`/proc/self/fd/N`) must be the path asked for, so no link on the way was followed.
 * Undefined whenever that cannot be said (no /proc, a larger file, a link, a missing file, any
 * error): the caller then takes the checked path (`fileStats`, a streamed body).
 */
function readSmallFile(
  root: { path: string; real?: string },
  path: string,
): { stats: Stats; bytes: Uint8Array } | undefined {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch {
    return undefined;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size > SMALL_FILE_BYTES) return undefined;
    root.real ??= realpathSync(root.path);
    if (readlinkSync(`/proc/self/fd/${fd}`) !== root.real + path.slice(root.path.length)) return undefined;
    const bytes = new Uint8Array(stats.size);
    let read = 0;
    while (read < bytes.length) {
      const count = readSync(fd, bytes, read, bytes.length - read, read);
      if (count === 0) break;
      read += count;
    }
    return { stats, bytes: read === bytes.length ? bytes : bytes.subarray(0, read) };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

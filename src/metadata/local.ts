/**
 * Opens metadata databases on Bun and Node: local `file:` databases (WAL mode, busy timeout),
 * embedded replicas (`syncUrl`), and remote URLs through the same native client.
 */
import { closeSync, openSync, readSync, realpathSync } from "node:fs";
import { mkdir, open, realpath } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Client } from "@libsql/client";
import { toArtifactStoreError } from "../contracts/errors.ts";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import { createPathSyncer } from "../lib/path-syncer.ts";
import { openFileClient } from "./file-client.ts";
import { createLibsqlMetadata } from "./libsql.ts";

export interface LocalMetadataOptions {
  /** A file path, or a `file:`, `libsql:`, `http(s):` or `ws(s):` URL. */
  url: string;
  authToken?: string;
  /** Embedded replica: keep a local copy of this remote database (`url` must be a file). */
  syncUrl?: string;
  /** Seconds between background syncs of an embedded replica. */
  syncIntervalSeconds?: number;
  /**
   * `"strict"` (default): every commit is on disk before it is acknowledged — the WAL is fsynced
   * after each (group) commit, off the event loop. `"relaxed"`: SQLite syncs at checkpoints only
   * (survives a process crash, may lose the last commits on power loss).
   */
  durability?: "strict" | "relaxed";
}

/** Most of a local database file read through a memory map (SQLite lowers it to its own cap). */
const MMAP_BYTES = 2 ** 31;

/** Opens a libSQL client for a file path or URL, creating the file's directory when needed. */
export async function openLibsqlClient(options: LocalMetadataOptions): Promise<Client> {
  const isRemote = /^(libsql|https?|wss?):/i.test(options.url);
  let url = options.url;
  if (!isRemote && !url.startsWith("file:") && url !== ":memory:") {
    await mkdir(dirname(url), { recursive: true });
    url = pathToFileURL(url).href;
  }
  try {
    const path = isRemote || options.syncUrl ? undefined : plainFilePath(url);
    // A plain local file: one connection whose statements stay prepared (see file-client.ts).
    // `@libsql/client` (with its remote protocol clients) is loaded only for the other cases.
    const client = path
      ? openFileClient(path, { timeout: 10_000, walIndex: walIndexReader(path) })
      : (await import("@libsql/client")).createClient({
          url,
          ...(options.authToken ? { authToken: options.authToken } : {}),
          ...(options.syncUrl ? { syncUrl: options.syncUrl } : {}),
          ...(options.syncIntervalSeconds ? { syncInterval: options.syncIntervalSeconds } : {}),
          // Local files: one connection. The native driver is synchronous, so more buy nothing, and
          // per-connection pragmas below then hold for every statement. Remote servers keep the
          // client's default of parallel requests.
          ...(isRemote ? {} : { concurrency: 1 }),
          timeout: 10_000,
        });
    // An embedded replica refuses PRAGMA statements (Sqlite3UnsupportedStatement): its file is
    // managed by the sync protocol, and its writes go to the primary.
    if (!isRemote && url !== ":memory:" && !options.syncUrl) {
      await client.execute("PRAGMA journal_mode = WAL");
      // NORMAL: no fsync inside a commit (it would block the event loop); strict durability
      // comes from the asynchronous WAL fsync after each commit instead (see openLocalMetadata).
      await client.execute("PRAGMA synchronous = NORMAL");
      // Sorts and temporary indexes in memory: reads keep working on a full disk.
      await client.execute("PRAGMA temp_store = MEMORY");
      // Pages read through a memory map of the file (up to SQLite's 2 GiB cap) instead of a
      // pread and a copy each: a search reading rows spread over the file (a rare tag, a
      // touched path) reads hundreds of pages. Writes still go through the WAL as before.
      await client.execute(`PRAGMA mmap_size = ${MMAP_BYTES}`);
    }
    return client;
  } catch (error) {
    throw toArtifactStoreError(error, "E_BACKEND", `[metadata] cannot open ${redact(options.url)}`);
  }
}

/**
 * A metadata repository on a local libSQL file (or any URL the native client supports).
 *
 * @example
 * const metadata = await openLocalMetadata({ url: "/var/lib/artifacts/.store/metadata.db" });
 */
export async function openLocalMetadata(options: LocalMetadataOptions): Promise<MetadataRepository> {
  const client = await openLibsqlClient(options);
  const path = localPath(options);
  // Group fsync of the WAL: a commit is acknowledged only after an fsync that started after it,
  // and every commit waiting at the same time shares that one fsync.
  const syncer =
    path && options.durability !== "relaxed" && !options.syncUrl
      ? createPathSyncer((path) => open(path, "r"))
      : undefined;
  try {
    if (options.syncUrl) await client.sync();
    // SQLite keeps -wal and -shm beside the file a link to the database names (a database moved to another disk).
    const real = syncer && path ? await realpath(path) : undefined;
    const repository = await createLibsqlMetadata({
      client,
      ...(syncer && real ? { afterCommit: () => syncer.sync(`${real}-wal`) } : {}),
    });
    // The -wal and -shm entries themselves.
    if (syncer && real) await syncer.sync(dirname(real));
    if (!path || options.syncUrl) return repository;
    return {
      ...repository,
      async reclaimJournal() {
        // TRUNCATE: the log's file shrinks to nothing once every frame is in the database.
        await client.execute("PRAGMA wal_checkpoint(TRUNCATE)");
      },
    };
  } catch (error) {
    client.close();
    // A remote server is first reached here (a refused token, an unreachable host).
    throw toArtifactStoreError(error, "E_BACKEND", `[metadata] cannot open ${redact(options.url)}`);
  }
}

/** The database file of a local (non-replica) URL, or undefined for remote and in-memory ones. */
function localPath(options: LocalMetadataOptions): string | undefined {
  const { url } = options;
  if (/^(libsql|https?|wss?):/i.test(url) || url === ":memory:" || url.includes(":memory:")) return undefined;
  return url.startsWith("file:") ? fileURLToPath(url.startsWith("file://") ? url : `file://${url.slice(5)}`) : url;
}

/** The path of an absolute `file:` URL without options; anything else goes through `createClient`. */
function plainFilePath(url: string): string | undefined {
  return /^file:(\/(?!\/)|\/\/\/)[^?#]*$/.test(url) ? fileURLToPath(url) : undefined;
}

function redact(url: string): string {
  return url.replace(/(authToken=)[^&]+/i, "$1***");
}

/**
 * The first 96 bytes of a database's `-shm` file (the WAL index header, twice), read with one
 * pread on a descriptor kept open; undefined while there is no such file. The file is the one
 * SQLite uses: beside the database's real path (a `-shm` beside a link to it is none of its).
 */
function walIndexReader(databasePath: string): { read(): Uint8Array | undefined; close(): void } {
  let fd: number | undefined;
  const buffer = new Uint8Array(96);
  return {
    read() {
      try {
        fd ??= openSync(`${realpathSync(databasePath)}-shm`, "r");
        return readSync(fd, buffer, 0, buffer.length, 0) === buffer.length ? buffer : undefined;
      } catch {
        return undefined;
      }
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

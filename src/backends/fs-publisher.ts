/**
 * Publishing a staged file under its name: the folders on the way created and fsynced, the
 * file renamed (or linked, create-only) into place, its directory fsynced — or, for a deferred
 * publish, those fsyncs batched a moment later.
 * The filesystem calls are injected (`node:fs/promises` and `node:path` from fs.ts), so this
 * module stays on Web APIs like everything outside the few runtime-specific files.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { createPathSyncer, type SyncableFile } from "../lib/path-syncer.ts";
import { createDeferredSyncs } from "./fs-deferred-syncs.ts";
import { isNotFound } from "./fs-errors.ts";

/** The filesystem functions publishing uses, with the signatures of `node:fs/promises` and `node:path`. */
export interface PublisherFileSystem {
  mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
  link(existingPath: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(oldPath: string, newPath: string): Promise<void>;
  dirname(path: string): string;
  sep: string;
  /** Opens a file or directory to fsync it. */
  openForSync(path: string): Promise<SyncableFile>;
}

/**
 * Moves staged files to their names under `root`, creating (and fsyncing) the folders on the
 * way; a deferred publish leaves its fsyncs to a round a moment later, which `flush` ends.
 */
export function createPublisher(root: string, fsyncEnabled: boolean, files: PublisherFileSystem) {
  const { mkdir, link, unlink, rename, dirname, sep } = files;
  const directorySyncs = createPathSyncer(files.openForSync);
  const syncDirectory = (path: string): Promise<void> => (fsyncEnabled ? directorySyncs.sync(path) : Promise.resolve());
  const deferred = createDeferredSyncs(directorySyncs);
  /** Directories created by a put whose entries are being fsynced, and that fsync. */
  const unsyncedDirectories = new Map<string, Promise<unknown>>();

  /**
   * Creates the parent directories of `target`; fsyncs each new one's parent so the entry is
   * durable. A put into a directory another put has just created waits for that fsync too:
   * otherwise it could be acknowledged while the directory itself might still vanish.
   */
  const ensureParent = async (target: string, durable: boolean, present: boolean): Promise<void> => {
    const parent = dirname(target);
    // A folder the caller has just seen is not created again (a mkdir is a thread-pool round trip).
    const firstCreated = present ? undefined : await mkdir(parent, { recursive: true });
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

  return {
    /**
     * `folderPresent`: the caller has just seen the target's folder (the link check walked it);
     * when it is gone by the rename, the folder is created as usual.
     */
    async publish(
      stagingPath: string,
      target: string,
      durable: boolean,
      createOnly: boolean,
      folderPresent = false,
    ): Promise<void> {
      // A concurrent delete may remove the freshly created parent between mkdir and rename.
      for (let attempt = 0; ; attempt++) {
        await ensureParent(target, durable, folderPresent && attempt === 0);
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
              `[fs] an object already exists at ${relativeKey(root, target, sep)}; the metadata database does not know it (lost or replaced?): run reindex before uploading`,
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
    },
    /** Ends the pending deferred fsyncs. */
    flush: () => deferred.flush(),
  };
}

function relativeKey(root: string, path: string, sep: string): string {
  return path
    .slice(root.length + 1)
    .split(sep)
    .join("/");
}

/** What a backend holds to publish: see {@link createPublisher}. */
export type Publisher = ReturnType<typeof createPublisher>;

/**
 * Shared fsync of a path: a caller is answered by a sync that started after it asked, and
 * callers asking for the same path meanwhile share that sync (a directory holding many new
 * versions is synced once for all of them, a WAL once for every commit waiting on it).
 * Opening a file is injected (`node:fs/promises`' `open`): this module stays free of `node:*`
 * so the fs backend and the local metadata file use it without importing each other.
 */
export interface PathSyncer {
  sync(path: string): Promise<void>;
}

/** What the syncer needs of an open file handle. */
export interface SyncableFile {
  sync(): Promise<void>;
  close(): Promise<void>;
}

export function createPathSyncer(openForSync: (path: string) => Promise<SyncableFile>): PathSyncer {
  const syncOnce = async (path: string) => {
    const handle = await openForSync(path);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
  const running = new Map<string, Promise<void>>();
  const queued = new Map<string, Promise<void>>();
  const start = (path: string): Promise<void> => {
    const current = syncOnce(path).finally(() => {
      if (running.get(path) === current) running.delete(path);
    });
    running.set(path, current);
    return current;
  };
  return {
    sync(path) {
      const waiting = queued.get(path);
      if (waiting) return waiting;
      const current = running.get(path);
      if (!current) return start(path);
      const next = current
        .catch(() => {})
        .then(() => {
          queued.delete(path);
          return start(path);
        });
      queued.set(path, next);
      return next;
    },
  };
}

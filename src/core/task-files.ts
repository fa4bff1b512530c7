/**
 * The files beside the artifacts for people and other tools: each task's `metadata.json`
 * (rewritten, whole and atomically, with every upload, PATCH and delete in the task; what
 * `reindex` rebuilds the database from) and the root `metadata-index.json` (rewritten at most
 * once per {@link INDEX_DELAY_MS} after changes, so a burst of uploads costs one rewrite).
 */
import { streamFromBytes } from "../codec/streams.ts";
import type { ArtifactRecord, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { Logger } from "../contracts/types.ts";
import { encodeIndex, encodeTaskMetadata, INDEX_KEY, taskMetadataKey } from "./layout.ts";

/** `metadata-index.json` is at most this late after a change (documented in the README). */
export const INDEX_DELAY_MS = 1000;

export interface TaskFiles {
  /** Ids of the versions this process is publishing now (never taken for stalled ones). */
  readonly publishing: Set<number>;
  /** Runs `work` with the task's files to itself (in this process): no two rewrites of one `metadata.json` interleave. */
  withTask<T>(specName: string, taskId: string, work: () => Promise<T>): Promise<T>;
  /** Writes the task's `metadata.json` listing `records` (the task's committed versions), or removes it when there are none. */
  writeTask(specName: string, taskId: string, records: ArtifactRecord[]): Promise<void>;
  /** Rewrites the task's `metadata.json` from the database (after a PATCH or delete). */
  refreshTask(specName: string, taskId: string): Promise<void>;
  /** Schedules a rewrite of `metadata-index.json`. */
  indexChanged(): void;
  /** Writes a scheduled index now (close, tests). */
  flush(): Promise<void>;
}

export function createTaskFiles(options: {
  backend: StorageBackend;
  metadata: MetadataRepository;
  logger: Logger;
  now(): number;
  indexDelayMs?: number;
}): TaskFiles {
  const { backend, metadata, logger } = options;
  const queues = new Map<string, Promise<unknown>>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | undefined;

  const put = async (key: string, bytes: Uint8Array) => {
    await backend.put(key, streamFromBytes(bytes), {
      contentType: "application/json",
      contentLength: bytes.length,
      // The database is the primary copy: these files' fsyncs may be grouped.
      durability: "deferred",
    });
  };

  const writeIndex = async () => {
    timer = undefined;
    try {
      await put(INDEX_KEY, encodeIndex(await metadata.indexSummary(), options.now()));
    } catch (error) {
      logger.warn("could not write metadata-index.json; the next change rewrites it", { error: String(error) });
    }
  };

  const files: TaskFiles = {
    publishing: new Set<number>(),
    withTask(specName, taskId, work) {
      const key = `${specName}/${taskId}`;
      const previous = queues.get(key) ?? Promise.resolve();
      const run = previous.then(work, work);
      const settled = run.catch(() => {});
      queues.set(key, settled);
      void settled.then(() => {
        if (queues.get(key) === settled) queues.delete(key);
      });
      return run;
    },

    async writeTask(specName, taskId, records) {
      const key = taskMetadataKey(specName, taskId);
      if (records.length === 0) {
        await backend.delete(key);
        return;
      }
      const entries = records.map(({ id: _id, storageKey, ...metadata }) => ({ metadata, storageKey }));
      await put(key, encodeTaskMetadata(specName, taskId, entries));
    },

    refreshTask(specName, taskId) {
      return files.withTask(specName, taskId, async () =>
        files.writeTask(specName, taskId, await metadata.listTask(specName, taskId)),
      );
    },

    indexChanged() {
      if (timer) return;
      timer = setTimeout(() => {
        writing = writeIndex();
      }, options.indexDelayMs ?? INDEX_DELAY_MS);
      // A pending rewrite does not keep a process alive; close() writes it.
      (timer as { unref?: () => void }).unref?.();
    },

    async flush() {
      if (timer) {
        clearTimeout(timer);
        await writeIndex();
      }
      await writing;
    },
  };
  return files;
}

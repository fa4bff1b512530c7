/**
 * The files beside the artifacts for people and other tools: each task's `metadata.json`
 * (rewritten, whole and atomically, with every upload, PATCH and delete in the task; what
 * `reindex` rebuilds the database from) and the root `metadata-index.json` (rewritten at most
 * once per {@link INDEX_DELAY_MS} after changes, so a burst of uploads costs one rewrite; on a
 * store so large that a rewrite takes longer than {@link INDEX_DELAY_MS} / {@link INDEX_COST_FACTOR},
 * {@link INDEX_COST_FACTOR} times as long as the last rewrite took, so rewrites never take more
 * than 1/{@link INDEX_COST_FACTOR} of the time whatever the store's size).
 *
 * A task's publishes, deletes and `metadata.json` rewrites take turns ({@link TaskFiles.withTask}):
 * within a process on a queue per task, across the processes sharing one database on the task's
 * lease row (taken with one conditional statement, given back with the commit that ends a
 * publish; a holder that died loses it after {@link LEASE_TTL_MS}, or at once to a process on
 * its host when the runtime's {@link ProcessIdentity} can tell it has ended).
 */
import { streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError, isDiskFull } from "../contracts/errors.ts";
import type { ArtifactRecord, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { Logger, ProcessIdentity } from "../contracts/types.ts";
import { sleep } from "../lib/time.ts";
import { INDEX_KEY, taskMetadataKey } from "./layout.ts";
import { encodeIndex, encodeTaskMetadata } from "./layout-files.ts";
import { createMaterialiser, type DurableRound, materialiseTask, type TaskTurn } from "./task-inline.ts";
import { createUnwrittenInline, type UnwrittenInline } from "./unwritten-inline.ts";

export type { TaskTurn };

/** `metadata-index.json` is at most this late after a change (documented in the README)... */
export const INDEX_DELAY_MS = 1000;
/** ...or this many times as long as its last rewrite took, when that is longer (a large store). */
export const INDEX_COST_FACTOR = 100;
/** ...but never later than this: one rewrite slowed by a stall must not hold the index back for minutes. */
export const INDEX_MAX_DELAY_MS = 30_000;

/**
 * A task's lease lasts this long unless renewed (every quarter of it while work holds it): a
 * holder that died (SIGKILL mid-publish) keeps the task's turn from others at most this long,
 * the same bound as a stalled publish (`STALLED_PUBLISH_MS` in upload-publish.ts).
 */
export const LEASE_TTL_MS = 2_000;

/** How long a turn waits for another process's lease on the task before it gives up (E_CONFLICT). */
const LEASE_WAIT_MS = 60_000;

/** While waiting, whether the holder has ended is asked at most this often. */
const HOLDER_CHECK_MS = 100;

/**
 * Fairness between processes: a process whose turns on one task have followed each other for
 * this long (a queue of uploads or a sweep) leaves the lease free for {@link TURN_GAP_MS} before
 * its next turn, so another process waiting for the task (it tries every 50 ms at most) gets a
 * turn instead of waiting out the whole queue.
 */
export const TURN_STREAK_MS = 1_000;
/** See {@link TURN_STREAK_MS}: longer than a waiter's longest pause between tries. */
export const TURN_GAP_MS = 100;

/** Without a runtime that can tell: a random owner id, a holder's end never known (waited out). */
export const anonymousIdentity: ProcessIdentity = {
  ownerId: () => crypto.randomUUID(),
  ended: () => false,
};

export interface TaskFiles {
  /** Ids of the versions this process is publishing now (never taken for stalled ones). */
  readonly publishing: Set<number>;
  /**
   * Runs `work` with the task's files to itself, in this process and in every other process on
   * the same database: no publish, delete or rewrite of one `metadata.json` interleaves.
   */
  withTask<T>(specName: string, taskId: string, work: (turn: TaskTurn) => Promise<T>): Promise<T>;
  /** Writes the task's `metadata.json` listing `records` (the task's committed versions), or removes it when there are none. */
  writeTask(specName: string, taskId: string, records: ArtifactRecord[]): Promise<void>;
  /** Rewrites the task's `metadata.json` from the database (after a PATCH or delete). */
  refreshTask(specName: string, taskId: string): Promise<void>;
  /** Schedules a rewrite of `metadata-index.json`. */
  indexChanged(): void;
  /** Writes a scheduled index now (close, tests). */
  flush(): Promise<void>;
  /**
   * The task has versions committed inline (see `task-inline.ts`): a background pass a moment
   * later takes the task's turn, which materialises them.
   */
  materialiseSoon(specName: string, taskId: string): void;
  /** Materialises every inline version of the database now (open, gc, close), waiting for a pass under way. */
  drainInline(): Promise<void>;
  /** Versions this process committed inline and has not written out yet (unwritten-inline.ts). */
  readonly unwritten: UnwrittenInline;
}

/** Writes one of these JSON files. The database is the primary copy: their fsyncs may be grouped. */
async function putJson(backend: StorageBackend, key: string, bytes: Uint8Array): Promise<void> {
  await backend.put(key, streamFromBytes(bytes), {
    contentType: "application/json",
    contentLength: bytes.length,
    durability: "deferred",
  });
}

export function createTaskFiles(options: {
  backend: StorageBackend;
  metadata: MetadataRepository;
  logger: Logger;
  now(): number;
  indexDelayMs?: number;
  indexMaxDelayMs?: number;
  /** How long the background pass waits after a version is committed inline (see task-inline.ts). */
  materialiseDelayMs?: number;
  identity?: ProcessIdentity;
}): TaskFiles {
  const { backend, metadata, logger } = options;
  /** Per task, this process's queue of turns and since when they have followed each other. */
  const queues = new Map<string, { settled: Promise<unknown>; streak: { since: number } }>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | undefined;
  const { leased } = createTaskLeases(metadata, logger, options.identity ?? anonymousIdentity);

  const put = (key: string, bytes: Uint8Array) => putJson(backend, key, bytes);

  /** How long the last successful rewrite of the index took (its query, encoding and write). */
  let lastIndexMs = 0;
  const writeIndex = async () => {
    timer = undefined;
    const started = Date.now();
    try {
      await put(INDEX_KEY, encodeIndex(await metadata.indexSummary(), options.now()));
      lastIndexMs = Date.now() - started;
    } catch (error) {
      // A failure (a busy database waited out, a backend error) says nothing of the store's size.
      logger.warn("could not write metadata-index.json; the next change rewrites it", { error: String(error) });
    }
  };

  /** A turn of this process on the task: after the turns queued before it, under the task's lease. */
  const queuedTurn = <T>(specName: string, taskId: string, work: (turn: TaskTurn) => Promise<T>): Promise<T> => {
    const key = `${specName}/${taskId}`;
    const queued = queues.get(key);
    const streak = queued?.streak ?? { since: Date.now() };
    const turn = async () => {
      if (Date.now() - streak.since > TURN_STREAK_MS) {
        await sleep(TURN_GAP_MS);
        streak.since = Date.now();
      }
      return leased(specName, taskId, work);
    };
    const run = (queued?.settled ?? Promise.resolve()).then(turn, turn);
    const settled = run.catch(() => {});
    queues.set(key, { settled, streak });
    void settled.then(() => {
      if (queues.get(key)?.settled === settled) queues.delete(key);
    });
    return run;
  };
  /**
   * Writes the task's inline versions at their keys (see task-inline.ts); `turn`: the turn ends
   * with it; `durable`: the fsync round of a background pass it shares.
   */
  const materialise = (specName: string, taskId: string, turn?: TaskTurn, durable?: DurableRound) =>
    materialiseTask(
      { backend, metadata, writeTask: (...args) => files.writeTask(...args), unwritten: files.unwritten },
      specName,
      taskId,
      turn,
      durable,
    );

  const files: TaskFiles = {
    publishing: new Set<number>(),
    unwritten: createUnwrittenInline(),
    withTask(specName, taskId, work) {
      return queuedTurn(specName, taskId, async (held) => {
        // First thing in every turn: the task's files as the database says (see task-inline.ts).
        // A failure (a full disk) does not stop the turn's own work: inline bytes are written
        // at their row's key as it is when they are written, whatever the work changes.
        await materialise(specName, taskId).catch((error: unknown) => {
          logger.warn("could not write a task's inline versions at their keys; a later turn retries", {
            task: `${specName}/${taskId}`,
            error: String(error),
          });
        });
        return work(held);
      });
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
      const least = options.indexDelayMs ?? INDEX_DELAY_MS;
      const most = Math.max(least, options.indexMaxDelayMs ?? INDEX_MAX_DELAY_MS);
      const delay = Math.min(most, Math.max(least, lastIndexMs * INDEX_COST_FACTOR));
      timer = setTimeout(() => {
        writing = writeIndex();
      }, delay);
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

    // Inline versions: a background pass takes each task's turn, which materialises it.
    // A turn that only materialises gives the lease back with its last commit.
    ...createMaterialiser(
      (specName, taskId, durable) =>
        queuedTurn(specName, taskId, (turn) => materialise(specName, taskId, turn, durable)),
      metadata,
      logger,
      async () => backend.syncDeferred?.(),
      options.materialiseDelayMs,
    ),
  };
  return files;
}

/** A task's lease across processes, for {@link TaskFiles.withTask}: a turn of this process under it. */
function createTaskLeases(metadata: MetadataRepository, logger: Logger, identity: ProcessIdentity) {
  const owner = identity.ownerId();
  const task = (specName: string, taskId: string) => `${specName}/${taskId}`;

  /** The holder of the task's lease when it is a process of this host that has ended. */
  const endedHolder = async (specName: string, taskId: string): Promise<string | undefined> => {
    const holder = await metadata.taskLeaseHolder(specName, taskId);
    return holder !== null && holder !== owner && identity.ended(holder) ? holder : undefined;
  };

  /** Waits for the lease: "held", or "alone" on a full disk where no lease row fits. */
  const take = async (specName: string, taskId: string): Promise<"held" | "alone"> => {
    const started = Date.now();
    let checked = 0;
    for (let attempt = 0, failures = 0; ; attempt++) {
      try {
        if (await metadata.takeTaskLease(specName, taskId, owner, LEASE_TTL_MS)) return "held";
        if (Date.now() - checked >= HOLDER_CHECK_MS) {
          checked = Date.now();
          const ended = await endedHolder(specName, taskId);
          if (ended && (await metadata.takeTaskLease(specName, taskId, owner, LEASE_TTL_MS, ended))) {
            logger.info("took over a task's lease from a process that has ended", {
              task: task(specName, taskId),
              holder: ended,
            });
            return "held";
          }
        }
      } catch (error) {
        // No room for the lease row on a full disk, where deletes must still free space: the
        // turn is then this process's alone (see the README).
        if (isDiskFull(error)) return "alone";
        // A busy database or a lost answer: taking is idempotent for its owner, so it is tried again.
        if (++failures > 3) throw error;
      }
      if (Date.now() - started > LEASE_WAIT_MS) {
        throw new ArtifactStoreError(
          "E_CONFLICT",
          `another process has held ${task(specName, taskId)} for over ${LEASE_WAIT_MS / 1000} s; retry later`,
        );
      }
      await sleep(Math.min(50, 2 + attempt * 2));
    }
  };

  /** Waits for the task's lease, runs `work`, gives the lease back (renewed meanwhile if work is long). */
  const leased = async <T>(specName: string, taskId: string, work: (turn: TaskTurn) => Promise<T>): Promise<T> => {
    if ((await take(specName, taskId)) === "alone") return work({ owner, released() {} });
    let held = true;
    let renewed = false;
    let renewing: Promise<unknown> | undefined;
    const renew = setInterval(() => {
      if (!held) return;
      renewed = true;
      renewing = metadata.takeTaskLease(specName, taskId, owner, LEASE_TTL_MS).catch((error: unknown) => {
        logger.warn("could not renew a task's lease", { task: task(specName, taskId), error: String(error) });
      });
    }, LEASE_TTL_MS / 4);
    (renew as { unref?: () => void }).unref?.();
    try {
      return await work({
        owner,
        released() {
          held = false;
        },
      });
    } finally {
      clearInterval(renew);
      await renewing;
      // A renewal may have raced the commit that gave the lease back: then give it back again.
      if (held || renewed) {
        await metadata.releaseTaskLease(specName, taskId, owner).catch((error: unknown) => {
          logger.warn("could not give a task's lease back; it expires", {
            task: task(specName, taskId),
            error: String(error),
          });
        });
      }
    }
  };
  return { leased };
}

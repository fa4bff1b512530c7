import type { PathSyncer } from "../lib/path-syncer.ts";
import { isNotDirectory, isNotFound } from "./fs-errors.ts";

export interface DeferredSyncs {
  /** Queues `path` for the next round, which starts `delayMs` after the first path queued. */
  add(path: string): void;
  /**
   * Syncs what is pending now in a round that starts after this call (at once, or when the round
   * running now ends: flushes asked for meanwhile share it); rejects with the first
   * fsync that ever failed (a round the timer started included), as every later flush does, or
   * while a path could not be opened for its fsync (retried in each round until it is synced).
   */
  flush(): Promise<void>;
}

/**
 * Paths written with `durability: "deferred"` (sidecars, materialised versions), fsynced together a
 * moment later. One round runs at a time: flushes asked for while one runs share the next, which
 * starts when it ends and takes every path queued by then (the tasks of a materialising pass end
 * their writes a little apart: they share a round or two, not one each, and a folder holding
 * several of their files is synced once per round, not once per task).
 */
export function createDeferredSyncs(syncer: PathSyncer, delayMs = 250): DeferredSyncs {
  let pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The round running now, and the one queued to start after it (shared by every flush asking meanwhile). */
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  /**
   * A failed fsync, kept for good once seen: after it the kernel may answer the next fsync of the
   * same file with success though its pages were lost, and a flush cannot tell whose writes a
   * round held (concurrent flushes, a round the timer started), so every later flush rejects
   * with it. What relies on a flush (the materialiser dropping inline bytes) then keeps its copy.
   */
  let failure: unknown;
  /**
   * Paths that could not be opened for their fsync (too many open files…): nothing was lost, they
   * are tried again in every round, and every flush rejects until each has been synced.
   */
  const unopened = new Map<string, unknown>();
  /** Syncs every path queued now; settles (never rejects) once each has been synced or failed. */
  const round = async (): Promise<void> => {
    const paths = new Set([...pending, ...unopened.keys()]);
    pending = new Set();
    await Promise.all(
      [...paths].map((path) =>
        syncer.sync(path).then(
          () => void unopened.delete(path),
          (error: unknown) => {
            // A path deleted meanwhile has nothing left to sync.
            if (isNotFound(error) || isNotDirectory(error)) unopened.delete(path);
            else if ((error as { syscall?: string }).syscall === "open") unopened.set(path, error);
            else failure ??= error;
          },
        ),
      ),
    );
  };
  const start = (): Promise<void> => {
    const current = round().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  };
  /** A round that starts after this call: now when none runs, else the one queued after it. */
  const nextRound = (): Promise<void> => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (!running) return start();
    queued ??= running.then(() => {
      queued = undefined;
      return start();
    });
    return queued;
  };
  return {
    add(path: string) {
      pending.add(path);
      if (timer === undefined && !queued) {
        timer = setTimeout(() => void nextRound(), delayMs);
        timer.unref?.();
      }
    },
    async flush() {
      await nextRound();
      if (failure !== undefined) throw failure;
      for (const error of unopened.values()) throw error;
    },
  };
}

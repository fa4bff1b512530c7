import type { PathSyncer } from "../lib/path-syncer.ts";
import { isNotDirectory, isNotFound } from "./fs-errors.ts";

export interface DeferredSyncs {
  /** Queues `path` for the next round, which starts `delayMs` after the first path queued. */
  add(path: string): void;
  /**
   * Syncs what is pending now and waits for rounds already running; rejects with the first
   * fsync that ever failed (a round the timer started included), as every later flush does, or
   * while a path could not be opened for its fsync (retried in each round until it is synced).
   */
  flush(): Promise<void>;
}

/** Paths written with `durability: "deferred"` (sidecars, materialised versions), fsynced together a moment later. */
export function createDeferredSyncs(syncer: PathSyncer, delayMs = 250): DeferredSyncs {
  let pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<unknown> = Promise.resolve();
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
  const round = () => {
    timer = undefined;
    const paths = new Set([...pending, ...unopened.keys()]);
    pending = new Set();
    const synced = Promise.all(
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
    // Settled to nothing: Promise.all's value (the previous one's value, nested) grew with every round.
    flushing = Promise.all([flushing, synced]).then(() => undefined);
    return synced;
  };
  return {
    add(path: string) {
      pending.add(path);
      if (timer === undefined) {
        timer = setTimeout(() => void round(), delayMs);
        timer.unref?.();
      }
    },
    async flush() {
      if (timer !== undefined) clearTimeout(timer);
      await round();
      await flushing;
      if (failure !== undefined) throw failure;
      for (const error of unopened.values()) throw error;
    },
  };
}

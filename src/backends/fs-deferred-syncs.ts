import type { PathSyncer } from "../lib/path-syncer.ts";
import { isNotDirectory, isNotFound } from "./fs-errors.ts";

export interface DeferredSyncs {
  /** Queues `path` for the next round, which starts `delayMs` after the first path queued. */
  add(path: string): void;
  /**
   * Syncs what is pending now and waits for rounds already running; rejects with the first
   * fsync that failed since the last flush that did (a round the timer started included).
   */
  flush(): Promise<void>;
}

/** Paths written with `durability: "deferred"` (sidecars, materialised versions), fsynced together a moment later. */
export function createDeferredSyncs(syncer: PathSyncer, delayMs = 250): DeferredSyncs {
  let pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<unknown> = Promise.resolve();
  /**
   * Kept until a flush reports it: after a failed fsync the kernel may answer the next one of the
   * same file with success though its pages were lost, so a failure seen once must not be missed.
   */
  let failure: unknown;
  const round = () => {
    timer = undefined;
    const paths = [...pending];
    pending = new Set();
    const synced = Promise.all(
      paths.map((path) =>
        syncer.sync(path).catch((error: unknown) => {
          // A path deleted meanwhile has nothing left to sync.
          if (!isNotFound(error) && !isNotDirectory(error)) failure ??= error;
        }),
      ),
    );
    flushing = Promise.all([flushing, synced]);
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
      if (failure !== undefined) {
        const error = failure;
        failure = undefined;
        throw error;
      }
    },
  };
}

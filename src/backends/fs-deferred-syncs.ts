import type { PathSyncer } from "../lib/path-syncer.ts";

export interface DeferredSyncs {
  /** Queues `path` for the next round, which starts `delayMs` after the first path queued. */
  add(path: string): void;
  /** Syncs what is pending now and waits for rounds already running. */
  flush(): Promise<void>;
}

/** Paths written with `durability: "deferred"` (sidecars), fsynced together a moment later. */
export function createDeferredSyncs(syncer: PathSyncer, delayMs = 250): DeferredSyncs {
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
    async flush() {
      if (timer !== undefined) clearTimeout(timer);
      await flush();
      await flushing;
    },
  };
}

/**
 * Last-access times, written in batches: downloads are frequent and a write per download would
 * cost a metadata commit each. Ids seen within `flushMs` go out in one UPDATE.
 */
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import type { Logger } from "../contracts/types.ts";

export interface AccessLog {
  record(id: number): void;
  /** Writes what is pending now (on close, and in tests). */
  flush(): Promise<void>;
}

/**
 * @param keepAlive told of each batch when it is scheduled, with a promise that settles once the
 *   batch is written: a platform that drops timers when the response ends (Workers) passes it to
 *   the request's `waitUntil`.
 */
export function createAccessLog(
  metadata: MetadataRepository,
  logger: Logger,
  now: () => number,
  flushMs = 2000,
  keepAlive?: (written: Promise<void>) => void,
): AccessLog {
  let pending = new Set<number>();
  let scheduled: { timer: ReturnType<typeof setTimeout>; done: () => void } | undefined;
  const flush = async () => {
    const batch = scheduled;
    scheduled = undefined;
    if (batch) clearTimeout(batch.timer);
    try {
      if (pending.size === 0) return;
      const ids = [...pending];
      pending = new Set();
      await metadata.touch(ids, now()).catch((error: unknown) => {
        logger.debug("could not record last access", { versions: ids.length, error: String(error) });
      });
    } finally {
      batch?.done();
    }
  };
  return {
    record(id) {
      pending.add(id);
      if (scheduled !== undefined) return;
      let done = () => {};
      const written = new Promise<void>((resolve) => {
        done = resolve;
      });
      const timer = setTimeout(() => void flush(), flushMs);
      // A pending write must not keep a finished process alive.
      (timer as { unref?: () => void }).unref?.();
      scheduled = { timer, done };
      keepAlive?.(written);
    },
    flush,
  };
}

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

export function createAccessLog(
  metadata: MetadataRepository,
  logger: Logger,
  now: () => number,
  flushMs = 2000,
): AccessLog {
  let pending = new Set<number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = async () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.size === 0) return;
    const ids = [...pending];
    pending = new Set();
    await metadata.touch(ids, now()).catch((error: unknown) => {
      logger.debug("could not record last access", { versions: ids.length, error: String(error) });
    });
  };
  return {
    record(id) {
      pending.add(id);
      if (timer === undefined) {
        timer = setTimeout(() => void flush(), flushMs);
        // A pending write must not keep a finished process alive.
        (timer as { unref?: () => void }).unref?.();
      }
    },
    flush,
  };
}

/**
 * Gives memory back around large uploads. A large body leaves tens of MiB of garbage behind it
 * (the request's chunks, gzip output, decoded text) that the collector frees only once its
 * heap has grown again; a server that then sits idle keeps that memory for hours. While a large
 * upload runs, a full collection every `intervalMs` bounds its garbage; when the last one ends,
 * one more collection returns the rest.
 */

/** Bodies at least this long (or of unknown length) count as large. */
const LARGE_BODY_BYTES = 4 * 1024 * 1024;
const INTERVAL_MS = 250;
/** The collection after the last large upload waits this long for another to start. */
const SETTLE_MS = 100;

declare const Bun: { gc(force: boolean): void } | undefined;

/** The runtime's full, synchronous collection: Bun's, or Node's when started with --expose-gc. */
export function runtimeCollector(): (() => void) | undefined {
  if (typeof Bun !== "undefined") return () => Bun?.gc(true);
  const exposed = (globalThis as { gc?: () => void }).gc;
  return typeof exposed === "function" ? () => exposed() : undefined;
}

export interface MemoryReleaser {
  /** Call when a request starts; call what it returns when its handler has finished. */
  track(request: Request): () => void;
  stop(): void;
}

export function createMemoryReleaser(collect: (() => void) | undefined = runtimeCollector()): MemoryReleaser {
  let active = 0;
  let interval: ReturnType<typeof setInterval> | undefined;
  let settle: ReturnType<typeof setTimeout> | undefined;
  const none = () => {};
  return {
    track(request) {
      if (!collect || !isLarge(request)) return none;
      if (settle) clearTimeout(settle);
      settle = undefined;
      if (active++ === 0) {
        interval = setInterval(collect, INTERVAL_MS);
        (interval as { unref?: () => void }).unref?.();
      }
      return () => {
        if (--active > 0) return;
        clearInterval(interval);
        interval = undefined;
        settle = setTimeout(collect, SETTLE_MS);
        (settle as { unref?: () => void }).unref?.();
      };
    },
    stop() {
      clearInterval(interval);
      clearTimeout(settle);
    },
  };
}

function isLarge(request: Request): boolean {
  if (request.method !== "PUT" && request.method !== "POST") return false;
  const length = request.headers.get("content-length");
  return length === null ? request.body !== null : Number(length) >= LARGE_BODY_BYTES;
}

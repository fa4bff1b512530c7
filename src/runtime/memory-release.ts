/**
 * Gives memory back around large uploads. A large body leaves tens of MiB of garbage behind it
 * (the request's chunks, gzip output, decoded text) that the collector frees only once its
 * heap has grown again; a server that then sits idle keeps that memory for hours. While a large
 * upload runs, a full collection every `intervalMs` bounds its garbage; when the last one ends,
 * one more collection returns the rest. Where the runtime has one (Bun), a young-generation
 * collection runs far more often in between: a body's chunks, the text decoded for scanning and
 * extraction and the gzip output all die young, ~5 bytes allocated per byte uploaded, and a young
 * collection (~0.2 ms) frees them before they pile up (64 MiB upload peak: ~10 MiB less).
 */

/** Bodies at least this long (or of unknown length) count as large. */
const LARGE_BODY_BYTES = 4 * 1024 * 1024;
const INTERVAL_MS = 250;
const YOUNG_INTERVAL_MS = 20;
/** The collection after the last large upload waits this long for another to start. */
const SETTLE_MS = 100;

declare const Bun: { gc(force: boolean): void } | undefined;

/** A runtime's synchronous collections: a full one, and a young-generation one when it has it. */
export interface Collector {
  full(): void;
  young?: () => void;
}

/** Bun's collections (young: `bun:jsc`'s edenGC), or Node's full one when started with --expose-gc. */
export function runtimeCollector(): Collector | undefined {
  if (typeof Bun !== "undefined") {
    // Bun only: `import.meta.require` loads its built-in module synchronously.
    const load = (import.meta as { require?: (id: string) => { edenGC?: () => void } }).require;
    return { full: () => Bun?.gc(true), young: load?.("bun:jsc").edenGC };
  }
  const exposed = (globalThis as { gc?: () => void }).gc;
  return typeof exposed === "function" ? { full: () => exposed() } : undefined;
}

export interface MemoryReleaser {
  /** Call when a request starts; call what it returns when its handler has finished. */
  track(request: Request): () => void;
  stop(): void;
}

export function createMemoryReleaser(collector: Collector | undefined = runtimeCollector()): MemoryReleaser {
  const collect = collector && (() => collector.full());
  let active = 0;
  let interval: ReturnType<typeof setInterval> | undefined;
  let young: ReturnType<typeof setInterval> | undefined;
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
        if (collector?.young) {
          young = setInterval(collector.young, YOUNG_INTERVAL_MS);
          (young as { unref?: () => void }).unref?.();
        }
      }
      return () => {
        if (--active > 0) return;
        clearInterval(interval);
        clearInterval(young);
        interval = undefined;
        young = undefined;
        settle = setTimeout(collect, SETTLE_MS);
        (settle as { unref?: () => void }).unref?.();
      };
    },
    stop() {
      clearInterval(interval);
      clearInterval(young);
      clearTimeout(settle);
    },
  };
}

function isLarge(request: Request): boolean {
  if (request.method !== "PUT" && request.method !== "POST") return false;
  const length = request.headers.get("content-length");
  return length === null ? request.body !== null : Number(length) >= LARGE_BODY_BYTES;
}

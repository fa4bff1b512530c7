/**
 * Gives memory back around large uploads. A large body leaves tens of MiB of garbage behind it
 * (the request's chunks, gzip output, decoded text) that the collector frees only once its
 * heap has grown again; a server that then sits idle keeps that memory for hours. While a large
 * upload runs, a full collection every `intervalMs` bounds its garbage; when the last one ends,
 * one more collection returns the rest. Where the runtime has one (Bun), a young-generation
 * collection runs far more often in between: a body's chunks, the text decoded for scanning and
 * extraction and the gzip output all die young, ~5 bytes allocated per byte uploaded, and a young
 * collection (~0.2 ms) frees them before they pile up (64 MiB upload peak: ~10 MiB less).
 *
 * The collection after the last large upload also gives back what the runtime keeps for speed
 * where it can (Bun: its compiled code and its allocator's free pages, `Bun.shrink()`): after the
 * small requests of a warm-up, a full collection leaves a Bun server ~15 MiB above what this
 * one does. Code dropped is compiled again as requests come, so this runs at most once a minute.
 */

/** Bodies at least this long (or of unknown length) count as large. */
const LARGE_BODY_BYTES = 4 * 1024 * 1024;
const INTERVAL_MS = 250;
const YOUNG_INTERVAL_MS = 20;
/** The collection after the last large upload waits this long for another to start. */
const SETTLE_MS = 100;
/** At most one `release` this often; other uploads end with a full collection. */
export const RELEASE_INTERVAL_MS = 60_000;

declare const Bun: { gc(force: boolean): void; shrink?: () => void } | undefined;

/** A runtime's collections: a full one, and a young-generation one and a release when it has them. */
export interface Collector {
  full(): void;
  young?: () => void;
  /** A full collection that also gives back compiled code and free allocator pages. */
  release?: () => void;
}

/** Bun's collections (young: `bun:jsc`'s edenGC), or Node's full one when started with --expose-gc. */
export function runtimeCollector(): Collector | undefined {
  if (typeof Bun !== "undefined") {
    // Bun only: `import.meta.require` loads its built-in module synchronously.
    const load = (import.meta as { require?: (id: string) => { edenGC?: () => void } }).require;
    const shrink = Bun.shrink;
    return {
      full: () => Bun?.gc(true),
      young: load?.("bun:jsc").edenGC,
      // `Bun.shrink` drops compiled code and frees the allocator's pages once the thread is idle.
      release:
        typeof shrink === "function"
          ? () => {
              Bun?.gc(true);
              shrink();
            }
          : undefined,
    };
  }
  const exposed = (globalThis as { gc?: () => void }).gc;
  return typeof exposed === "function" ? { full: () => exposed() } : undefined;
}

export interface MemoryReleaser {
  /** Call when a request starts; call what it returns when its handler has finished. */
  track(request: Request): () => void;
  stop(): void;
}

export function createMemoryReleaser(
  collector: Collector | undefined = runtimeCollector(),
  releaseIntervalMs = RELEASE_INTERVAL_MS,
): MemoryReleaser {
  const collect = collector && (() => collector.full());
  let lastRelease = Number.NEGATIVE_INFINITY;
  const settleCollect = () => {
    const now = Date.now();
    if (!collector?.release || now - lastRelease < releaseIntervalMs) return collector?.full();
    lastRelease = now;
    collector.release();
  };
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
        settle = setTimeout(settleCollect, SETTLE_MS);
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

/** Small statistics and timing helpers shared by every benchmark section. */

export const MIB = 1024 * 1024;

/** Value at quantile `q` (0–1) of `values`, nearest-rank on a sorted copy; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Megabytes (10^6 bytes) per second. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}

/** Runs `action` and returns its result with the elapsed seconds. */
export async function timed<T>(action: () => Promise<T> | T): Promise<{ seconds: number; result: T }> {
  const started = performance.now();
  const result = await action();
  return { seconds: (performance.now() - started) / 1000, result };
}

/** Median seconds of `repetitions` runs of `action` (each run timed on its own). */
export async function medianSeconds(repetitions: number, action: () => Promise<unknown> | unknown): Promise<number> {
  const runs: number[] = [];
  for (let index = 0; index < repetitions; index++) runs.push((await timed(action)).seconds);
  return median(runs);
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so seeded data is the same every run. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

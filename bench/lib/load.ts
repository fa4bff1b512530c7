/** Closed-loop load: `concurrency` callers each issue their next request when the last one ends. */
import { quantile } from "./stats.ts";

export interface LoadResult {
  operations: number;
  failures: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The first failure, to say what went wrong. */
  firstFailure?: string;
}

/**
 * Runs `operation(index)` for indexes 0..count-1 with `concurrency` in flight and times each
 * one; after `maxSeconds` no new operation starts (so a slow store cannot stall the suite).
 */
export async function runLoad(
  count: number,
  concurrency: number,
  operation: (index: number) => Promise<void>,
  maxSeconds = Number.POSITIVE_INFINITY,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let next = 0;
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count && performance.now() < deadline) {
        const index = next++;
        const begin = performance.now();
        try {
          await operation(index);
          latencies.push(performance.now() - begin);
        } catch (error) {
          failures++;
          firstFailure ??= String(error);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    operations: latencies.length,
    failures,
    seconds,
    perSecond: latencies.length / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    ...(firstFailure ? { firstFailure } : {}),
  };
}

/** `p50 0.81 ms · p99 3.2 ms` */
export function describeLatency(result: { p50Ms: number; p99Ms: number }): string {
  return `p50 ${result.p50Ms.toFixed(2)} ms · p99 ${result.p99Ms.toFixed(2)} ms`;
}

/** Throws with the response text unless the status is `expected`; drains the body either way. */
export async function expectStatus(response: Response, expected: number): Promise<void> {
  if (response.status === expected) {
    await response.arrayBuffer();
    return;
  }
  throw new Error(`HTTP ${response.status} (expected ${expected}): ${(await response.text()).slice(0, 300)}`);
}

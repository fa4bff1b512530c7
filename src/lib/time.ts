/** Milliseconds in a day: retention days become expiry times with it. */
export const DAY_MS = 86_400_000;

/** When a version created at `createdAt` (ms) expires under `retentionDays`; null keeps it. */
export function expiryFor(createdAt: number, retentionDays: number | null): number | null {
  return retentionDays === null ? null : createdAt + retentionDays * DAY_MS;
}

/** One Date reused by {@link isoTime}: formatting allocates only the string. */
const scratch = new Date(0);

/**
 * `new Date(ms).toISOString()` without a Date per call: a search formats two or three times
 * for each of its results. Throws RangeError for an invalid time, as toISOString does.
 */
export function isoTime(ms: number): string {
  scratch.setTime(ms);
  return scratch.toISOString();
}

/** Resolves after `ms` (at once for 0 or less); rejects with the signal's reason if it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

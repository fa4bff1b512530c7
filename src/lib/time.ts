/** Milliseconds in a day: retention days become expiry times with it. */
export const DAY_MS = 86_400_000;

/** When a version created at `createdAt` (ms) expires under `retentionDays`; null keeps it. */
export function expiryFor(createdAt: number, retentionDays: number | null): number | null {
  return retentionDays === null ? null : createdAt + retentionDays * DAY_MS;
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

/** Milliseconds in a day: retention days become expiry times with it. */
export const DAY_MS = 86_400_000;

/** When a version created at `createdAt` (ms) expires under `retentionDays`; null keeps it. */
export function expiryFor(createdAt: number, retentionDays: number | null): number | null {
  return retentionDays === null ? null : createdAt + retentionDays * DAY_MS;
}

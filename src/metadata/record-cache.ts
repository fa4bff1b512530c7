/**
 * Committed rows kept for the reads every download makes (the version a ref names, and the
 * confirmation that a row still names the key opened), valid while the database's change stamp
 * stays the same. The stamp moves with any commit by any connection (see `file-client.ts`), so a
 * delete, replace, pin or publish by this store, another store on the same file or another
 * process is seen by the next read. Only local files have a stamp; remote databases read each time.
 */
import type { ArtifactRecord, MetadataRepository } from "../contracts/metadata-repository.ts";

type CachedReads = Pick<MetadataRepository, "findVersion" | "confirmRead">;

/** Refs and confirmations kept; the least recently used goes first. */
const CACHE_ENTRIES = 4096;

/**
 * @example
 * const reads = cacheCommittedReads({ findVersion, confirmRead }, () => client.changeStamp());
 */
export function cacheCommittedReads(queries: CachedReads, changeStamp: () => string): CachedReads {
  const versions = boundedMap<{ stamp: string; record: ArtifactRecord | null }>();
  const confirmed = boundedMap<string>();
  return {
    async findVersion(ref) {
      const key = `${ref.specName}\n${ref.taskId}\n${ref.type}\n${ref.version ?? ""}`;
      // Read before the query: a commit in between only makes the kept row newer than its stamp,
      // and then the stamp has moved on, so it is never served.
      const stamp = changeStamp();
      const hit = versions.get(key);
      if (hit && hit.stamp === stamp) return hit.record && copyOf(hit.record);
      const record = await queries.findVersion(ref);
      versions.set(key, { stamp, record: record && copyOf(record) });
      return record;
    },
    async confirmRead(record) {
      const key = `${record.id}\n${record.storageKey}`;
      const stamp = changeStamp();
      if (confirmed.get(key) === stamp) return true;
      const confirmedNow = await queries.confirmRead(record);
      if (confirmedNow) confirmed.set(key, stamp);
      return confirmedNow;
    },
  };
}

/** Callers may set computed fields on what they get: each gets its own copy. */
function copyOf(record: ArtifactRecord): ArtifactRecord {
  return { ...record, tags: [...record.tags] };
}

function boundedMap<T>() {
  const map = new Map<string, T>();
  return {
    get(key: string): T | undefined {
      const value = map.get(key);
      if (value !== undefined) {
        map.delete(key);
        map.set(key, value);
      }
      return value;
    },
    set(key: string, value: T): void {
      map.delete(key);
      map.set(key, value);
      if (map.size > CACHE_ENTRIES) map.delete(map.keys().next().value as string);
    },
  };
}

/**
 * Committed rows kept for the reads every download makes (the version a ref names, and the
 * confirmation that a row still names the key opened), valid while the database's change stamp
 * stays the same. The stamp moves with any commit by any connection (see `file-client.ts`), so a
 * delete, replace, pin or publish by this store, another store on the same file or another
 * process is seen by the next read. Only local files have a stamp; remote databases read each time.
 */
import type { ArtifactRecord, ArtifactRow, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import type { ReadVersion } from "./libsql-lookup.ts";

type CachedReads = Pick<MetadataRepository, "findVersion" | "findRow" | "confirmRead">;
type Queries = Pick<MetadataRepository, "confirmRead"> & {
  readVersion: ReadVersion<ArtifactRecord>;
  readRow: ReadVersion<ArtifactRow>;
};

/** Refs and confirmations kept; when full, the least recently used quarter goes. */
const CACHE_ENTRIES = 4096;

/**
 * @example
 * const reads = cacheCommittedReads({ readVersion, readRow, confirmRead }, () => client.changeStamp());
 */
export function cacheCommittedReads(queries: Queries, changeStamp: () => string): CachedReads {
  const confirmed = boundedMap<string>();
  // Full records and bare rows are kept apart: a row is never served to a caller of `findVersion`.
  const cachedLookup = <R extends ArtifactRow>(read: ReadVersion<R>, copy: (record: R) => R) => {
    const versions = boundedMap<{ stamp: string; record: R | null }>();
    return async (ref: ArtifactRef): Promise<R | null> => {
      const key = `${ref.specName}\n${ref.taskId}\n${ref.type}\n${ref.version ?? ""}`;
      // Read before the query: a commit in between only makes the kept row newer than its stamp,
      // and then the stamp has moved on, so it is never served.
      const stamp = changeStamp();
      const hit = versions.get(key);
      if (hit && hit.stamp === stamp) return hit.record && copy(hit.record);
      const { record, quiet } = await read(ref);
      versions.set(key, { stamp, record: record && copy(record) });
      // The lookup answered the confirmation too: it holds while nothing is committed, so a first
      // read runs one query. A replacement commits its publishing mark before it moves bytes onto
      // the seed path, so a read that opened those bytes finds the stamp moved and asks again.
      if (record && quiet) confirmed.set(confirmationKey(record), stamp);
      return record;
    };
  };
  return {
    findVersion: cachedLookup(queries.readVersion, copyOf),
    findRow: cachedLookup(queries.readRow, (row) => ({ ...row })),
    async confirmRead(record) {
      const key = confirmationKey(record);
      const stamp = changeStamp();
      if (confirmed.get(key) === stamp) return true;
      const confirmedNow = await queries.confirmRead(record);
      if (confirmedNow) confirmed.set(key, stamp);
      return confirmedNow;
    },
  };
}

function confirmationKey(record: ArtifactRow): string {
  return `${record.id}\n${record.storageKey}`;
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
      if (map.size > CACHE_ENTRIES) {
        // One walk for a quarter: a new iterator per eviction steps over every entry deleted
        // before it, which was ~3 µs a read of a new key once the map was full.
        const oldest = map.keys();
        for (let evicted = 0; evicted < CACHE_ENTRIES / 4; evicted++) map.delete(oldest.next().value as string);
      }
    },
  };
}

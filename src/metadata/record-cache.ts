/**
 * Committed rows kept for the reads every download makes (the version a ref names, and the
 * confirmation that a row still names the key opened).
 *
 * Rows and confirmations are kept by series and stay valid until the series changes. Triggers
 * log every change to a row of `artifacts` by series (`artifact_changes`, in commit order), by
 * any connection: this store, another store on the same file, another process. Last-access times
 * alone are not logged: this process's own are set on the rows kept (`touched`), and another's
 * only make this one record an access again after its interval. When the
 * database's change stamp moves (any commit, see `file-client.ts`) the log is read from where it
 * was last read, and only the series it names are dropped. So a commit that touches other series
 * (another upload, the materialiser dropping inline bytes) keeps what is kept here, and a row this
 * process has just committed is kept from its commit on (`remember`): a download right after an
 * upload runs no query. A reader further behind than the log keeps starts afresh.
 *
 * Full records (`findVersion`: tags, summary and secrets too, whose tables are not logged) are
 * kept only while the stamp stays the same. Only local files have a stamp; remote databases read
 * each time.
 */
import type { ArtifactRecord, ArtifactRow, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import { isoTime } from "../lib/time.ts";
import type { ReadVersion } from "./libsql-lookup.ts";

type CachedReads = Pick<MetadataRepository, "findVersion" | "findRow" | "confirmRead">;
type Queries = Pick<MetadataRepository, "confirmRead"> & {
  readVersion: ReadVersion<ArtifactRecord>;
  readRow: ReadVersion<ArtifactRow>;
  /** The log's entries from `seq` on (that one included), oldest first: [seq, specName, taskId, type]. */
  changesSince(seq: number): Promise<ArrayLike<unknown>[]>;
};

export interface CommittedReads extends CachedReads {
  /**
   * A row this process has just committed, with the log entry of its own insert: kept as the
   * series' newest version (and by number), its read confirmed, until the log shows a later change.
   */
  remember(row: ArtifactRow, changeSeq: number): void;
  /** Reads the log up to now: rows committed from then on can be remembered. */
  start(): Promise<void>;
  /**
   * This process wrote the last-access time of `ids` (not logged: see the migration
   * `0015_artifact_changes_not_access`): the rows kept here say so too.
   */
  touched(ids: readonly number[], at: number): void;
}

/** Series (and full records) kept; when full, the least recently used quarter goes. */
const CACHE_ENTRIES = 4096;

/** Entries of the log (it keeps 4,096 or more) a process lets pile up unread while it only uploads. */
const CATCH_UP_ENTRIES = 1024;

/** What is kept of one series: right as of log entry `validAt`, and until a later entry names the series. */
interface SeriesEntry {
  validAt: number;
  /** By version number, `""` for the newest; null when there was none. */
  rows: Map<string, ArtifactRow | null>;
  /** Confirmations (`confirmationKey`) that held. */
  confirmed: Set<string>;
}

/**
 * @example
 * const reads = cacheCommittedReads({ readVersion, readRow, confirmRead, changesSince }, () => client.changeStamp());
 */
export function cacheCommittedReads(queries: Queries, changeStamp: () => string): CommittedReads {
  const { series, current, keeper, remember } = followChangeLog(queries.changesSince, changeStamp);

  const findRow = async (ref: ArtifactRef): Promise<ArtifactRow | null> => {
    const reading = current();
    if (reading) await reading;
    const key = seriesKey(ref.specName, ref.taskId, ref.type);
    const version = versionKey(ref);
    const hit = series.get(key)?.rows.get(version);
    if (hit !== undefined) return hit && { ...hit };
    const keep = keeper();
    const { record, quiet } = await queries.readRow(ref);
    keep(key, (entry) => {
      entry.rows.set(version, record && { ...record });
      // The lookup answered the confirmation too (nothing of the series publishing): a first read
      // runs one query. A replacement commits its publishing mark before it moves bytes onto the
      // seed path, which the log shows, so a read that opened those bytes asks again.
      if (record && quiet) entry.confirmed.add(confirmationKey(record));
    });
    return record;
  };

  const records = boundedMap<{ stamp: string; record: ArtifactRecord | null }>();
  const findVersion = async (ref: ArtifactRef): Promise<ArtifactRecord | null> => {
    const key = `${seriesKey(ref.specName, ref.taskId, ref.type)}\n${versionKey(ref)}`;
    // Read before the query: a commit in between only makes the kept record newer than its
    // stamp, and then the stamp has moved on, so it is never served.
    const stamp = changeStamp();
    const hit = records.get(key);
    if (hit && hit.stamp === stamp) return hit.record && copyOf(hit.record);
    const reading = current();
    if (reading) await reading;
    const keep = keeper();
    const { record, quiet } = await queries.readVersion(ref);
    records.set(key, { stamp, record: record && copyOf(record) });
    if (record && quiet) {
      keep(seriesKey(ref.specName, ref.taskId, ref.type), (entry) => entry.confirmed.add(confirmationKey(record)));
    }
    return record;
  };

  return {
    findRow,
    findVersion,
    async confirmRead(record) {
      const reading = current();
      if (reading) await reading;
      const key = seriesKey(record.specName, record.taskId, record.type);
      const confirmation = confirmationKey(record);
      if (series.get(key)?.confirmed.has(confirmation)) return true;
      const keep = keeper();
      const confirmedNow = await queries.confirmRead(record);
      if (confirmedNow) keep(key, (entry) => entry.confirmed.add(confirmation));
      return confirmedNow;
    },
    remember,
    start: async () => current(),
    touched(ids, at) {
      const touched = new Set(ids);
      const time = isoTime(at);
      for (const entry of series.values()) {
        for (const row of entry.rows.values()) if (row && touched.has(row.id)) row.lastAccessedAt = time;
      }
    },
  };
}

/**
 * What is kept by series, and the change log followed: `current()` reads the log when the stamp
 * moved and drops the series it names; `keeper()` before a query keeps its answer after it,
 * unless the log moved meanwhile (the answer may predate a change already read).
 */
function followChangeLog(changesSince: Queries["changesSince"], changeStamp: () => string) {
  const series = boundedMap<SeriesEntry>();
  /** The stamp the log was last read under, and the last entry read (undefined: start afresh). */
  let readUnder: string | undefined;
  let seen: number | undefined;
  /** Moves whenever kept series may have been dropped: a read started before is not kept. */
  let epoch = 0;

  const readLog = async (stamp: string) => {
    const from = seen;
    const entries = await changesSince(from ?? 0);
    const first = entries[0] === undefined ? undefined : Number(entries[0][0]);
    const last = entries.length === 0 ? from : Number((entries[entries.length - 1] as ArrayLike<unknown>)[0]);
    // The entry read last must still be there (nothing between it and the next was dropped),
    // else what changed since cannot be told.
    const intact = from !== undefined && (from === 0 ? first === undefined || first === 1 : first === from);
    if (!intact) {
      series.clear();
      seen = last ?? 0;
      epoch++;
    } else {
      for (const entry of entries) {
        const seq = Number(entry[0]);
        if (seq <= (seen as number)) continue;
        const key = seriesKey(entry[1] as string, entry[2] as string, entry[3] as string);
        const kept = series.peek(key);
        if (kept && seq > kept.validAt) {
          series.delete(key);
          epoch++;
        }
        seen = seq;
      }
    }
    readUnder = stamp;
  };

  /** The log read up to now (a stamp read before the log: a commit in between moves it again). */
  let reading: { stamp: string; done: Promise<void> } | undefined;
  const current = (): Promise<void> | undefined => {
    const stamp = changeStamp();
    if (stamp === readUnder) return undefined;
    if (reading?.stamp === stamp) return reading.done;
    const done = readLog(stamp).finally(() => {
      if (reading?.done === done) reading = undefined;
    });
    reading = { stamp, done };
    return done;
  };

  return {
    series,
    current,
    keeper() {
      const startedAt = epoch;
      const startedSeen = seen;
      return (key: string, keep: (entry: SeriesEntry) => void) => {
        if (epoch !== startedAt || seen !== startedSeen || seen === undefined) return;
        let entry = series.get(key);
        // Remembered after the query started (this process's own newer commit): the answer is older.
        if (entry && entry.validAt > (startedSeen as number)) return;
        if (!entry) {
          entry = { validAt: seen, rows: new Map(), confirmed: new Set() };
          series.set(key, entry);
        }
        keep(entry);
      };
    },
    remember(row: ArtifactRow, changeSeq: number) {
      // Entries after the insert already read here would have been missed: keep nothing then.
      if (seen === undefined || seen > changeSeq) return;
      const kept = { ...row };
      series.set(seriesKey(row.specName, row.taskId, row.type), {
        validAt: changeSeq,
        rows: new Map([
          ["", kept],
          [String(row.version), kept],
        ]),
        confirmed: new Set([confirmationKey(row)]),
      });
      // Uploads with no download between them: read the log before it drops what was last read.
      if (changeSeq - seen > CATCH_UP_ENTRIES) current()?.catch(() => {});
    },
  };
}

function seriesKey(specName: string, taskId: string, type: string): string {
  return `${specName}\n${taskId}\n${type}`;
}

function versionKey(ref: ArtifactRef): string {
  return ref.version === undefined ? "" : String(ref.version);
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
      // Made the most recently used only once eviction is near: until then the order is unused,
      // and a delete and set cost more than the rest of a hit.
      if (value !== undefined && map.size > CACHE_ENTRIES / 2) {
        map.delete(key);
        map.set(key, value);
      }
      return value;
    },
    /** Without making it the most recently used. */
    peek: (key: string): T | undefined => map.get(key),
    values: () => map.values(),
    delete: (key: string) => map.delete(key),
    clear: () => map.clear(),
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

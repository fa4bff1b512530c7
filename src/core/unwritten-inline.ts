/**
 * Versions this process committed inline whose files it has not written yet (task-inline.ts).
 * A download of one reads its bytes from the database first, where it would look for a file
 * that is not there yet (a failed open, then a walk up the path) before reading them: a reviewer
 * opening what an agent has just uploaded, or any read during a burst of uploads, while the
 * materialiser catches up. Should the bytes be gone by then (another process wrote the file),
 * the download takes the file as usual: this only orders the two places a version's bytes can
 * be, it never answers for either.
 */

/** Ids kept at most; past it the oldest go (their downloads look for the file first again). */
export const UNWRITTEN_MAX = 65_536;

export interface UnwrittenInline {
  /** `id` was just committed inline by this process. */
  add(id: number): void;
  has(id: number): boolean;
  /** These versions' files are written and their bytes gone from the database. */
  delete(ids: Iterable<number>): void;
}

export function createUnwrittenInline(max = UNWRITTEN_MAX): UnwrittenInline {
  /** Oldest first (a Set keeps insertion order). */
  const ids = new Set<number>();
  return {
    add(id) {
      ids.add(id);
      if (ids.size <= max) return;
      for (const oldest of ids) {
        ids.delete(oldest);
        break;
      }
    },
    has: (id) => ids.has(id),
    delete(list) {
      for (const id of list) ids.delete(id);
    },
  };
}

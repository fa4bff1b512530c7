/**
 * Listing the fs backend's objects: a sorted directory walk that starts at the deepest folder
 * the prefix names, skips what sorts before the cursor, and stops one object past the page.
 * Reading directories and entries is injected (fs.ts passes `readdir` and `lstat`), so the walk
 * itself stays on Web APIs.
 */
import type { ListOptions, ListPage, ObjectInfo } from "../contracts/storage-backend.ts";
import { isNotDirectory, isNotFound, wrapFsError } from "./fs-errors.ts";

/** What the listing needs of an entry's lstat: a symbolic link is neither a directory nor a file. */
export interface EntryStats {
  isDirectory(): boolean;
  isFile(): boolean;
  size: number;
  mtime: Date;
  mtimeMs: number;
  ino: number;
}

export interface ObjectTree {
  /** Entry names of the folder at a relative `/`-separated path ("" is the root). */
  readDirectory(relativeDirectory: string): Promise<string[]>;
  /** lstat of the entry at a key, null when it is gone. */
  statEntry(key: string): Promise<EntryStats | null>;
  /** A top-level name that is the store's own folder, never listed. */
  hidden: string;
}

/** The fs backend's etag: inode, size and modification time, which change when the file is replaced. */
export function etagOf(stats: { size: number; mtimeMs: number; ino: number }): string {
  return `"${stats.ino.toString(16)}-${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
}

/** An object's description from its file's lstat. */
export function objectInfoOf(key: string, stats: EntryStats): ObjectInfo {
  return { key, size: stats.size, etag: etagOf(stats), lastModified: stats.mtime };
}

export async function listObjects(tree: ObjectTree, options: ListOptions = {}): Promise<ListPage> {
  const limit = options.limit ?? 1000;
  const prefix = options.prefix ?? "";
  const cursor = options.cursor;
  const objects: ObjectInfo[] = [];
  // Start at the deepest directory the prefix names in full.
  const prefixDirectory = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
  const walk = async (relativeDirectory: string): Promise<boolean> => {
    let entries: string[];
    try {
      entries = (await tree.readDirectory(relativeDirectory)).sort();
    } catch (error) {
      if (isNotFound(error) || isNotDirectory(error)) return false;
      throw wrapFsError(error, "listing objects");
    }
    for (const entry of entries) {
      const key = relativeDirectory ? `${relativeDirectory}/${entry}` : entry;
      if (key === tree.hidden) continue;
      if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
      // lstat: a symbolic link is neither a directory to walk nor an object (never followed).
      const stats = await tree.statEntry(key);
      if (!stats) continue;
      if (stats.isDirectory()) {
        if (cursor !== undefined && compareKeys(key, cursor) < 0 && !cursor.startsWith(`${key}/`)) continue;
        if (await walk(key)) return true;
      } else if (stats.isFile()) {
        if (!key.startsWith(prefix)) continue;
        if (cursor !== undefined && compareKeys(key, cursor) <= 0) continue;
        if (objects.length === limit) return true;
        objects.push(objectInfoOf(key, stats));
      }
    }
    return false;
  };
  const more = await walk(prefixDirectory);
  const last = objects.at(-1);
  return { objects, ...(more && last ? { cursor: last.key } : {}) };
}

/** Orders keys segment by segment, the order a sorted directory walk visits them in. */
function compareKeys(left: string, right: string): number {
  const leftSegments = left.split("/");
  const rightSegments = right.split("/");
  const shared = Math.min(leftSegments.length, rightSegments.length);
  for (let index = 0; index < shared; index++) {
    const a = leftSegments[index] as string;
    const b = rightSegments[index] as string;
    if (a !== b) return a < b ? -1 : 1;
  }
  return leftSegments.length - rightSegments.length;
}

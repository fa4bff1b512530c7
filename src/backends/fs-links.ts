/**
 * The store never creates symbolic links, so it never follows one (see {@link createLinkGuard}).
 * The filesystem calls are injected (synchronous `lstat`/`stat` and `node:path`'s `sep` from fs.ts), so
 * this module stays on Web APIs like everything outside the few runtime-specific files.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { isNotDirectory, wrapFsError } from "./fs-errors.ts";

/** What the checks need of an lstat/stat result: node's `Stats` has it. */
export interface LinkStats {
  isDirectory(): boolean;
  isFile(): boolean;
  dev: number;
  ino: number;
  /** When the inode was made: a number reused for a new folder gets a new one. */
  birthtimeMs: number;
}

/** The filesystem functions the checks use: synchronous, `undefined` where nothing is (ENOENT). */
export interface LinkGuardFileSystem<S extends LinkStats> {
  /** lstat: a link itself, never its target. */
  lstat(path: string): S | undefined;
  /** stat: what the path leads to now, links followed. */
  stat(path: string): S | undefined;
  sep: string;
}

/** What a walk from the root to the folder of a path found. */
export type FolderCheck =
  /** A symbolic link or a file where a folder should be. */
  | "linked"
  /** Every folder on the way exists and is a real one. */
  | "present"
  /** No link on the way, but a folder does not exist yet (nothing to follow below it). */
  | "missing";

/** Folders remembered as checked, at most: past this the memory starts afresh. */
const CHECKED_FOLDERS_MAX = 4096;

export function createLinkGuard<S extends LinkStats>(files: LinkGuardFileSystem<S>) {
  const { lstat, stat, sep } = files;
  /**
   * Folders found real (no link from the root down to them), by path, with the identity of the
   * inode they were: a later walk confirms the deepest one with a single stat instead of an
   * lstat per folder. The stat follows links, so it sees what a write through the path would
   * reach now: the same (dev, ino, birth time) means the very folder checked before, and a
   * folder cannot be reached through a link or moved away without changing that — a link
   * leads to another inode; moving a folder to another parent needs write access to the folder
   * itself (the store's own); a number reused after a delete comes with a new birth time.
   */
  const checked = new Map<string, { dev: number; ino: number; birth: number }>();

  const remember = (directory: string, stats: S) => {
    // A runtime without birth times cannot tell a reused inode number: nothing is remembered there.
    if (!(stats.birthtimeMs > 0)) return;
    if (checked.size >= CHECKED_FOLDERS_MAX) checked.clear();
    checked.set(directory, { dev: stats.dev, ino: stats.ino, birth: stats.birthtimeMs });
  };

  /** Whether `directory`, checked before, still leads to the folder it was. */
  const stillChecked = (directory: string): boolean => {
    const known = checked.get(directory);
    if (!known) return false;
    const now = statOrNothing(stat, directory);
    if (now?.isDirectory() && now.dev === known.dev && now.ino === known.ino && now.birthtimeMs === known.birth) {
      return true;
    }
    // Moved, replaced or removed: it and everything remembered below it are walked again.
    for (const path of checked.keys()) if (path === directory || path.startsWith(directory + sep)) checked.delete(path);
    return false;
  };

  /**
   * The store never creates symbolic links, so it never follows one: a link anywhere between the
   * root and `path` (an `evil -> /outside` someone placed in base_path) would let a put write,
   * and gc or a delete remove, files outside the root. Each existing folder on the way is
   * lstat'ed (or, when checked before, confirmed by one stat of the deepest: see `checked`).
   * The last component is checked by its own caller (lstat, O_NOFOLLOW), since rename and unlink
   * act on a link itself, never on its target.
   */
  function checkFolders(root: string, path: string): FolderCheck {
    const directories: string[] = [];
    for (let end = path.indexOf(sep, root.length + 1); end !== -1; end = path.indexOf(sep, end + 1)) {
      directories.push(path.slice(0, end));
    }
    let start = directories.length;
    while (start > 0 && !stillChecked(directories[start - 1] as string)) start--;
    for (let index = start; index < directories.length; index++) {
      const directory = directories[index] as string;
      const stats = statOrNothing(lstat, directory);
      if (!stats) return "missing"; // the rest does not exist yet: nothing to follow
      if (!stats.isDirectory()) return "linked";
      remember(directory, stats);
    }
    return "present";
  }

  /** True when no link or file stands on the way from the root to `path`'s folder. */
  function linkFree(root: string, path: string): boolean {
    return checkFolders(root, path) !== "linked";
  }

  /** Throws when a link or file stands on the way; tells whether `path`'s folder exists. */
  function refuseLinks(root: string, path: string, key: string): "present" | "missing" {
    const found = checkFolders(root, path);
    if (found === "linked") {
      throw new ArtifactStoreError(
        "E_BACKEND",
        `[fs] ${key} leads through a symbolic link or a file inside the store's directory; the store never follows links it did not create: remove it`,
      );
    }
    return found;
  }

  /**
   * The lstat of the regular file at `path`, reached through no link; null when there is none.
   * Nothing at `path` is null whatever the folders on the way are: one lstat answers that (an
   * upload's check of its new seed path, a read before the bytes are materialised) without a
   * walk; a file found is checked as before, folders first.
   */
  function fileStats(root: string, path: string, action: string): S | null {
    try {
      if (absent(path)) return null;
      if (checkFolders(root, path) !== "present") return null;
      const stats = statOrNothing(lstat, path);
      return stats?.isFile() ? stats : null;
    } catch (error) {
      throw wrapFsError(error, action);
    }
  }

  /** Whether nothing is at `path` (ENOENT, ENOTDIR); any other answer or error leaves it to the checked walk. */
  function absent(path: string): boolean {
    try {
      return statOrNothing(lstat, path) === undefined;
    } catch {
      return false;
    }
  }

  /** Forgets a folder the store has just removed (a later walk would find it changed anyway). */
  function forget(directory: string): void {
    checked.delete(directory);
  }

  return { linkFree, refuseLinks, fileStats, forget };
}

/** A stat call's answer, `undefined` for a path through a file (ENOTDIR) as for a missing one. */
function statOrNothing<S>(call: (path: string) => S | undefined, path: string): S | undefined {
  try {
    return call(path);
  } catch (error) {
    if (isNotDirectory(error)) return undefined;
    throw error;
  }
}

/** What a backend holds to check paths: see {@link createLinkGuard}. */
export type LinkGuard = ReturnType<typeof createLinkGuard>;

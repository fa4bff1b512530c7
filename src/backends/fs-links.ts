/**
 * The store never creates symbolic links, so it never follows one (see {@link createLinkGuard}).
 * The filesystem calls are injected (`node:fs/promises` and `node:path` from fs.ts), so this
 * module stays on Web APIs like everything outside the few runtime-specific files.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { isNotDirectory, isNotFound, wrapFsError } from "./fs-errors.ts";

/** What the checks need of an lstat result: node's `Stats` has it. */
export interface LinkStats {
  isDirectory(): boolean;
  isFile(): boolean;
}

/** The filesystem functions the checks use, with the signatures of `node:fs/promises` and `node:path`. */
export interface LinkGuardFileSystem<S extends LinkStats> {
  lstat(path: string): Promise<S>;
  join(...paths: string[]): string;
  sep: string;
}

export function createLinkGuard<S extends LinkStats>(files: LinkGuardFileSystem<S>) {
  const { lstat, join, sep } = files;

  /**
   * The store never creates symbolic links, so it never follows one: a link anywhere between the
   * root and `path` (an `evil -> /outside` someone placed in base_path) would let a put write,
   * and gc or a delete remove, files outside the root. Each existing directory on the way is
   * lstat'ed; true when none is a link. The last component is checked by its own caller
   * (lstat, O_NOFOLLOW), since rename and unlink act on a link itself, never on its target.
   */
  async function linkFree(root: string, path: string): Promise<boolean> {
    const segments = path
      .slice(root.length + 1)
      .split(sep)
      .slice(0, -1);
    let directory = root;
    for (const segment of segments) {
      directory = join(directory, segment);
      const stats = await lstat(directory).catch((error: unknown) => {
        if (isNotFound(error) || isNotDirectory(error)) return null;
        throw error;
      });
      if (!stats) return true; // the rest does not exist yet: nothing to follow
      if (!stats.isDirectory()) return false;
    }
    return true;
  }

  async function refuseLinks(root: string, path: string, key: string): Promise<void> {
    if (!(await linkFree(root, path))) {
      throw new ArtifactStoreError(
        "E_BACKEND",
        `[fs] ${key} leads through a symbolic link or a file inside the store's directory; the store never follows links it did not create: remove it`,
      );
    }
  }

  /** The lstat of the regular file at `path`, reached through no link; null when there is none. */
  async function fileStats(root: string, path: string, action: string): Promise<S | null> {
    try {
      if (!(await linkFree(root, path))) return null;
      const stats = await lstat(path);
      return stats.isFile() ? stats : null;
    } catch (error) {
      if (isNotFound(error) || isNotDirectory(error)) return null;
      throw wrapFsError(error, action);
    }
  }

  return { linkFree, refuseLinks, fileStats };
}

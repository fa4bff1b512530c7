/**
 * Tidying the fs backend's tree: folders a delete or move left empty, and staging files a crashed
 * upload left. The filesystem calls come from fs.ts (`node:fs/promises`, `node:path`).
 */
import type { MaintenanceOptions } from "../contracts/storage-backend.ts";
import { isNotFound, wrapFsError } from "./fs-errors.ts";

export interface TidyFileSystem {
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<{ isFile(): boolean; mtimeMs: number }>;
  rm(path: string, options: { force: boolean }): Promise<void>;
  rmdir(path: string): Promise<void>;
  join(...paths: string[]): string;
  dirname(path: string): string;
  sep: string;
}

export function createTidy({ readdir, lstat, rm, rmdir, join, dirname, sep }: TidyFileSystem) {
  async function removeEmptyParents(root: string, path: string, forget: (directory: string) => void): Promise<void> {
    for (let directory = dirname(path); directory !== root && directory.startsWith(root + sep); ) {
      try {
        await rmdir(directory);
      } catch {
        return; // not empty, or already gone: either way nothing more to tidy
      }
      forget(directory);
      directory = dirname(directory);
    }
  }

  /** Removes staging files older than `olderThanMs` (left by crashed uploads); returns their names. */
  async function cleanStagingFiles(
    stagingDir: string,
    olderThanMs: number,
    options: MaintenanceOptions,
  ): Promise<string[]> {
    const now = options.now ?? Date.now();
    let entries: string[];
    try {
      entries = await readdir(stagingDir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw wrapFsError(error, "listing staging files");
    }
    const removed: string[] = [];
    for (const entry of entries.sort()) {
      const path = join(stagingDir, entry);
      const stats = await lstat(path).catch(() => null);
      if (!stats?.isFile() || now - stats.mtimeMs < olderThanMs) continue;
      if (!options.dryRun) await rm(path, { force: true });
      removed.push(entry);
    }
    return removed;
  }

  return { removeEmptyParents, cleanStagingFiles };
}

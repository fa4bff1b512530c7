/**
 * What the fs backend makes of a filesystem error: the two "not there" codes it treats as an
 * absent object, and the wrapping that maps a full disk to the store's one storage-full error
 * and keeps server paths out of every other message.
 */
import { ArtifactStoreError, storageFullError } from "../contracts/errors.ts";

export function isNotFound(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "ENOENT";
}

export function isNotDirectory(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "ENOTDIR";
}

export function wrapFsError(error: unknown, action: string): unknown {
  if (error instanceof ArtifactStoreError) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code === undefined) return error; // not a filesystem error: the body stream's own failure
  if (code === "ENOSPC" || code === "EDQUOT") return storageFullError("fs", `${action} failed`, { cause: error });
  // The system's message without the paths it names: clients see the key, never server paths.
  const reason = String((error as Error).message)
    .replace(/ '[^']*'/g, "")
    .replace(/, (open|write|rename|mkdir|unlink|stat|fsync|read)$/, "");
  return new ArtifactStoreError("E_BACKEND", `[fs] ${action} failed: ${reason}`, { cause: error });
}

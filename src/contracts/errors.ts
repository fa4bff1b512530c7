/**
 * Every failure the store reports is an {@link ArtifactStoreError} with a stable `code`.
 * HTTP status mapping lives in one table in `src/http/errors.ts`; nothing else maps codes.
 */

/** The error codes of the store, each with the HTTP status the API answers with. */
export const ERROR_CODES = [
  "E_INVALID_NAME",
  "E_INVALID_INPUT",
  "E_UNAUTHORIZED",
  "E_FORBIDDEN",
  "E_NOT_FOUND",
  "E_CONFLICT",
  "E_TOO_LARGE",
  "E_RANGE",
  "E_CHECKSUM_MISMATCH",
  "E_SECRET_DETECTED",
  "E_CORRUPT",
  "E_BACKEND",
  "E_BACKEND_UNAVAILABLE",
  "E_QUOTA_EXCEEDED",
  "E_STORAGE_FULL",
  "E_CONFIG",
  "E_INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * A failure with a machine-readable `code` and a message that says what to do.
 *
 * @example
 * try {
 *   await store.upload({ specName: "../etc", taskId: "1", type: "log", content: "x" });
 * } catch (error) {
 *   if (error instanceof ArtifactStoreError && error.code === "E_INVALID_NAME") {
 *     console.error(error.message);
 *   }
 * }
 */
export class ArtifactStoreError extends Error {
  override readonly name = "ArtifactStoreError";
  readonly code: ErrorCode;
  /** Extra machine-readable facts (the offending field, the limit, …). Never secrets. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/** True when `error` is an {@link ArtifactStoreError}, optionally with the given code. */
export function isArtifactStoreError(error: unknown, code?: ErrorCode): error is ArtifactStoreError {
  return error instanceof ArtifactStoreError && (code === undefined || error.code === code);
}

/** Wraps anything thrown into an {@link ArtifactStoreError}, keeping store errors as they are. */
export function toArtifactStoreError(error: unknown, fallbackCode: ErrorCode, context: string): ArtifactStoreError {
  if (error instanceof ArtifactStoreError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ArtifactStoreError(fallbackCode, `${context}: ${reason}`, { cause: error });
}

/** True when `error` (or one of its causes) says a disk is full: ENOSPC, EDQUOT, SQLite's SQLITE_FULL. */
export function isDiskFull(error: unknown): boolean {
  for (
    let current = error, depth = 0;
    current && depth < 8;
    current = (current as { cause?: unknown }).cause, depth++
  ) {
    if (current instanceof ArtifactStoreError) {
      if (current.code === "E_STORAGE_FULL") return true;
      // Only an unexpected failure may hide a full disk in its cause; a named one says what it is.
      if (current.code !== "E_INTERNAL") return false;
      continue;
    }
    const code = (current as { code?: unknown }).code;
    if (code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL") return true;
    if (/\b(SQLITE_FULL|database or disk is full)\b/.test(String((current as { message?: unknown }).message ?? "")))
      return true;
  }
  return false;
}

/**
 * The one full-disk error (`E_STORAGE_FULL`, 507 like the quota), whichever layer ran out:
 * the blob files (ENOSPC, EDQUOT), the metadata database (SQLITE_FULL) or the free-space floor.
 */
export function storageFullError(
  source: string,
  what: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_STORAGE_FULL",
    `[${source}] ${what}: the disk holding base_path is full. Free space by deleting artifacts ` +
      "(DELETE /v1/artifacts/…) or running the retention cleanup (POST /v1/maintenance/cleanup), " +
      "which keep working on a full disk, or by freeing space on that volume",
    options,
  );
}

/**
 * A failure on one log line: `Name: message (cause: …)`, never a stack. What servers log for
 * the errors they answer with "see the server log".
 */
export function describeError(error: unknown): string {
  if (error instanceof Error)
    return `${error.name}: ${error.message}${error.cause ? ` (cause: ${String(error.cause)})` : ""}`;
  return String(error);
}

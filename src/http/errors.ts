import { ArtifactStoreError, type ErrorCode, isDiskFull, storageFullError } from "../contracts/errors.ts";

/** The one table that maps error codes to HTTP statuses. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  E_INVALID_NAME: 400,
  E_INVALID_INPUT: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_TOO_LARGE: 413,
  E_RANGE: 416,
  E_CHECKSUM_MISMATCH: 422,
  E_SECRET_DETECTED: 422,
  E_CORRUPT: 500,
  E_BACKEND: 502,
  E_BACKEND_UNAVAILABLE: 503,
  E_QUOTA_EXCEEDED: 507,
  E_STORAGE_FULL: 507,
  E_CONFIG: 500,
  E_INTERNAL: 500,
};

/** What each code means, for the OpenAPI document. */
export const DESCRIPTION_BY_CODE: Record<ErrorCode, string> = {
  E_INVALID_NAME:
    "A spec name, task id or type is not allowed (1-128 of letters, digits, '.', '_', '-'; no leading dot, no '..').",
  E_INVALID_INPUT: "A parameter, header or body is malformed.",
  E_UNAUTHORIZED: "No bearer token, or an unknown one.",
  E_FORBIDDEN: "The token lacks the scope, or is limited to other specs.",
  E_NOT_FOUND: "No such artifact version or route.",
  E_CONFLICT:
    "The request conflicts with the stored state: an upload lost its reservation to maintenance (retry it), an object already exists where a version would go (the metadata database needs a reindex), or a live-log chunk or seal clashes with one already taken.",
  E_TOO_LARGE: "The body is larger than the configured limit.",
  E_RANGE: "The requested byte range is outside the content.",
  E_CHECKSUM_MISMATCH: "The body does not match its Content-Digest; nothing was stored.",
  E_SECRET_DETECTED:
    "The content holds a secret (the message names the rule and line, never the value) and redaction for its type is set to reject; nothing was stored.",
  E_CORRUPT: "The stored bytes failed verification; the version is flagged and not served.",
  E_BACKEND: "The storage or metadata backend refused the operation.",
  E_BACKEND_UNAVAILABLE: "The storage or metadata backend is unreachable or overloaded; retry later.",
  E_QUOTA_EXCEEDED: "The storage quota would be exceeded; nothing was stored.",
  E_STORAGE_FULL:
    "The disk holding base_path (or the metadata database) is full, or its free space is below storage_quota.min_free_space; nothing was stored. Reads, deletes and cleanup keep working: delete artifacts or run the cleanup to free space.",
  E_CONFIG: "The server is misconfigured.",
  E_INTERNAL: "An unexpected failure; details are in the server log.",
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** The JSON body and status for any thrown value. Unknown failures never leak their message. */
export function errorResponseParts(thrown: unknown): { status: number; body: ErrorBody; internal: boolean } {
  // A full disk met where nobody named it (a read's temporary file, say) is still the one full-disk answer.
  const error =
    !(thrown instanceof ArtifactStoreError && thrown.code === "E_STORAGE_FULL") && isDiskFull(thrown)
      ? storageFullError("store", "the request failed", { cause: thrown })
      : thrown;
  if (error instanceof ArtifactStoreError) {
    const internal = error.code === "E_INTERNAL" || error.code === "E_CONFIG";
    return {
      status: STATUS_BY_CODE[error.code],
      internal,
      body: {
        error: {
          code: error.code,
          message: internal ? "internal error; see the server log" : error.message,
          ...(error.details && !internal ? { details: error.details } : {}),
        },
      },
    };
  }
  return {
    status: 500,
    internal: true,
    body: { error: { code: "E_INTERNAL", message: "internal error; see the server log" } },
  };
}

/**
 * What an S3 failure means for the store. The service's own code and message always travel
 * in the text and in `cause`; the store code says who can fix it:
 * - `E_BACKEND`: the deployment (missing bucket, refused credentials, a request S3 rejected).
 *   Never `E_UNAUTHORIZED`/`E_FORBIDDEN`: those are about the API caller's token.
 * - `E_BACKEND_UNAVAILABLE`: the service is down, overloaded or unreachable, even after the
 *   SDK's retries; trying again later may work.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";

interface ServiceErrorShape {
  name?: string;
  message?: string;
  code?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

const REFUSED_CODES = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidToken",
  "ExpiredToken",
  "AllAccessDisabled",
  "AccountProblem",
]);

const THROTTLING_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequests",
  "RequestLimitExceeded",
]);
const TIMEOUT_NAMES = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException"]);

function shapeOf(error: unknown): ServiceErrorShape {
  return typeof error === "object" && error !== null ? (error as ServiceErrorShape) : {};
}

/** HTTP status of the service's answer, or `undefined` when no answer came (network failure). */
export function statusOf(error: unknown): number | undefined {
  return shapeOf(error).$metadata?.httpStatusCode;
}

/** True for "no such key" answers: a 404 that is not about the bucket itself. */
export function isMissingObject(error: unknown): boolean {
  return statusOf(error) === 404 && shapeOf(error).name !== "NoSuchBucket";
}

/** The service's words: `Code: message`, or only the code when the answer had no body (HEAD). */
function serviceText(error: unknown): string {
  const { name, message } = shapeOf(error);
  if (!(error instanceof Error)) return String(error);
  if (!message || message === "UnknownError" || message === name) return name ?? "Error";
  return name && name !== "Error" ? `${name}: ${message}` : message;
}

/** Total object size from a 416 answer's `Content-Range: bytes *\/<size>`, when the service sent one. */
function sizeFromUnsatisfiedRange(error: unknown): number | undefined {
  const header = shapeOf(error).$response?.headers?.["content-range"];
  const match = header ? /\/(\d+)$/.exec(header) : null;
  return match?.[1] ? Number(match[1]) : undefined;
}

/** A transport failure (refused, reset, timed out) rather than an answer or a local mistake. */
function isNetworkFailure(error: unknown): boolean {
  const { name, code } = shapeOf(error);
  return error instanceof TypeError || typeof code === "string" || (name !== undefined && TIMEOUT_NAMES.has(name));
}

/**
 * Turns anything an S3 call threw into an {@link ArtifactStoreError} (store errors pass through).
 *
 * @example
 * try {
 *   await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
 * } catch (error) {
 *   throw toS3StoreError(error, `inspecting ${key}`, bucket);
 * }
 */
export function toS3StoreError(error: unknown, action: string, bucket: string): ArtifactStoreError {
  if (error instanceof ArtifactStoreError) return error;
  const { name, $metadata } = shapeOf(error);
  const status = statusOf(error);
  const text = serviceText(error);
  const details = { ...(name ? { s3Code: name } : {}), ...(status ? { httpStatus: status } : {}) };
  const fail = (code: "E_BACKEND" | "E_BACKEND_UNAVAILABLE" | "E_RANGE" | "E_CONFLICT", message: string, extra = {}) =>
    new ArtifactStoreError(code, `[s3] ${message}`, { cause: error, details: { ...details, ...extra } });

  if (name === "NoSuchBucket") {
    return fail("E_BACKEND", `bucket "${bucket}" does not exist (${text}); create it or fix s3.bucket`);
  }
  if (status === 403 || (name !== undefined && REFUSED_CODES.has(name))) {
    return fail(
      "E_BACKEND",
      `${action} was refused by the service (${text}); check the S3 credentials and what they may do in bucket "${bucket}"`,
    );
  }
  if (status === 412 || name === "PreconditionFailed") {
    return fail("E_CONFLICT", `${action}: an object already exists there (${text})`);
  }
  if (status === 416 || name === "InvalidRange") {
    const size = sizeFromUnsatisfiedRange(error);
    return fail("E_RANGE", `${action}: the range is outside the object (${text})`, size === undefined ? {} : { size });
  }
  const throttled = status === 429 || (name !== undefined && THROTTLING_CODES.has(name));
  if (throttled || (status !== undefined && status >= 500) || (status === undefined && isNetworkFailure(error))) {
    const attempts = $metadata?.attempts ?? 1;
    return fail(
      "E_BACKEND_UNAVAILABLE",
      `${action} failed after ${attempts} attempt${attempts === 1 ? "" : "s"} (${text}); the S3 service is unreachable or overloaded, try again later`,
    );
  }
  return fail("E_BACKEND", `${action} failed (${text}${status ? `, HTTP ${status}` : ""})`);
}

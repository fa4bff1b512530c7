/**
 * The transport under the GCS backend: one `fetch` call per attempt, the current
 * `Authorization` header on each, bounded exponential backoff with jitter on 429, 5xx and
 * network failures only, and one mapping from Cloud Storage's error responses to
 * {@link ArtifactStoreError} codes. Web APIs only, so it runs on Bun, Node, Deno and Workers.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { sleep } from "../lib/time.ts";

/** What the backend needs of `fetch`; `globalThis.fetch` fits, and so does a test stub. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RetryOptions {
  /** Attempts per request, the first included (default 5). */
  maxAttempts?: number;
  /** Backoff before the second attempt; doubles on each further one (default 250 ms). */
  baseDelayMs?: number;
  /** Ceiling of any single wait, `Retry-After` included (default 16 s). */
  maxDelayMs?: number;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export function retryPolicyOf(options: RetryOptions = {}): RetryPolicy {
  return {
    maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? 5)),
    baseDelayMs: Math.max(0, options.baseDelayMs ?? 250),
    maxDelayMs: Math.max(0, options.maxDelayMs ?? 16_000),
  };
}

/**
 * Cloud Storage's advice for transient failures: 408 is not listed by the brief of this
 * backend, so only 429 (rate limit) and 5xx (server side) are retried; any other 4xx is a
 * request the service will refuse again.
 * https://cloud.google.com/storage/docs/retry-strategy
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/** Full jitter (a random wait up to the exponential bound) spreads retries of many clients apart. */
export function backoffDelay(policy: RetryPolicy, failedAttempts: number, retryAfter?: string | null): number {
  const bound = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  const jittered = Math.random() * bound;
  const serverAsked = retryAfter ? Number(retryAfter) * 1000 : Number.NaN;
  return Number.isFinite(serverAsked) ? Math.min(policy.maxDelayMs, Math.max(serverAsked, jittered)) : jittered;
}

export interface GcsRequestInit {
  method: string;
  headers?: Record<string, string>;
  /** A stream is sent as it is read (chunked, never retried): send it with `retry: false`. */
  body?: Uint8Array<ArrayBuffer> | string | ReadableStream<Uint8Array>;
  signal?: AbortSignal;
  /** `false` sends once: the caller has its own recovery (resumable chunks). */
  retry?: boolean;
}

/** Sends requests with auth and retries; returns the last response for the caller to judge. */
export interface GcsTransport {
  request(url: string, init: GcsRequestInit, action: string): Promise<Response>;
  /** Turns a failed response into the store's error, naming `action` (`message`: its body, already read). */
  failure(response: Response, action: string, message?: string): Promise<ArtifactStoreError>;
  /** The error for a network failure that outlived its retries. */
  networkFailure(error: unknown, action: string): ArtifactStoreError;
  readonly policy: RetryPolicy;
}

export function createGcsTransport(options: {
  fetch: FetchLike;
  auth: AccessTokenProvider;
  bucket: string;
  retry: RetryPolicy;
}): GcsTransport {
  const { auth, bucket, retry: policy } = options;
  const fetchOnce = options.fetch;

  const networkFailure = (error: unknown, action: string): ArtifactStoreError =>
    error instanceof ArtifactStoreError
      ? error
      : new ArtifactStoreError(
          "E_BACKEND_UNAVAILABLE",
          `[gcs] ${action} failed: Cloud Storage could not be reached (${errorText(error)}); check the network and retry`,
          { cause: error },
        );

  return {
    policy,
    networkFailure,
    failure: (response, action, message) => gcsFailure(response, action, bucket, policy.maxAttempts, message),

    async request(url, init, action) {
      const attempts = init.retry === false ? 1 : policy.maxAttempts;
      let refreshedAfter401 = false;
      for (let attempt = 1; ; attempt++) {
        init.signal?.throwIfAborted();
        let response: Response;
        try {
          const headers: Record<string, string> = { ...init.headers, authorization: await auth.authorization() };
          response = await fetchOnce(url, {
            method: init.method,
            headers,
            ...(init.body === undefined ? {} : { body: init.body }),
            // Fetch sends a stream body only in half-duplex mode (Node and Deno insist on saying so).
            ...(init.body instanceof ReadableStream ? ({ duplex: "half" } as RequestInit) : {}),
            ...(init.signal ? { signal: init.signal } : {}),
          });
        } catch (error) {
          if (init.signal?.aborted) throw init.signal.reason;
          if (error instanceof ArtifactStoreError || attempt >= attempts) throw networkFailure(error, action);
          await sleep(backoffDelay(policy, attempt), init.signal);
          continue;
        }
        // A cached token the service no longer accepts (revoked, clock skew): fetch a new one once.
        if (response.status === 401 && auth.refreshable && !refreshedAfter401) {
          refreshedAfter401 = true;
          auth.invalidate();
          await discard(response);
          attempt--;
          continue;
        }
        if (!isRetryableStatus(response.status) || attempt >= attempts) return response;
        const retryAfter = response.headers.get("retry-after");
        await discard(response);
        await sleep(backoffDelay(policy, attempt, retryAfter), init.signal);
      }
    },
  };
}

/** Reads Cloud Storage's JSON error (`{ error: { code, message } }`), or the text body when it is not JSON. */
export async function serviceMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; error_description?: unknown };
    if (typeof parsed.error === "object" && typeof parsed.error?.message === "string") return parsed.error.message;
    if (typeof parsed.error_description === "string") return parsed.error_description;
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON: the emulator and proxies answer with plain text
  }
  return text.trim().slice(0, 300) || response.statusText || `HTTP ${response.status}`;
}

/** True when a 404's message says the bucket itself is missing (not just the object). */
export function isMissingBucket(message: string): boolean {
  return /bucket does not exist|no such bucket|bucket .*not found/i.test(message);
}

/**
 * The one table from Cloud Storage's answers to store error codes. The service's own
 * auth failures are `E_BACKEND`: `E_UNAUTHORIZED`/`E_FORBIDDEN` are about the API's caller.
 */
export async function gcsFailure(
  response: Response,
  action: string,
  bucket: string,
  attempts: number,
  knownMessage?: string,
): Promise<ArtifactStoreError> {
  const status = response.status;
  const message = knownMessage ?? (await serviceMessage(response));
  const options = { cause: new Error(`HTTP ${status}: ${message}`), details: { status } };
  if (status === 401 || status === 403) {
    return new ArtifactStoreError(
      "E_BACKEND",
      `[gcs] ${action} was refused (${status}): ${message}. Check the credentials and that they may use objects in bucket ${bucket}`,
      options,
    );
  }
  if (status === 404 && isMissingBucket(message)) {
    return new ArtifactStoreError(
      "E_BACKEND",
      `[gcs] bucket ${bucket} does not exist (${message}); create it or fix gcs.bucket`,
      options,
    );
  }
  if (status === 412) {
    return new ArtifactStoreError(
      "E_CONFLICT",
      `[gcs] ${action}: the object changed or already exists, so the precondition failed (${message})`,
      options,
    );
  }
  if (status === 416) {
    return new ArtifactStoreError("E_RANGE", `[gcs] ${action}: the range is outside the object (${message})`, options);
  }
  if (isRetryableStatus(status)) {
    return new ArtifactStoreError(
      "E_BACKEND_UNAVAILABLE",
      `[gcs] ${action} failed with ${status} after ${attempts} attempt(s): ${message}; retry later`,
      options,
    );
  }
  return new ArtifactStoreError("E_BACKEND", `[gcs] ${action} failed (${status}): ${message}`, options);
}

/** Frees a response body we will not read, so the connection can be reused. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Produces the `Authorization` header for each request. */
export interface AccessTokenProvider {
  authorization(): Promise<string>;
  /** True when a refused token can be replaced by asking again (service accounts). */
  readonly refreshable: boolean;
  /** Forgets the cached token so the next call fetches a new one. */
  invalidate(): void;
}

/**
 * Credentials for the GCS backend, on WebCrypto only (no Google SDK, no `node:` imports):
 * a service-account key becomes an RS256-signed JWT, exchanged for an OAuth2 access token
 * that is cached and refreshed before it expires; or a ready access token; or the
 * emulator's fixed `owner` token. Reading a key file is the caller's job (it needs a filesystem).
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { sleep } from "../lib/time.ts";
import {
  type AccessTokenProvider,
  discard,
  errorText,
  type FetchLike,
  gcsFailure,
  isRetryableStatus,
  type RetryPolicy,
} from "./gcs-http.ts";

export type { AccessTokenProvider };

/** The fields of a service-account key file (`"type": "service_account"`) this backend uses. */
export interface ServiceAccountKey {
  type?: string;
  client_email: string;
  /** PEM-encoded PKCS#8 RSA private key. */
  private_key: string;
  private_key_id?: string;
  /** OAuth2 token endpoint (default `https://oauth2.googleapis.com/token`). */
  token_uri?: string;
  project_id?: string;
}

/** Read, write and delete objects; nothing else (no bucket or IAM administration). */
export const STORAGE_READ_WRITE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";
export const DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token";

/**
 * Validates a service-account key given as parsed JSON or as the file's text.
 *
 * @example
 * const key = parseServiceAccountKey(env.GCS_SERVICE_ACCOUNT_KEY); // the key file's JSON text
 */
export function parseServiceAccountKey(input: ServiceAccountKey | string): ServiceAccountKey {
  let key: unknown = input;
  if (typeof input === "string") {
    try {
      key = JSON.parse(input);
    } catch (error) {
      throw new ArtifactStoreError("E_CONFIG", "[gcs] the service-account key is not valid JSON", { cause: error });
    }
  }
  const candidate = key as Partial<ServiceAccountKey> | null;
  if (typeof candidate?.client_email !== "string" || typeof candidate.private_key !== "string") {
    throw new ArtifactStoreError(
      "E_CONFIG",
      "[gcs] the service-account key needs client_email and private_key; download a JSON key for the service account from the Google Cloud console",
    );
  }
  return candidate as ServiceAccountKey;
}

function base64UrlOfBytes(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function base64UrlOfJson(value: unknown): string {
  return base64UrlOfBytes(new TextEncoder().encode(JSON.stringify(value)));
}

/** The DER bytes inside a PEM block (`-----BEGIN PRIVATE KEY-----`). */
function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const base64 = pem
    .replace(/-----(BEGIN|END) [A-Z ]+-----/g, "")
    .replace(/\\n/g, "")
    .replace(/\s+/g, "");
  const binary = atob(base64);
  const der = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) der[index] = binary.charCodeAt(index);
  return der;
}

/** Imports the key's PKCS#8 private key for RSASSA-PKCS1-v1_5 with SHA-256 (JWT `RS256`). */
export async function importServiceAccountKey(key: ServiceAccountKey): Promise<CryptoKey> {
  if (key.private_key.includes("BEGIN RSA PRIVATE KEY")) {
    throw new ArtifactStoreError(
      "E_CONFIG",
      "[gcs] the private key is PKCS#1; service-account keys from Google are PKCS#8 (BEGIN PRIVATE KEY)",
    );
  }
  try {
    return await crypto.subtle.importKey(
      "pkcs8",
      pemToDer(key.private_key),
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["sign"],
    );
  } catch (error) {
    throw new ArtifactStoreError(
      "E_CONFIG",
      `[gcs] the service account's private_key could not be read: ${errorText(error)}`,
      { cause: error },
    );
  }
}

/**
 * Builds the signed JWT assertion of the OAuth2 JWT-bearer grant for a service account.
 * https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests
 *
 * @example
 * const assertion = await signServiceAccountJwt(key, { scope: STORAGE_READ_WRITE_SCOPE, nowSeconds: Date.now() / 1000 });
 */
export async function signServiceAccountJwt(
  key: ServiceAccountKey,
  options: { scope: string; nowSeconds: number; lifetimeSeconds?: number; signingKey?: CryptoKey },
): Promise<string> {
  const issuedAt = Math.floor(options.nowSeconds);
  const header = { alg: "RS256", typ: "JWT", ...(key.private_key_id ? { kid: key.private_key_id } : {}) };
  const claims = {
    iss: key.client_email,
    scope: options.scope,
    aud: key.token_uri ?? DEFAULT_TOKEN_URI,
    iat: issuedAt,
    // Google refuses assertions valid for more than an hour.
    exp: issuedAt + Math.min(3600, options.lifetimeSeconds ?? 3600),
  };
  const signingInput = `${base64UrlOfJson(header)}.${base64UrlOfJson(claims)}`;
  const signingKey = options.signingKey ?? (await importServiceAccountKey(key));
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", signingKey, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64UrlOfBytes(new Uint8Array(signature))}`;
}

export interface ServiceAccountTokenOptions {
  fetch: FetchLike;
  retry: RetryPolicy;
  scope?: string;
  /** Clock in ms (tests move it). */
  now?: () => number;
  /** Refresh this long before the token expires (default 5 minutes). */
  refreshMarginMs?: number;
}

/**
 * Access tokens for a service account: one token request, cached until `refreshMarginMs`
 * before expiry; concurrent callers share the request in flight.
 *
 * @example
 * const auth = createServiceAccountTokenProvider(key, { fetch, retry: retryPolicyOf() });
 * const header = await auth.authorization(); // "Bearer ya29…"
 */
export function createServiceAccountTokenProvider(
  key: ServiceAccountKey,
  options: ServiceAccountTokenOptions,
): AccessTokenProvider {
  const now = options.now ?? Date.now;
  const margin = options.refreshMarginMs ?? 5 * 60_000;
  const tokenUri = key.token_uri ?? DEFAULT_TOKEN_URI;
  let signingKey: Promise<CryptoKey> | undefined;
  let cached: { header: string; expiresAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  // https://developers.google.com/identity/protocols/oauth2/service-account#makingrequest
  async function fetchToken(): Promise<string> {
    signingKey ??= importServiceAccountKey(key);
    const assertion = await signServiceAccountJwt(key, {
      scope: options.scope ?? STORAGE_READ_WRITE_SCOPE,
      nowSeconds: now() / 1000,
      signingKey: await signingKey,
    });
    const body = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion });
    const action = `exchanging the key of ${key.client_email} for an access token`;
    for (let attempt = 1; ; attempt++) {
      let response: Response | undefined;
      let networkError: unknown;
      try {
        response = await options.fetch(tokenUri, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: body.toString(),
        });
      } catch (error) {
        networkError = error;
      }
      if (response?.ok) {
        const token = (await response.json()) as { access_token?: string; expires_in?: number; token_type?: string };
        if (!token.access_token) throw new ArtifactStoreError("E_BACKEND", `[gcs] ${action}: no access_token in reply`);
        cached = {
          header: `${token.token_type ?? "Bearer"} ${token.access_token}`,
          expiresAt: now() + (token.expires_in ?? 3600) * 1000,
        };
        return cached.header;
      }
      const retryable = response === undefined || isRetryableStatus(response.status);
      if (!retryable || attempt >= options.retry.maxAttempts) {
        if (response) throw await gcsFailure(response, action, "(token endpoint)", attempt);
        throw new ArtifactStoreError(
          "E_BACKEND_UNAVAILABLE",
          `[gcs] ${action}: ${tokenUri} could not be reached (${errorText(networkError)})`,
          { cause: networkError },
        );
      }
      const retryAfter = response?.headers.get("retry-after");
      if (response) await discard(response);
      const bound = Math.min(options.retry.maxDelayMs, options.retry.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.max(Number(retryAfter) * 1000 || 0, Math.random() * bound));
    }
  }

  return {
    refreshable: true,
    authorization() {
      if (cached && now() < cached.expiresAt - margin) return Promise.resolve(cached.header);
      inFlight ??= fetchToken().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

/**
 * A token someone else obtains: a fixed string (short-lived, from `gcloud auth print-access-token`),
 * a function asked before every request (a metadata server, workload identity), or the
 * emulator's `owner`.
 *
 * @example
 * const auth = createStaticTokenProvider(() => getTokenFromMetadataServer());
 */
export function createStaticTokenProvider(token: string | (() => Promise<string>)): AccessTokenProvider {
  return {
    refreshable: false,
    async authorization() {
      return `Bearer ${typeof token === "string" ? token : await token()}`;
    },
    invalidate() {},
  };
}

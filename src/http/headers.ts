/**
 * Parsing and formatting of the HTTP headers the API speaks: Accept-Encoding, Range,
 * RFC 9530 digests, ETag lists. Pure functions.
 */
import { sha256FromHex, toBase64, toHex } from "../codec/engines.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ContentRange } from "../core/content-range.ts";
import { assertJsonDepth } from "../core/names.ts";

/** True when the client accepts gzip (`gzip` or `*` with a non-zero q-value). */
export function acceptsGzip(header: string | null | undefined): boolean {
  if (!header) return false;
  // A client sends the same header with every request: the last answer is kept.
  if (header === lastAccepted.header) return lastAccepted.gzip;
  const gzip = gzipQuality(header) > 0;
  lastAccepted.header = header;
  lastAccepted.gzip = gzip;
  return gzip;
}

const lastAccepted = { header: "", gzip: false };

function gzipQuality(header: string): number {
  let gzip: number | undefined;
  let wildcard: number | undefined;
  for (const part of header.split(",")) {
    const [rawName, ...parameters] = part.trim().split(";");
    const name = rawName?.trim().toLowerCase();
    const qParameter = parameters
      .map((parameter) => parameter.trim())
      .find((parameter) => parameter.toLowerCase().startsWith("q="));
    const q = qParameter ? Number(qParameter.slice(2)) : 1;
    if (name === "gzip" || name === "x-gzip") gzip = Number.isFinite(q) ? q : 0;
    else if (name === "*") wildcard = Number.isFinite(q) ? q : 0;
  }
  return gzip ?? wildcard ?? 0;
}

/**
 * One byte range of `Range: bytes=…` (RFC 9110 §14.1.2). Returns undefined for absent or
 * ignorable headers (other units, several ranges: the server then sends the whole content).
 */
export function parseRangeHeader(header: string | null | undefined): ContentRange | undefined {
  if (!header) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) {
    if (/^\s*bytes\s*=/i.test(header) && !header.includes(",")) {
      throw new ArtifactStoreError("E_RANGE", `malformed Range header ${JSON.stringify(header.slice(0, 100))}`);
    }
    return undefined;
  }
  const [, first, last] = match;
  if (!first && !last) throw new ArtifactStoreError("E_RANGE", "Range needs a start or a suffix length");
  // A last position past the content, however large, means "to the end" (RFC 9110 §14.1.2).
  if (!first) return { suffixLength: Math.min(Number(last), Number.MAX_SAFE_INTEGER) };
  const offset = Number(first);
  if (!last) return { offset };
  const end = Number(last);
  if (end < offset) throw new ArtifactStoreError("E_RANGE", "Range end is before its start");
  if (!Number.isSafeInteger(end)) return { offset };
  return { offset, length: end - offset + 1 };
}

/** `sha-256=:<base64>:` (RFC 9530) for a hex SHA-256. */
export function digestField(hexChecksum: string): string {
  return `sha-256=:${toBase64(sha256FromHex(hexChecksum) ?? new Uint8Array(0))}:`;
}

/**
 * The SHA-256 (hex) in a `Content-Digest`/`Repr-Digest` field, or undefined when it names no
 * sha-256. A sha-256 entry that is not 32 bytes of base64 is an error, not a silent skip.
 */
export function parseDigestField(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  for (const member of header.split(",")) {
    const match = /^\s*sha-256\s*=\s*:([A-Za-z0-9+/=]*):\s*$/i.exec(member);
    if (!match) continue;
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.from(atob(match[1] as string), (character) => character.charCodeAt(0));
    } catch {
      bytes = new Uint8Array(0);
    }
    if (bytes.length !== 32)
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        "Content-Digest sha-256 must be 32 bytes of base64 between colons",
      );
    return toHex(bytes);
  }
  if (/sha-256/i.test(header))
    throw new ArtifactStoreError("E_INVALID_INPUT", "malformed Content-Digest; expected sha-256=:<base64>:");
  return undefined;
}

/** True when an `If-None-Match` list holds `etag` (weak comparison, as RFC 9110 asks for GET). */
export function etagMatches(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return ifNoneMatch.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === bare);
}

/**
 * `If-Range` (RFC 9110 §13.1.5): true when the validator is a strong ETag naming the version the
 * server has now (either of its SHA-256s, stored or decoded). A date never matches: dates have
 * one-second granularity and two versions can share one. Anything else means the client's
 * earlier bytes may belong to another version: it gets the whole current representation, never
 * a spliced range.
 */
export function ifRangeMatches(ifRange: string, current: { checksum: string; originalChecksum: string }): boolean {
  const validator = ifRange.trim();
  return validator === `"${current.originalChecksum}"` || validator === `"${current.checksum}"`;
}

/** Comma-separated tags of `X-Artifact-Tags`. */
export function parseTagsHeader(header: string | null | undefined): string[] | undefined {
  if (header === null || header === undefined) return undefined;
  return header
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => tag.length > 0);
}

/** The JSON object of `X-Artifact-Metadata`. */
export function parseMetadataHeader(header: string | null | undefined): Record<string, unknown> | undefined {
  if (header === null || header === undefined || header === "") return undefined;
  assertJsonDepth(header, "metadata");
  let value: unknown;
  try {
    value = JSON.parse(header);
  } catch {
    throw new ArtifactStoreError("E_INVALID_INPUT", "X-Artifact-Metadata must be a JSON object", {
      details: { field: "metadata" },
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "X-Artifact-Metadata must be a JSON object", {
      details: { field: "metadata" },
    });
  }
  return value as Record<string, unknown>;
}

/** The headers of a 201 for a new version (upload, seal): where it is, its number, and any quota warning. */
export function createdHeaders(result: {
  specName: string;
  taskId: string;
  type: string;
  version: number;
  warnings: string[];
}): Record<string, string> {
  const headers: Record<string, string> = {
    Location: `/v1/artifacts/${result.specName}/${result.taskId}/${result.type}?version=${result.version}`,
    "X-Artifact-Version": String(result.version),
  };
  if (result.warnings.length > 0) headers["X-Artifact-Warning"] = result.warnings.join("; ");
  return headers;
}

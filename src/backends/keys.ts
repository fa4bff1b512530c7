import { ArtifactStoreError } from "../contracts/errors.ts";

/** An empty, `.` or `..` segment: a key starting or ending with `/`, or holding `//`, has an empty one. */
const BAD_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * Refuses keys no backend should hold: empty, absolute, with empty, `.` or `..` segments,
 * backslashes or control characters. The store only builds safe keys; this guards direct use.
 */
export function assertValidKey(key: string, backendName: string): void {
  const bad =
    key.length === 0 ||
    key.length > 1024 ||
    key.startsWith("/") ||
    key.includes("\\") ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    /[\u0000-\u001f\u007f]/.test(key) ||
    BAD_SEGMENT.test(key);
  if (bad) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `[${backendName}] invalid object key ${JSON.stringify(key)}`);
  }
}

/** Keys of characters a URL path keeps as they are (`pathToFileURL` encodes `~`, spaces, `%`, …). */
export const PLAIN_KEY = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

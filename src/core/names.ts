import { ArtifactStoreError } from "../contracts/errors.ts";

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const TAG_PATTERN = /^[A-Za-z0-9._:=@+-]{1,128}$/;
export const MAX_TAGS = 64;

/**
 * Checks a spec name or task id: 1–128 letters, digits, `.`, `_`, `-`; no leading dot, no `..`.
 * Runs before any I/O, so a bad name never reaches a backend key or a SQL row.
 */
export function assertValidName(field: "specName" | "taskId" | "type", value: unknown): string {
  if (typeof value !== "string") {
    throw new ArtifactStoreError("E_INVALID_NAME", `${field} must be a string, got ${typeof value}`, {
      details: { field },
    });
  }
  if (!NAME_PATTERN.test(value) || value.startsWith(".") || value.includes("..")) {
    throw new ArtifactStoreError(
      "E_INVALID_NAME",
      `${field} ${JSON.stringify(truncate(value))} is not allowed: use 1-128 letters, digits, '.', '_' or '-', ` +
        "not starting with '.' and without '..'",
      { details: { field } },
    );
  }
  return value;
}

/** Tags: 1–128 characters of letters, digits and `. _ : = @ + -`; at most 64 per artifact. */
export function normalizeTags(tags: readonly unknown[] | undefined): string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "tags must be an array of strings");
  }
  const unique = new Set<string>();
  for (const tag of tags) {
    if (typeof tag !== "string" || !TAG_PATTERN.test(tag)) {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        `tag ${typeof tag === "string" ? JSON.stringify(truncate(tag)) : `of type ${Array.isArray(tag) ? "array" : typeof tag}`} is not allowed: use 1-128 letters, digits or . _ : = @ + -`,
        { details: { field: "tags" } },
      );
    }
    unique.add(tag);
  }
  if (unique.size > MAX_TAGS) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `at most ${MAX_TAGS} tags per artifact, got ${unique.size}`, {
      details: { field: "tags" },
    });
  }
  return [...unique].sort();
}

/** Checks user metadata: a plain JSON object of at most 64 KiB when serialized. */
export function normalizeUserMetadata(metadata: unknown): Record<string, unknown> {
  if (metadata === undefined || metadata === null) return {};
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "metadata must be a JSON object", {
      details: { field: "metadata" },
    });
  }
  let serialized: string;
  try {
    serialized = JSON.stringify(metadata);
  } catch (error) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "metadata must be serializable as JSON", {
      cause: error,
      details: { field: "metadata" },
    });
  }
  if (serialized.length > 65_536) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "metadata must be at most 64 KiB as JSON", {
      details: { field: "metadata" },
    });
  }
  assertJsonDepth(serialized, "metadata");
  return JSON.parse(serialized) as Record<string, unknown>;
}

/** How deep JSON a caller sends may nest: deeper documents are refused before they are parsed or walked. */
export const MAX_JSON_DEPTH = 32;

/**
 * Refuses JSON text whose arrays and objects nest deeper than {@link MAX_JSON_DEPTH}: parsing,
 * printing or rendering such a document recurses once per level and can exhaust the stack.
 * One linear scan; brackets inside strings do not count.
 */
export function assertJsonDepth(text: string, field: string): void {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c)
        index++; // backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new ArtifactStoreError("E_INVALID_INPUT", `${field} nests deeper than ${MAX_JSON_DEPTH} levels`, {
          details: { field },
        });
      }
    } else if (code === 0x5d || code === 0x7d) depth--;
  }
}

/** Checks a version number given by a caller. */
export function assertValidVersion(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `version must be a positive integer, got ${String(value)}`, {
      details: { field: "version" },
    });
  }
  return value;
}

function truncate(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}

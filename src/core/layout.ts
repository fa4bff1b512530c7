/**
 * The storage layout, in one place: where a version's blob and its metadata file go, how an
 * object key is read back, where live-log chunks go, and the metadata file's format.
 *
 * Today's layout: `<spec>/<task>/v<N>/<file>[.gz]` for the blob and
 * `<spec>/<task>/v<N>/<type>.metadata.json` beside it; live chunks under `.live/`.
 * A change of layout is a change of this file (and a conversion command), nothing else: the
 * metadata database builds keys from {@link blobLocation}, gc and reindex read them with
 * {@link parseKey}, and reindex reads sidecars with {@link parseSidecar}.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { RestoreInput } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { ArtifactMetadata, ArtifactSecrets, ArtifactTypeDefinition, SecretFinding } from "../contracts/types.ts";
import { expiryFor } from "../lib/time.ts";
import { assertValidName } from "./names.ts";

/** The sidecar format this store writes; sidecars with another version are not read. */
export const SIDECAR_FORMAT_VERSION = 1;
const SIDECAR_SUFFIX = ".metadata.json";
/** Live-log chunks live under this prefix, outside every artifact's folder. */
export const LIVE_PREFIX = ".live/";

/** Object key of a version's blob: `<spec>/<task>/v<N>/<file>[.gz]`. */
export function blobKey(
  specName: string,
  taskId: string,
  version: number,
  type: ArtifactTypeDefinition,
  compressed: boolean,
): string {
  return `${specName}/${taskId}/v${version}/${type.fileName}${compressed ? ".gz" : ""}`;
}

/**
 * Where the versions of one artifact go, as the metadata layer needs it to build a key and URI
 * from a version number in SQL: key = `keyPrefix + version + keySuffix`, URI = `uriPrefix + key`.
 */
export function blobLocation(
  backend: Pick<StorageBackend, "name" | "uriFor">,
  specName: string,
  taskId: string,
  type: ArtifactTypeDefinition,
  compressed: boolean,
): { keyPrefix: string; keySuffix: string; uriPrefix: string } {
  const keyPrefix = `${specName}/${taskId}/v`;
  const keySuffix = `/${type.fileName}${compressed ? ".gz" : ""}`;
  const sample = `${keyPrefix}1${keySuffix}`;
  const uri = backend.uriFor(sample);
  if (!uri.endsWith(sample)) {
    throw new ArtifactStoreError(
      "E_CONFIG",
      `[${backend.name}] uriFor must end with the key it names (got ${uri} for ${sample})`,
    );
  }
  return { keyPrefix, keySuffix, uriPrefix: uri.slice(0, uri.length - sample.length) };
}

/** Object key of a version's sidecar (its metadata file): `<spec>/<task>/v<N>/<type>.metadata.json`. */
export function sidecarKey(specName: string, taskId: string, version: number, typeName: string): string {
  return `${specName}/${taskId}/v${version}/${typeName}${SIDECAR_SUFFIX}`;
}

/** A key the store wrote for a version, read back. */
export type KeyLayout =
  | { kind: "blob"; specName: string; taskId: string; version: number; fileName: string }
  | { kind: "sidecar"; specName: string; taskId: string; version: number; type: string };

/** What a key names under this layout, or null for keys the store did not write (or live chunks). */
export function parseKey(key: string): KeyLayout | null {
  const parts = key.split("/");
  if (parts.length !== 4) return null;
  const [specName, taskId, versionPart, fileName] = parts as [string, string, string, string];
  const version = /^v(\d{1,15})$/.exec(versionPart)?.[1];
  if (!version) return null;
  try {
    assertValidName("specName", specName);
    assertValidName("taskId", taskId);
  } catch {
    return null;
  }
  if (fileName.endsWith(SIDECAR_SUFFIX)) {
    const type = fileName.slice(0, -SIDECAR_SUFFIX.length);
    return { kind: "sidecar", specName, taskId, version: Number(version), type };
  }
  return { kind: "blob", specName, taskId, version: Number(version), fileName };
}

/** The type whose blob file name this is (with or without `.gz`), if any. */
export function typeOfBlobFile(
  types: Iterable<ArtifactTypeDefinition>,
  fileName: string,
): ArtifactTypeDefinition | undefined {
  for (const type of types) if (fileName === type.fileName || fileName === `${type.fileName}.gz`) return type;
  return undefined;
}

/** Key prefix of one live log's chunks. */
export function liveChunkPrefix(ref: { specName: string; taskId: string; type: string }, session: string): string {
  return `${LIVE_PREFIX}${ref.specName}/${ref.taskId}/${ref.type}/${session}/`;
}

/** Key of a live-log chunk: `.live/<spec>/<task>/<type>/<session>/<seq>-<sha256 prefix>`. */
export function liveChunkKey(
  ref: { specName: string; taskId: string; type: string },
  session: string,
  seq: number,
  checksum: string,
): string {
  return `${liveChunkPrefix(ref, session)}${String(seq).padStart(10, "0")}-${checksum.slice(0, 16)}`;
}

/** The session a live-log chunk's key belongs to, or undefined for keys outside `.live/`. */
export function liveChunkSession(key: string): string | undefined {
  if (!key.startsWith(LIVE_PREFIX)) return undefined;
  // `.live/<spec>/<task>/<type>/<session>/<seq>-<sha256 prefix>`
  return key.slice(LIVE_PREFIX.length).split("/")[3];
}

/** The sidecar of a version: its public metadata and the format version, as pretty JSON. */
export function encodeSidecar(metadata: ArtifactMetadata): Uint8Array {
  return new TextEncoder().encode(
    `${JSON.stringify({ formatVersion: SIDECAR_FORMAT_VERSION, ...metadata }, null, 2)}\n`,
  );
}

/**
 * Reads a sidecar back for `reindex`: the row to restore, or why it cannot be used.
 * The caller checks the blob itself (that it exists with the recorded size).
 */
export function parseSidecar(
  text: string,
  expected: { specName: string; taskId: string; version: number; type: ArtifactTypeDefinition },
  backend: Pick<StorageBackend, "uriFor">,
): RestoreInput | string {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return "sidecar is not valid JSON";
  }
  if (typeof data !== "object" || data === null) return "sidecar is not valid JSON";
  if (data.formatVersion !== SIDECAR_FORMAT_VERSION) {
    return `sidecar format version ${JSON.stringify(data.formatVersion ?? null)} is not ${SIDECAR_FORMAT_VERSION}, the one this store reads`;
  }
  const hex = (value: unknown) => typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
  const count = (value: unknown) => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
  const { type } = expected;
  if (
    data.specName !== expected.specName ||
    data.taskId !== expected.taskId ||
    data.type !== type.name ||
    data.version !== expected.version ||
    !hex(data.checksum) ||
    !hex(data.originalChecksum) ||
    !count(data.size) ||
    !count(data.originalSize) ||
    typeof data.compressed !== "boolean" ||
    typeof data.createdAt !== "string" ||
    !Number.isFinite(Date.parse(data.createdAt))
  ) {
    return "sidecar does not describe this version";
  }
  const storageKey = blobKey(expected.specName, expected.taskId, expected.version, type, data.compressed);
  const createdAt = Date.parse(data.createdAt);
  const expiresAt =
    typeof data.expiresAt === "string" && Number.isFinite(Date.parse(data.expiresAt))
      ? Date.parse(data.expiresAt)
      : expiryFor(createdAt, type.retentionDays);
  return {
    specName: expected.specName,
    taskId: expected.taskId,
    type: type.name,
    version: expected.version,
    uri: backend.uriFor(storageKey),
    storageKey,
    size: data.size as number,
    checksum: data.checksum as string,
    originalSize: data.originalSize as number,
    originalChecksum: data.originalChecksum as string,
    compressed: data.compressed,
    mimeType: typeof data.mimeType === "string" ? data.mimeType : type.mimeType,
    metadata:
      typeof data.metadata === "object" && data.metadata !== null ? (data.metadata as Record<string, unknown>) : {},
    tags: Array.isArray(data.tags) ? data.tags.filter((tag): tag is string => typeof tag === "string") : [],
    pinned: data.pinned === true,
    createdAt,
    expiresAt,
    ...withSecrets(sidecarSecrets(data.secrets)),
  };
}

function withSecrets(secrets: ArtifactSecrets | null): { secrets?: ArtifactSecrets } {
  return secrets ? { secrets } : {};
}

/** The sidecar's `secrets`, when it has the shape the store writes (rule names, counts, lines). */
function sidecarSecrets(value: unknown): ArtifactSecrets | null {
  if (typeof value !== "object" || value === null) return null;
  const { mode, findings } = value as { mode?: unknown; findings?: unknown };
  if ((mode !== "mask" && mode !== "flag") || !Array.isArray(findings)) return null;
  const valid = findings.filter(
    (finding): finding is SecretFinding =>
      typeof finding === "object" &&
      finding !== null &&
      typeof finding.rule === "string" &&
      /^[a-z0-9:_-]{1,80}$/i.test(finding.rule) &&
      Number.isSafeInteger(finding.count) &&
      Array.isArray(finding.lines) &&
      finding.lines.every((line: unknown) => Number.isSafeInteger(line)),
  );
  return valid.length === 0
    ? null
    : { mode, findings: valid.map(({ rule, count, lines }) => ({ rule, count, lines })) };
}

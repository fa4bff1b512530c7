/**
 * The storage layout, in one place: where a version's blob goes while it uploads, while it is
 * the current version and once an older version is kept; where the per-task `metadata.json` and
 * the root `metadata-index.json` go (their formats: layout-files.ts); how an object key is read
 * back; URIs; live-log chunk keys.
 *
 * The seed's tree (DESIGN.md, "Storage layout"):
 * - `<spec>/<task>/<file>[.gz]`: the current version of each type (`diff.txt.gz`, …);
 * - `<spec>/<task>/versions/v<N>/<file>[.gz]`: older versions, kept when versioning is on;
 * - `<spec>/<task>/metadata.json`: the task's committed versions with the seed's field names;
 * - `metadata-index.json`: a per spec and task summary;
 * - `.store/`: the store's own files (database, staging, uploads in progress under
 *   `.store/uploads/`, live-log chunks under `.store/live/`; a previous release kept those under
 *   `.live/`, still read and cleaned up there).
 * URIs are never stored: {@link uriFor} computes them from the backend's current location and
 * {@link refFromUri} reads them back.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { ArtifactRef, ArtifactTypeDefinition } from "../contracts/types.ts";
import { assertValidName } from "./names.ts";

/** Name of each task's metadata file. */
export const TASK_METADATA_FILE = "metadata.json";
/** Key of the store-wide summary. */
export const INDEX_KEY = "metadata-index.json";
/** Folder, inside a task's folder, that keeps older versions (`versions/v<N>/<file>`). */
export const VERSIONS_FOLDER = "versions";
/** Uploads in progress (pending rows) put their bytes under this prefix. */
export const UPLOADS_PREFIX = ".store/uploads/";
/** Live-log chunks live under this prefix, outside every artifact's folder. */
export const LIVE_PREFIX = ".store/live/";
/** Where releases before 0.x kept live-log chunks: their open logs' chunks are read, removed and swept there too. */
export const LEGACY_LIVE_PREFIX = ".live/";
/** Every prefix live-log chunks may be under. */
export const LIVE_PREFIXES = [LIVE_PREFIX, LEGACY_LIVE_PREFIX] as const;

function fileOf(type: ArtifactTypeDefinition, compressed: boolean): string {
  return `${type.fileName}${compressed ? ".gz" : ""}`;
}

/** Key of the current version (the seed path): `<spec>/<task>/<file>[.gz]`. */
export function currentKey(
  specName: string,
  taskId: string,
  type: ArtifactTypeDefinition,
  compressed: boolean,
): string {
  return `${specName}/${taskId}/${fileOf(type, compressed)}`;
}

/** Key of a kept older version: `<spec>/<task>/versions/v<N>/<file>[.gz]`. */
export function versionKey(
  specName: string,
  taskId: string,
  version: number,
  type: ArtifactTypeDefinition,
  compressed: boolean,
): string {
  return `${specName}/${taskId}/${VERSIONS_FOLDER}/v${version}/${fileOf(type, compressed)}`;
}

/**
 * Key of an upload in progress: `.store/uploads/<spec>/<task>/v<N>.<keep|replace>.<file>[.gz]`.
 * The name records the intent (keep the current version as an older one, or replace it), so a
 * publish a crash interrupted is finished as it was meant, whatever the config is now. One file
 * per upload in a folder per task: no folder to create (and fsync) per version.
 */
export function uploadKey(
  specName: string,
  taskId: string,
  version: number,
  type: ArtifactTypeDefinition,
  compressed: boolean,
  keepOlder: boolean,
): string {
  return `${UPLOADS_PREFIX}${specName}/${taskId}/v${version}.${keepOlder ? "keep" : "replace"}.${fileOf(type, compressed)}`;
}

/** Key of a task's `metadata.json`. */
export function taskMetadataKey(specName: string, taskId: string): string {
  return `${specName}/${taskId}/${TASK_METADATA_FILE}`;
}

/**
 * Where a new version's upload goes, as the metadata layer needs it to build the key from a
 * version number in SQL: key = `keyPrefix + version + keySuffix`. (The database's legacy `uri`
 * column gets the same unique text; URIs are computed, see {@link uriFor}.)
 */
export function blobLocation(
  specName: string,
  taskId: string,
  type: ArtifactTypeDefinition,
  compressed: boolean,
  keepOlder: boolean,
): { keyPrefix: string; keySuffix: string; uriPrefix: string } {
  return {
    keyPrefix: `${UPLOADS_PREFIX}${specName}/${taskId}/v`,
    keySuffix: `.${keepOlder ? "keep" : "replace"}.${fileOf(type, compressed)}`,
    uriPrefix: "",
  };
}

/** A key the store wrote, read back. */
export type KeyLayout =
  | { kind: "current"; specName: string; taskId: string; fileName: string }
  | { kind: "version"; specName: string; taskId: string; version: number; fileName: string }
  | { kind: "upload"; specName: string; taskId: string; version: number; keepOlder: boolean; fileName: string }
  | { kind: "task-metadata"; specName: string; taskId: string }
  | { kind: "index" };

function validNames(specName: string, taskId: string): boolean {
  try {
    assertValidName("specName", specName);
    assertValidName("taskId", taskId);
    return true;
  } catch {
    return false;
  }
}

/** What a key names under this layout, or null for keys the store did not write (or live chunks). */
export function parseKey(key: string): KeyLayout | null {
  if (key === INDEX_KEY) return { kind: "index" };
  const upload = key.startsWith(UPLOADS_PREFIX);
  const parts = (upload ? key.slice(UPLOADS_PREFIX.length) : key).split("/");
  const number = (part: string | undefined) => {
    const digits = /^v(\d{1,15})$/.exec(part ?? "")?.[1];
    return digits === undefined ? undefined : Number(digits);
  };
  const [specName, taskId] = parts as [string, string];
  if (parts.length < 3 || !validNames(specName, taskId)) return null;
  if (upload) {
    const name = parts.length === 3 ? /^v(\d{1,15})\.(keep|replace)\.(.+)$/.exec(parts[2] as string) : null;
    if (!name) return null;
    const [, version, intent, fileName] = name as unknown as [string, string, string, string];
    return { kind: "upload", specName, taskId, version: Number(version), keepOlder: intent === "keep", fileName };
  }
  if (parts.length === 3) {
    const fileName = parts[2] as string;
    if (fileName === TASK_METADATA_FILE) return { kind: "task-metadata", specName, taskId };
    return { kind: "current", specName, taskId, fileName };
  }
  const version = number(parts[3]);
  if (parts.length === 5 && parts[2] === VERSIONS_FOLDER && version !== undefined) {
    return { kind: "version", specName, taskId, version, fileName: parts[4] as string };
  }
  return null;
}

/** The type whose blob file name this is (with or without `.gz`), if any. */
export function typeOfBlobFile(
  types: Iterable<ArtifactTypeDefinition>,
  fileName: string,
): ArtifactTypeDefinition | undefined {
  for (const type of types) if (fileName === type.fileName || fileName === `${type.fileName}.gz`) return type;
  return undefined;
}

/** What a URI is built from: the artifact, and its version when the URI names one. */
export interface UriSubject {
  specName: string;
  taskId: string;
  type: ArtifactTypeDefinition;
  compressed: boolean;
  version?: number;
}

/**
 * The URI of an artifact at the store's current location: `<backend URI of the seed path>`
 * (always the current version) or, with a version, `…?version=N` (that version, wherever it is
 * kept). Computed on every call, never stored: a store moved elsewhere names its new place.
 */
export function uriFor(backend: Pick<StorageBackend, "uriFor">, subject: UriSubject): string {
  const base = backend.uriFor(currentKey(subject.specName, subject.taskId, subject.type, subject.compressed));
  return subject.version === undefined ? base : `${base}?version=${subject.version}`;
}

/**
 * The artifact a URI names, or null when it is not one of this store's URIs. Accepted forms:
 * the seed path (current version), the seed path with `?version=N`, and the location of a
 * kept version (`…/versions/v<N>/<file>`).
 */
export function refFromUri(
  backend: Pick<StorageBackend, "uriFor">,
  types: Iterable<ArtifactTypeDefinition>,
  uri: string,
): ArtifactRef | null {
  const sample = "s/t/f";
  const sampleUri = backend.uriFor(sample);
  const prefix = sampleUri.slice(0, sampleUri.length - sample.length);
  if (!uri.startsWith(prefix)) return null;
  const [path = "", query] = uri.slice(prefix.length).split("?", 2) as [string, string | undefined];
  let version: number | undefined;
  if (query !== undefined) {
    const match = /^version=(\d{1,15})$/.exec(query);
    if (!match) return null;
    version = Number(match[1]);
  }
  const layout = parseKey(path);
  if (!layout || (layout.kind !== "current" && layout.kind !== "version")) return null;
  if (layout.kind === "version") {
    if (version !== undefined && version !== layout.version) return null;
    version = layout.version;
  }
  const type = typeOfBlobFile(types, layout.fileName);
  if (!type) return null;
  return {
    specName: layout.specName,
    taskId: layout.taskId,
    type: type.name,
    ...(version === undefined ? {} : { version }),
  };
}

/** Key prefix of one live log's chunks (`root`: a previous release's `.live/` when removing its chunks). */
export function liveChunkPrefix(
  ref: { specName: string; taskId: string; type: string },
  session: string,
  root: string = LIVE_PREFIX,
): string {
  return `${root}${ref.specName}/${ref.taskId}/${ref.type}/${session}/`;
}

/** Key of a live-log chunk: `.store/live/<spec>/<task>/<type>/<session>/<seq>-<sha256 prefix>`. */
export function liveChunkKey(
  ref: { specName: string; taskId: string; type: string },
  session: string,
  seq: number,
  checksum: string,
): string {
  return `${liveChunkPrefix(ref, session)}${String(seq).padStart(10, "0")}-${checksum.slice(0, 16)}`;
}

/** The session a live-log chunk's key belongs to, or undefined for keys outside the live prefixes. */
export function liveChunkSession(key: string): string | undefined {
  const root = LIVE_PREFIXES.find((prefix) => key.startsWith(prefix));
  if (root === undefined) return undefined;
  // `<root><spec>/<task>/<type>/<session>/<seq>-<sha256 prefix>`
  return key.slice(root.length).split("/")[3];
}

/** A URI argument that is not one of this store's URIs. */
export function unknownUri(uri: string): ArtifactStoreError {
  return new ArtifactStoreError("E_NOT_FOUND", `no artifact ${uri}: not a URI of this store`);
}

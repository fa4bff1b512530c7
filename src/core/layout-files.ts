import type { IndexTaskSummary, RestoreInput } from "../contracts/metadata-repository.ts";
import type { ArtifactMetadata, ArtifactSecrets, ArtifactTypeDefinition, SecretFinding } from "../contracts/types.ts";
import { currentKey, uploadKey, versionKey } from "./layout.ts";

/** The `metadata.json` format this store writes; files with another `format_version` are not read. */
export const TASK_METADATA_FORMAT_VERSION = 1;

/** One version as `metadata.json` lists it: the metadata and the key its bytes are at. */
export interface TaskMetadataEntry {
  metadata: ArtifactMetadata;
  storageKey: string;
}

/**
 * A task's `metadata.json`: the seed's `ArtifactMetadata` field names (snake_case) for every
 * committed version of the task, plus the fields this store adds (`original_checksum`,
 * `pinned`, `integrity`, `summary`, `location`: the key of the bytes under the store's root).
 */
export function encodeTaskMetadata(specName: string, taskId: string, entries: TaskMetadataEntry[]): Uint8Array {
  const artifacts = entries.map(({ metadata, storageKey }) => ({
    uri: metadata.uri,
    task_id: metadata.taskId,
    spec_name: metadata.specName,
    type: metadata.type,
    size: metadata.size,
    checksum: metadata.checksum,
    created_at: metadata.createdAt,
    compressed: metadata.compressed,
    original_size: metadata.originalSize,
    mime_type: metadata.mimeType,
    tags: metadata.tags,
    version: metadata.version,
    metadata: metadata.metadata,
    original_checksum: metadata.originalChecksum,
    pinned: metadata.pinned,
    integrity: metadata.integrity,
    location: storageKey,
    summary: metadata.summary ?? null,
    ...(metadata.secrets ? { secrets: metadata.secrets } : {}),
  }));
  const document = { format_version: TASK_METADATA_FORMAT_VERSION, spec_name: specName, task_id: taskId, artifacts };
  return new TextEncoder().encode(`${JSON.stringify(document, null, 2)}\n`);
}

/**
 * Reads a task's `metadata.json` back for `reindex`: one row to restore per version, or why an
 * entry (or the whole file) cannot be used. The caller checks each blob (exists, recorded size).
 */
export function parseTaskMetadata(
  text: string,
  expected: { specName: string; taskId: string },
  types: ReadonlyMap<string, ArtifactTypeDefinition>,
): { restores: RestoreInput[]; problems: string[] } | string {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return "metadata.json is not valid JSON";
  }
  if (typeof data !== "object" || data === null) return "metadata.json is not valid JSON";
  if (data.format_version !== TASK_METADATA_FORMAT_VERSION) {
    return `metadata.json format_version ${JSON.stringify(data.format_version ?? null)} is not ${TASK_METADATA_FORMAT_VERSION}, the one this store reads`;
  }
  if (!Array.isArray(data.artifacts)) return "metadata.json has no artifacts list";
  const hex = (value: unknown) => typeof value === "string" && /^[0-9a-f]{64}$/.test(value);
  const count = (value: unknown) => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
  const restores: RestoreInput[] = [];
  const problems: string[] = [];
  for (const raw of data.artifacts as Record<string, unknown>[]) {
    const type = typeof raw?.type === "string" ? types.get(raw.type) : undefined;
    const label = `${expected.specName}/${expected.taskId}/${String(raw?.type)} v${String(raw?.version)}`;
    if (!type) {
      problems.push(`${label}: type ${String(raw?.type)} is not configured`);
      continue;
    }
    const version = raw.version;
    if (
      raw.spec_name !== expected.specName ||
      raw.task_id !== expected.taskId ||
      typeof version !== "number" ||
      !Number.isSafeInteger(version) ||
      version < 1 ||
      !hex(raw.checksum) ||
      !hex(raw.original_checksum) ||
      !count(raw.size) ||
      !count(raw.original_size) ||
      typeof raw.compressed !== "boolean" ||
      typeof raw.created_at !== "string" ||
      !Number.isFinite(Date.parse(raw.created_at))
    ) {
      problems.push(`${label}: the entry does not describe a version of this task`);
      continue;
    }
    const compressed = raw.compressed;
    const storageKey =
      raw.location === versionKey(expected.specName, expected.taskId, version, type, compressed)
        ? raw.location
        : currentKey(expected.specName, expected.taskId, type, compressed);
    restores.push({
      specName: expected.specName,
      taskId: expected.taskId,
      type: type.name,
      version,
      uri: uploadKey(expected.specName, expected.taskId, version, type, compressed, false),
      storageKey,
      size: raw.size as number,
      checksum: raw.checksum as string,
      originalSize: raw.original_size as number,
      originalChecksum: raw.original_checksum as string,
      compressed,
      mimeType: typeof raw.mime_type === "string" ? raw.mime_type : type.mimeType,
      metadata:
        typeof raw.metadata === "object" && raw.metadata !== null && !Array.isArray(raw.metadata)
          ? (raw.metadata as Record<string, unknown>)
          : {},
      tags: Array.isArray(raw.tags) ? raw.tags.filter((tag): tag is string => typeof tag === "string") : [],
      pinned: raw.pinned === true,
      createdAt: Date.parse(raw.created_at),
      expiresAt: null,
      ...withSecrets(sidecarSecrets(raw.secrets)),
    });
  }
  return { restores, problems };
}

/** `metadata-index.json`: `{ format_version, updated_at, specs: { <spec>: { <task>: { types, bytes, last_upload } } } }`. */
export function encodeIndex(rows: IndexTaskSummary[], updatedAt: number): Uint8Array {
  const specs: Record<
    string,
    Record<string, { types: Record<string, { version: number; versions: number }>; bytes: number; last_upload: string }>
  > = {};
  for (const row of rows) {
    const tasks = specs[row.specName] ?? {};
    specs[row.specName] = tasks;
    const task = tasks[row.taskId] ?? { types: {}, bytes: 0, last_upload: new Date(0).toISOString() };
    tasks[row.taskId] = task;
    task.types[row.type] = { version: row.latestVersion, versions: row.versions };
    task.bytes += row.storedBytes;
    const last = new Date(row.lastUploadAt).toISOString();
    if (last > task.last_upload) task.last_upload = last;
  }
  const document = {
    format_version: TASK_METADATA_FORMAT_VERSION,
    updated_at: new Date(updatedAt).toISOString(),
    specs,
  };
  return new TextEncoder().encode(`${JSON.stringify(document)}\n`);
}

function withSecrets(secrets: ArtifactSecrets | null): { secrets?: ArtifactSecrets } {
  return secrets ? { secrets } : {};
}

/** The `secrets` of a metadata.json entry, when it has the shape the store writes (rule names, counts, lines). */
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

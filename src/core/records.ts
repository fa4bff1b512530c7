/** A version's row as the core uses it: looked up from what a user names, made public, its objects moved and removed. */

import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRecord, ArtifactRow, MetadataRepository } from "../contracts/metadata-repository.ts";
import type { StorageBackend } from "../contracts/storage-backend.ts";
import type { ArtifactRef, ArtifactTarget, ArtifactTypeDefinition } from "../contracts/types.ts";
import { DAY_MS, isoTime } from "../lib/time.ts";
import type { StoreContext } from "./context.ts";
import { refFromUri, unknownUri, uriFor } from "./layout.ts";
import { assertValidName, assertValidVersion } from "./names.ts";

/** A record (or a bare row) without what only the store uses: its id and storage key. */
export function publicMetadata<R extends ArtifactRow>(record: R): Omit<R, "id" | "storageKey"> {
  const { id: _id, storageKey: _storageKey, ...metadata } = record;
  return metadata;
}

/** The type definition of a record's type, even when config no longer declares it. */
function typeOf(types: ReadonlyMap<string, ArtifactTypeDefinition>, name: string): ArtifactTypeDefinition {
  return types.get(name) ?? { name, fileName: name, mimeType: "application/octet-stream", retentionDays: null };
}

/**
 * The metadata repository with two fields of every record computed, never read from a column:
 * `uri`, from the backend's current location (the version-specific form when versioning is on,
 * else the URI that always means the current version), and `expiresAt`, from the *current*
 * retention policy (null when pinned or kept forever).
 */
export function withComputedFields(
  metadata: MetadataRepository,
  backend: Pick<StorageBackend, "uriFor">,
  types: ReadonlyMap<string, ArtifactTypeDefinition>,
  versioningEnabled: boolean,
): MetadataRepository {
  const isRecord = (value: unknown): value is ArtifactRecord =>
    typeof value === "object" &&
    value !== null &&
    "storageKey" in value &&
    "originalChecksum" in value &&
    "version" in value &&
    "specName" in value;
  const present = (value: unknown, depth: number): unknown => {
    if (depth > 2 || typeof value !== "object" || value === null) return value;
    if (Array.isArray(value)) return value.map((item) => present(item, depth + 1));
    if (isRecord(value)) {
      value.uri = uriFor(backend, {
        specName: value.specName,
        taskId: value.taskId,
        type: typeOf(types, value.type),
        compressed: value.compressed,
        ...(versioningEnabled ? { version: value.version } : {}),
      });
      const days = types.get(value.type)?.retentionDays ?? null;
      value.expiresAt = value.pinned || days === null ? null : isoTime(Date.parse(value.createdAt) + days * DAY_MS);
      return value;
    }
    for (const key of ["record", "superseded"]) {
      if (key in value) present((value as Record<string, unknown>)[key], depth + 1);
    }
    return value;
  };
  return new Proxy(metadata, {
    get(target, property, receiver) {
      const member = Reflect.get(target, property, receiver) as unknown;
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        const result = (member as (...values: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? result.then((value) => present(value, 0)) : result;
      };
    },
  });
}

/** The current-version URI of an artifact (what the seed's positional `upload()` returns). */
export function currentUri(ctx: StoreContext, record: ArtifactRecord): string {
  return uriFor(ctx.backend, {
    specName: record.specName,
    taskId: record.taskId,
    type: typeOf(ctx.types, record.type),
    compressed: record.compressed,
  });
}

/** A URI or ref, checked and read as a ref. */
export function refOf(ctx: StoreContext, target: ArtifactTarget): ArtifactRef {
  if (typeof target === "string") {
    if (target.length === 0 || target.length > 4096) {
      throw new ArtifactStoreError("E_INVALID_INPUT", "uri must be a non-empty string of at most 4096 characters");
    }
    const ref = refFromUri(ctx.backend, ctx.types.values(), target);
    if (!ref) throw unknownUri(target);
    return ref;
  }
  return checkRef(target);
}

/** Deletes a version's blob (idempotent). */
export async function removeObjects(ctx: StoreContext, record: ArtifactRecord): Promise<void> {
  await ctx.backend.delete(record.storageKey);
}

/**
 * Copies an object within the backend (the backend's own `copy` when it has one: a hard link on
 * the filesystem), leaving the source in place.
 */
export async function copyObject(ctx: StoreContext, from: string, to: string, contentType: string): Promise<boolean> {
  if (ctx.backend.copy) return ctx.backend.copy(from, to);
  const object = await ctx.backend.get(from);
  if (!object) return false;
  await ctx.backend.put(to, object.body, { contentLength: object.size, contentType });
  return true;
}

/** Moves an object within the backend: atomic for readers of `to` (a rename, or one replacing put). */
export async function moveObject(ctx: StoreContext, from: string, to: string, contentType: string): Promise<boolean> {
  if (ctx.backend.move) return ctx.backend.move(from, to);
  if (!(await copyObject(ctx, from, to, contentType))) return false;
  await ctx.backend.delete(from);
  return true;
}

export async function findRecord(ctx: StoreContext, target: ArtifactTarget): Promise<ArtifactRecord | null> {
  return ctx.metadata.findVersion(refOf(ctx, target));
}

export function checkRef(ref: ArtifactRef): ArtifactRef {
  if (typeof ref !== "object" || ref === null) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "expected a URI or { specName, taskId, type, version? }");
  }
  const checked: ArtifactRef = {
    specName: assertValidName("specName", ref.specName),
    taskId: assertValidName("taskId", ref.taskId),
    type: assertValidName("type", ref.type),
  };
  if (ref.version !== undefined) checked.version = assertValidVersion(ref.version);
  return checked;
}

export async function requireRecord(ctx: StoreContext, target: ArtifactTarget): Promise<ArtifactRecord> {
  const record = await findRecord(ctx, target);
  if (!record) throw notFound(target);
  return record;
}

export function notFound(target: ArtifactTarget): ArtifactStoreError {
  const what =
    typeof target === "string"
      ? target
      : `${target.specName}/${target.taskId}/${target.type}${target.version === undefined ? " (latest)" : ` v${target.version}`}`;
  return new ArtifactStoreError("E_NOT_FOUND", `no artifact ${what}`);
}

/** Flags a version corrupt, counts and logs it. Never throws: the caller is already failing. */
export async function flagCorrupt(ctx: StoreContext, record: ArtifactRow, reason: string): Promise<void> {
  ctx.metrics.count("checksumFailures");
  ctx.logger.error("artifact failed verification and is flagged corrupt", { uri: record.uri, reason });
  await ctx.metadata.setIntegrity(record.id, "corrupt").catch((error: unknown) => {
    ctx.logger.error("could not flag artifact corrupt", { uri: record.uri, error: String(error) });
  });
}

/**
 * The download pipeline: row lookup → backend stream → (gunzip unless the caller takes gzip)
 * → checksum of what is sent, verified while streaming. On a mismatch the stream errors
 * (never a silent success with bad bytes) and the version is flagged `corrupt`.
 */
import { sha256HexOf, toHex } from "../codec/engines.ts";
import { collectBytes, mapStreamErrors, observeStream, sliceStream, withLazyBody } from "../codec/streams.ts";
import { ArtifactStoreError, isArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRow } from "../contracts/metadata-repository.ts";
import type { StoredObject } from "../contracts/storage-backend.ts";
import type { ArtifactMetadata, ArtifactTarget } from "../contracts/types.ts";
import { sleep } from "../lib/time.ts";
import { type ContentRange, resolveContentRange } from "./content-range.ts";
import type { StoreContext } from "./context.ts";
import { parseKey } from "./layout.ts";
import { flagCorrupt, notFound, publicMetadata, refOf, requireRecord } from "./records.ts";
import { getStored } from "./task-inline.ts";
import { finishStalledPublishes, STALLED_PUBLISH_MS } from "./upload-publish.ts";

export interface OpenOptions {
  /** `"gzip"` when the caller takes gzip: stored gzip passes through untouched. Default `"identity"`. */
  acceptEncoding?: "identity" | "gzip";
  /** Part of the decoded content; ranges are not verified on the fly (the scrub covers them). */
  range?: ContentRange;
  /** Verify the checksum while streaming (default: the store's `verify_checksum`). */
  verifyChecksum?: boolean;
  signal?: AbortSignal;
}

/** What a download's lookup reads of a version: its metadata without tags, summary or secrets. */
export type DownloadMetadata = Omit<ArtifactMetadata, "tags" | "summary" | "secrets">;

export interface ArtifactDownload<M extends DownloadMetadata = ArtifactMetadata> {
  metadata: M;
  /** The bytes, verified as they stream when `verified` is true. */
  body: ReadableStream<Uint8Array>;
  /** The same bytes held whole (small versions read in one step), verified before this was returned when `verified`. */
  bytes?: Uint8Array;
  /** Encoding of `body`: `"gzip"` only when the caller accepted it and the version is stored compressed. */
  contentEncoding: "identity" | "gzip";
  /** Number of bytes `body` yields. */
  length: number;
  /** Present for range reads: inclusive bounds and the full decoded size. */
  range?: { start: number; end: number; size: number };
  /** SHA-256 hex of exactly the bytes of `body` (absent for ranges). */
  checksum?: string;
  verified: boolean;
}

const TOUCH_INTERVAL_MS = 60_000;

/** A read decided but not started: what it will send, before any stored byte is touched. */
export interface PreparedDownload<M extends DownloadMetadata = ArtifactMetadata> {
  metadata: M;
  contentEncoding: "identity" | "gzip";
  /** Bytes the body will yield. */
  length: number;
  range?: { start: number; end: number; size: number };
  /** SHA-256 hex of the whole representation that would be sent (absent for ranges). */
  checksum?: string;
  /** Starts reading the stored bytes. */
  open(): Promise<ArtifactDownload<M>>;
}

/** One metadata lookup, of the whole record (tags, summary and secrets too). */
export async function prepareDownload(
  ctx: StoreContext,
  target: ArtifactTarget,
  options: OpenOptions = {},
): Promise<PreparedDownload> {
  return prepareFrom(ctx, await requireRecord(ctx, target), target, options);
}

/** One lookup of the row alone (no tags, summary or secrets: a lighter query); GET, HEAD and 304 use it. */
export async function prepareRead(
  ctx: StoreContext,
  target: ArtifactTarget,
  options: OpenOptions = {},
): Promise<PreparedDownload<DownloadMetadata>> {
  const row = await findRow(ctx, target);
  if (!row) throw notFound(target);
  return prepareFrom(ctx, row, target, options);
}

/** The row a download reads (see `MetadataRepository.findRow`), or null. */
function findRow(ctx: StoreContext, target: ArtifactTarget): Promise<ArtifactRow | null> {
  return ctx.metadata.findRow(refOf(ctx, target));
}

async function prepareFrom<R extends ArtifactRow>(
  ctx: StoreContext,
  record: R,
  target: ArtifactTarget,
  options: OpenOptions,
): Promise<PreparedDownload<Omit<R, "id" | "storageKey">>> {
  if (record.integrity === "corrupt") {
    throw new ArtifactStoreError(
      "E_CORRUPT",
      `${record.uri} failed verification earlier and is flagged corrupt; it is not served. Delete it or restore it from elsewhere`,
    );
  }
  const range = options.range === undefined ? undefined : resolveContentRange(options.range, record.originalSize);
  const verify = range === undefined && (options.verifyChecksum ?? ctx.settings.verifyChecksum);
  const passthrough = options.acceptEncoding === "gzip" && record.compressed && range === undefined;
  const expected = passthrough
    ? { size: record.size, checksum: record.checksum }
    : { size: record.originalSize, checksum: record.originalChecksum };
  const described = {
    metadata: publicMetadata(record),
    contentEncoding: passthrough ? ("gzip" as const) : ("identity" as const),
    length: range ? range.end - range.start + 1 : expected.size,
    ...(range ? { range: { ...range, size: record.originalSize } } : { checksum: expected.checksum }),
  };
  return {
    ...described,
    async open() {
      const object = await openStored(ctx, record, target, {
        ...(range && !record.compressed ? { range: { offset: range.start, length: range.end - range.start + 1 } } : {}),
        // Handed on unread: a caller's signal may be made when first read (see the HTTP route).
        get signal() {
          return options.signal;
        },
      });
      if (record.compressed && !passthrough && !range && ctx.codecs.gunzipSync && record.size <= SMALL_STORED_SIZE) {
        const bytes = await decodeInMemory(ctx, record, object.bytes ?? object.body, verify);
        return withLazyBody({ ...described, verified: verify }, bytes);
      }
      if (object.bytes && !range && (passthrough || !record.compressed)) {
        await checkWhole(ctx, record, object.bytes, verify ? expected : undefined);
        return withLazyBody({ ...described, verified: verify }, object.bytes);
      }
      let body = mapStreamErrors(object.body, (error) =>
        isArtifactStoreError(error)
          ? error
          : toArtifactStoreError(error, "E_BACKEND", `[${ctx.backend.name}] reading ${record.storageKey} failed`),
      );
      if (record.compressed && !passthrough) {
        body = mapStreamErrors(body.pipeThrough(ctx.codecs.createGunzip()), (error) =>
          isArtifactStoreError(error)
            ? error
            : corruptError(ctx, record, `stored gzip is damaged (${errorText(error)})`),
        );
        if (range) body = body.pipeThrough(sliceStream(range.start, range.end - range.start + 1));
      }
      body = body.pipeThrough(countAndVerify(ctx, record, verify ? expected : undefined));
      ctx.metrics.count("downloads");
      touch(ctx, record);
      return { ...described, body, verified: verify };
    },
  };
}

export async function openArtifact(
  ctx: StoreContext,
  target: ArtifactTarget,
  options: OpenOptions = {},
): Promise<ArtifactDownload> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await prepareDownload(ctx, target, options)).open();
    } catch (error) {
      // Replaced between the lookup and the open: look it up again (the new version is complete).
      if (!isReplacedError(error) || attempt >= MAX_REPLACED_RETRIES) throw error;
    }
  }
}

/**
 * The whole content, for `download()`: when reading broke off (E_BACKEND) because a new version
 * replaced the object meanwhile (some S3-compatible servers cut a started GET on overwrite),
 * the new version is read instead (a few times at most).
 */
export async function downloadWhole(
  ctx: StoreContext,
  target: ArtifactTarget,
  options: OpenOptions = {},
): Promise<Uint8Array> {
  let brokenOff = 0;
  for (let attempt = 1; ; attempt++) {
    const prepared = await prepareRead(ctx, target, options);
    try {
      return await collectBytes((await prepared.open()).body);
    } catch (error) {
      if (isReplacedError(error) && attempt < MAX_REPLACED_RETRIES) continue;
      if (!isArtifactStoreError(error) || error.code !== "E_BACKEND" || ++brokenOff > 3) throw error;
      // Replaced meanwhile (a new version committed, or one publishing over the seed path)?
      const now = await findRow(ctx, target).catch(() => null);
      if (!now || (now.version === prepared.metadata.version && (await ctx.metadata.confirmRead(now)))) throw error;
    }
  }
}

/** The same stream, its first chunk already read (so the source is open). */
async function withFirstChunkRead(body: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  const first = await reader.read();
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (first.done) controller.close();
        else controller.enqueue(first.value);
      },
      async pull(controller) {
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/** Looking up again after a replacement: a few times at most (each replacement is a complete version). */
export const MAX_REPLACED_RETRIES = 20;

/** The version looked up was replaced before its bytes were opened: prepare the read again. */
export function isReplacedError(error: unknown): boolean {
  return isArtifactStoreError(error) && error.code === "E_CONFLICT" && error.details?.replaced === true;
}

/**
 * Opens a version's stored object, making sure the bytes opened are that version's: the seed
 * path changes when a new version is published, so after opening it the reader confirms that
 * the row still names it and that no version of the series is publishing (fs keeps an opened
 * file's bytes across the rename; S3 and GCS serve a started GET from the object it started on).
 * While a publish is in flight it waits and opens again; when the row changed it throws a
 * replaced error (never a false corruption).
 */
async function openStored(
  ctx: StoreContext,
  record: ArtifactRow,
  target: ArtifactTarget,
  getOptions: { range?: { offset: number; length: number }; signal?: AbortSignal },
): Promise<StoredObject> {
  const mutable = parseKey(record.storageKey)?.kind === "current";
  let stalledSince = Date.now();
  for (let attempt = 0; ; attempt++) {
    const object = await getStored(
      ctx.backend,
      ctx.metadata,
      record,
      ctx.files.unwritten.has(record.id)
        ? { ...getOptions, unwritten: () => ctx.files.unwritten.delete([record.id]) }
        : getOptions,
    );
    // The first chunk is read before confirming: by then the bytes are pinned (an open file
    // descriptor, a started GET), so a confirmation covers what the rest of the body yields.
    // Opening can find the object gone or changed since `get` looked (fs opens on the first
    // read): a delete or replacement in between, told from damage by looking the row up again.
    let readFailure: { error: unknown } | undefined;
    if (object && !object.bytes) {
      try {
        object.body = await withFirstChunkRead(object.body);
      } catch (error) {
        getOptions.signal?.throwIfAborted();
        readFailure = { error };
      }
    }
    if (object && !readFailure && (!mutable || (await ctx.metadata.confirmRead(record)))) return object;
    if (!readFailure) await object?.body.cancel().catch(() => {});
    const now = await findRow(ctx, target);
    // Deleted or superseded since the lookup: gone, not damaged.
    if (!now) throw notFound(target);
    if (now.id !== record.id || now.storageKey !== record.storageKey) {
      throw new ArtifactStoreError("E_CONFLICT", `${record.uri} was replaced while being opened; retry`, {
        details: { replaced: true },
      });
    }
    if (!object) {
      await flagCorrupt(ctx, record, `stored object ${record.storageKey} is missing`);
      throw new ArtifactStoreError("E_CORRUPT", `${record.uri} is recorded but its stored object is missing`);
    }
    // The same version where it was, and nothing publishing over it: the failure is its own.
    if (readFailure && (!mutable || (await ctx.metadata.confirmRead(record)))) throw readFailure.error;
    // A version of the series is publishing: its seed path may be changing under us. A publish
    // stalled that long was left by a process that died: finishing it is idempotent.
    if (Date.now() - stalledSince > STALLED_PUBLISH_MS) {
      await finishStalledPublishes(ctx, record);
      stalledSince = Date.now();
    }
    if (attempt > 2_000) {
      throw new ArtifactStoreError("E_CONFLICT", `${record.uri} is being replaced; retry`, {
        details: { replaced: true },
      });
    }
    await sleep(Math.min(20, 1 + attempt));
  }
}

/** Stored sizes up to this are read whole and gunzipped in one step (see `decodeInMemory`). */
const SMALL_STORED_SIZE = 256 * 1024;

/**
 * A small compressed version read whole, gunzipped and verified before a byte is handed out:
 * cheaper than a decoding stream for a few KiB, and a damaged one fails before the response starts.
 */
async function decodeInMemory(
  ctx: StoreContext,
  record: ArtifactRow,
  stored: ReadableStream<Uint8Array> | Uint8Array,
  verify: boolean,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = stored instanceof Uint8Array ? stored : await collectBytes(stored);
  } catch (error) {
    throw isArtifactStoreError(error)
      ? error
      : toArtifactStoreError(error, "E_BACKEND", `[${ctx.backend.name}] reading ${record.storageKey} failed`);
  }
  let decoded: Uint8Array;
  try {
    decoded = (ctx.codecs.gunzipSync as (data: Uint8Array) => Uint8Array)(bytes);
  } catch (error) {
    throw await corruptError(ctx, record, `stored gzip is damaged (${errorText(error)})`);
  }
  await checkWhole(
    ctx,
    record,
    decoded,
    verify ? { size: record.originalSize, checksum: record.originalChecksum } : undefined,
  );
  return decoded;
}

/** Bytes about to be sent whole: checked against `expected` (E_CORRUPT and flagged on a mismatch), counted. */
async function checkWhole(
  ctx: StoreContext,
  record: ArtifactRow,
  bytes: Uint8Array,
  expected: { size: number; checksum: string } | undefined,
): Promise<void> {
  if (expected) {
    const actual = sha256HexOf(ctx.codecs, bytes);
    if (bytes.length !== expected.size || actual !== expected.checksum) {
      const reason = `read ${bytes.length} bytes with SHA-256 ${actual}, expected ${expected.size} bytes with ${expected.checksum}`;
      await flagCorrupt(ctx, record, reason);
      throw new ArtifactStoreError("E_CORRUPT", `${record.uri} failed checksum verification: ${reason}`);
    }
  }
  ctx.metrics.count("downloads");
  ctx.metrics.count("downloadedBytes", bytes.length);
  touch(ctx, record);
}

/** Counts bytes handed out and, when `expected` is given, checks size and SHA-256 at the end. */
function countAndVerify(
  ctx: StoreContext,
  record: ArtifactRow,
  expected: { size: number; checksum: string } | undefined,
): TransformStream<Uint8Array, Uint8Array> {
  const hasher = expected ? ctx.codecs.createSha256() : undefined;
  let size = 0;
  return observeStream({
    onChunk(chunk) {
      size += chunk.length;
      ctx.metrics.count("downloadedBytes", chunk.length);
      hasher?.update(chunk);
    },
    async onEnd() {
      if (!expected || !hasher) return;
      const actual = toHex(hasher.digest());
      if (size !== expected.size || actual !== expected.checksum) {
        const reason = `read ${size} bytes with SHA-256 ${actual}, expected ${expected.size} bytes with ${expected.checksum}`;
        await flagCorrupt(ctx, record, reason);
        throw new ArtifactStoreError("E_CORRUPT", `${record.uri} failed checksum verification: ${reason}`);
      }
    },
  });
}

async function corruptError(ctx: StoreContext, record: ArtifactRow, reason: string): Promise<ArtifactStoreError> {
  await flagCorrupt(ctx, record, reason);
  return new ArtifactStoreError("E_CORRUPT", `${record.uri} failed verification: ${reason}`);
}

function touch(ctx: StoreContext, record: ArtifactRow): void {
  const now = ctx.now();
  const last = record.lastAccessedAt === null ? 0 : Date.parse(record.lastAccessedAt);
  if (now - last < TOUCH_INTERVAL_MS) return;
  ctx.accessLog.record(record.id);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

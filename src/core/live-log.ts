/**
 * Live logs: an agent appends numbered, checksummed chunks while it runs; readers follow the
 * growing log; a final seal streams the chunks through the normal upload pipeline (whole-log
 * SHA-256, gzip, extraction, sidecar, commit), so the sealed version is indistinguishable
 * from an uploaded one, and then removes the chunks.
 *
 * Chunks live under `.store/live/<spec>/<task>/<type>/<session>/<seq>-<sha256 prefix>` in the
 * backend, outside the `<spec>/<task>/v<N>/…` layout that gc and reindex read (they leave
 * other keys alone), and are recorded in the `live_logs` / `live_log_chunks` tables.
 */
import { sha256HexOf, toHex } from "../codec/engines.ts";
import { streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError, isArtifactStoreError } from "../contracts/errors.ts";
import type { LiveLogChunkRecord, LiveLogRecord } from "../contracts/metadata-repository.ts";
import type { StoreContext } from "./context.ts";
import { assertDiskRoom } from "./disk-space.ts";
import { LIVE_PREFIXES, liveChunkKey, liveChunkPrefix } from "./layout.ts";
import { assertValidName } from "./names.ts";
import { assertQuotaRoom, withRoomOf } from "./quota.ts";
import { countRejectedSecret, type UploadResult, uploadArtifact } from "./upload.ts";
import { redactInMemory } from "./upload-encode.ts";
import { redactionFor, tooLargeError } from "./upload-plan.ts";

/** Largest chunk one append takes. */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** A seal that has not finished after this long may be taken over by another seal. */
const SEAL_TAKEOVER_MS = 10 * 60_000;

export interface LiveLogRef {
  specName: string;
  taskId: string;
  /** Default `"log"`. */
  type?: string;
}

export interface AppendLogInput extends LiveLogRef {
  content: string | Uint8Array;
  /**
   * Chunk number, from 1. Appending a number again with the same bytes is a no-op (safe
   * retries); with other bytes it is refused (`E_CONFLICT`), as is skipping a number.
   * Absent: the next number.
   */
  seq?: number;
  /** SHA-256 (hex) the chunk must have (an HTTP `Content-Digest`); nothing is kept otherwise. */
  expectedChecksum?: string;
}

export interface AppendLogResult {
  specName: string;
  taskId: string;
  type: string;
  seq: number;
  /** Where the chunk starts in the log. */
  offset: number;
  size: number;
  /** SHA-256 (hex) of the chunk. */
  checksum: string;
  /** The log's length after this chunk. */
  totalSize: number;
  /** True when this exact chunk had been appended before (a retry). */
  duplicate: boolean;
}

export interface SealLogInput extends LiveLogRef {
  tags?: string[];
  metadata?: Record<string, unknown>;
  /** SHA-256 (hex) the whole log must have; when it differs nothing is committed and the live log stays open. */
  expectedChecksum?: string;
}

/** A live log as readers see it. */
export interface LiveLogStatus {
  specName: string;
  taskId: string;
  type: string;
  state: "open" | "sealing";
  size: number;
  chunks: number;
  createdAt: string;
  updatedAt: string;
}

export interface LiveLogRead {
  status: LiveLogStatus;
  /** Inclusive start and exclusive end of the bytes in `body`. */
  start: number;
  end: number;
  body: ReadableStream<Uint8Array>;
}

function checkRef(ctx: StoreContext, ref: LiveLogRef): { specName: string; taskId: string; type: string } {
  if (typeof ref !== "object" || ref === null) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "expected { specName, taskId, type? }");
  }
  const type = assertValidName("type", ref.type ?? "log");
  if (!ctx.types.has(type)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `unknown artifact type ${JSON.stringify(type)}`, {
      details: { field: "type" },
    });
  }
  return { specName: assertValidName("specName", ref.specName), taskId: assertValidName("taskId", ref.taskId), type };
}

export function describeLiveLog(record: LiveLogRecord): LiveLogStatus {
  return {
    specName: record.specName,
    taskId: record.taskId,
    type: record.type,
    state: record.state,
    size: record.size,
    chunks: record.chunks,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
}

export async function appendLog(ctx: StoreContext, input: AppendLogInput): Promise<AppendLogResult> {
  const ref = checkRef(ctx, input);
  const sent = typeof input.content === "string" ? new TextEncoder().encode(input.content) : input.content;
  if (!(sent instanceof Uint8Array))
    throw new ArtifactStoreError("E_INVALID_INPUT", "content must be a string or Uint8Array");
  if (sent.length === 0) throw new ArtifactStoreError("E_INVALID_INPUT", "an appended chunk must not be empty");
  if (sent.length > MAX_CHUNK_BYTES) throw tooLargeError(MAX_CHUNK_BYTES, "a live-log chunk");
  if (input.seq !== undefined && (!Number.isSafeInteger(input.seq) || input.seq < 1)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "seq must be a positive integer", { details: { field: "seq" } });
  }
  const sha256 = (data: Uint8Array) => sha256HexOf(ctx.codecs, data);
  const sentChecksum = sha256(sent);
  if (input.expectedChecksum !== undefined && input.expectedChecksum.toLowerCase() !== sentChecksum) {
    throw new ArtifactStoreError(
      "E_CHECKSUM_MISMATCH",
      `chunk SHA-256 is ${sentChecksum}, expected ${input.expectedChecksum}; nothing was appended`,
      { details: { expected: input.expectedChecksum, actual: sentChecksum } },
    );
  }
  // Followers read chunks as they come: secrets are masked (or the chunk refused) before it is
  // kept. The chunk's checksum is the kept bytes'; masking is deterministic, so a retry matches.
  // The seal scans the whole log again and counts the markers as findings.
  let bytes: Uint8Array;
  try {
    bytes = redactInMemory(redactionFor(ctx, ref.type), sent);
  } catch (error) {
    if (isArtifactStoreError(error)) countRejectedSecret(ctx, error);
    throw error;
  }
  const checksum = bytes === sent ? sentChecksum : sha256(bytes);
  // Before any write: a refused append on a nearly full disk leaves nothing behind.
  await assertDiskRoom(ctx);
  const now = ctx.now();
  const live = (await ctx.metadata.findLiveLog(ref)) ?? (await ctx.metadata.startLiveLog(ref, newSession(now), now));
  const seq = input.seq ?? live.chunks + 1;
  const result = (chunk: LiveLogChunkRecord, duplicate: boolean): AppendLogResult => ({
    ...ref,
    seq: chunk.seq,
    offset: chunk.offset,
    size: chunk.size,
    checksum: chunk.checksum,
    totalSize: Math.max(live.size, chunk.offset + chunk.size),
    duplicate,
  });
  const existing = await ctx.metadata.findLiveLogChunk(live.session, seq);
  if (existing) {
    if (existing.checksum === checksum) return result(existing, true);
    throw conflict(
      `chunk ${seq} was already appended with other bytes; append the next chunk as ${live.chunks + 1}`,
      live,
    );
  }
  if (live.state === "sealing") throw conflict("the log is being sealed; no more chunks are taken", live);
  if (seq > live.chunks + 1) throw conflict(`chunk ${seq} skips ahead; append chunk ${live.chunks + 1} first`, live);
  const limit = ctx.settings.maxArtifactBytes;
  if (limit !== null && live.size + bytes.length > limit) throw tooLargeError(limit);
  // Chunks are stored bytes like any upload's (store_usage counts them): a chunk that would not fit is refused.
  await assertQuotaRoom(ctx, bytes.length);

  const storageKey = liveChunkKey(ref, live.session, seq, checksum);
  await ctx.backend.put(storageKey, streamFromBytes(bytes), {
    contentType: "application/octet-stream",
    contentLength: bytes.length,
  });
  const recorded = await ctx.metadata.appendLiveLogChunk(live.session, {
    seq,
    size: bytes.length,
    checksum,
    storageKey,
    createdAt: now,
  });
  if (recorded) return result(recorded, false);
  // Another append (or a seal) got there first: a retry of the same bytes wins, anything else is refused.
  const raced = await ctx.metadata.findLiveLogChunk(live.session, seq);
  if (raced?.checksum === checksum) return result(raced, true);
  await ctx.backend.delete(storageKey).catch(() => {});
  const after = await ctx.metadata.findLiveLog(ref);
  throw conflict(
    after?.state === "sealing"
      ? "the log is being sealed; no more chunks are taken"
      : `chunk ${seq} could not be appended`,
    after ?? live,
  );
}

/** Streams the chunks, in order, through the upload pipeline; then removes them. */
export async function sealLog(ctx: StoreContext, input: SealLogInput): Promise<UploadResult> {
  const ref = checkRef(ctx, input);
  const live = await ctx.metadata.findLiveLog(ref);
  if (!live)
    throw new ArtifactStoreError("E_NOT_FOUND", `no live log ${ref.specName}/${ref.taskId}/${ref.type} to seal`);
  const now = ctx.now();
  if (!(await ctx.metadata.beginSeal(live.session, now, now - SEAL_TAKEOVER_MS))) {
    throw conflict("the log is already being sealed", live);
  }
  let result: UploadResult;
  try {
    const chunks = await ctx.metadata.listLiveLogChunks(live.session, 0);
    let expectedOffset = 0;
    for (const [index, chunk] of chunks.entries()) {
      if (chunk.seq !== index + 1 || chunk.offset !== expectedOffset) {
        throw new ArtifactStoreError("E_INTERNAL", `live log chunk ${chunk.seq} is out of order; the log stays open`);
      }
      expectedOffset += chunk.size;
    }
    // The sealed version replaces the chunks, which go once it commits: the seal may use their room.
    result = await uploadArtifact(withRoomOf(ctx, live.size), {
      ...ref,
      content: chunkStream(ctx, chunks, 0, expectedOffset),
      contentLength: expectedOffset,
      ...(input.tags ? { tags: input.tags } : {}),
      ...(input.metadata ? { metadata: input.metadata } : {}),
      ...(input.expectedChecksum ? { expectedChecksum: input.expectedChecksum } : {}),
    });
  } catch (error) {
    await ctx.metadata.cancelSeal(live.session).catch(() => {});
    throw error;
  }
  await ctx.metadata.removeLiveLog(live.session);
  await removeChunkObjects(ctx, ref, live.session);
  return result;
}

/** Bytes `[offset, offset + length)` of a live log (to its current end without `length`); null when there is none. */
export async function readLiveLog(
  ctx: StoreContext,
  target: LiveLogRef,
  range: { offset?: number; length?: number; suffixLength?: number } = {},
): Promise<LiveLogRead | null> {
  const ref = checkRef(ctx, target);
  const live = await ctx.metadata.findLiveLog(ref);
  if (!live) return null;
  let start = range.offset ?? 0;
  if (range.suffixLength !== undefined) start = Math.max(0, live.size - range.suffixLength);
  // Reading from the current end gives nothing yet (a follower polling for more), not an error.
  if (!Number.isSafeInteger(start) || start < 0 || start > live.size) {
    throw new ArtifactStoreError("E_RANGE", `requested range is not satisfiable for a live log of ${live.size} bytes`, {
      details: { size: live.size },
    });
  }
  const end = range.length === undefined ? live.size : Math.min(live.size, start + range.length);
  const chunks = await ctx.metadata.listLiveLogChunks(live.session, start);
  return { status: describeLiveLog(live), start, end, body: chunkStream(ctx, chunks, start, end) };
}

export async function discardLog(ctx: StoreContext, target: LiveLogRef): Promise<boolean> {
  const ref = checkRef(ctx, target);
  const live = await ctx.metadata.findLiveLog(ref);
  if (!live) return false;
  await ctx.metadata.removeLiveLog(live.session);
  await removeChunkObjects(ctx, ref, live.session);
  return true;
}

/**
 * The bytes `[start, end)` of the chunks. Whole chunks are checked against their SHA-256 as they
 * stream (a mismatch errors the stream, so a seal commits nothing); partial reads are not.
 */
function chunkStream(
  ctx: StoreContext,
  chunks: LiveLogChunkRecord[],
  start: number,
  end: number,
): ReadableStream<Uint8Array> {
  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let hasher: ReturnType<typeof ctx.codecs.createSha256> | undefined;
  let current: LiveLogChunkRecord | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (!reader) {
            current = chunks[index++];
            if (!current || current.offset >= end) {
              controller.close();
              return;
            }
            const from = Math.max(0, start - current.offset);
            const to = Math.min(current.size, end - current.offset);
            const whole = from === 0 && to === current.size;
            const object = await ctx.backend.get(
              current.storageKey,
              whole ? {} : { range: { offset: from, length: to - from } },
            );
            if (!object) {
              throw new ArtifactStoreError(
                "E_CORRUPT",
                `live log chunk ${current.seq} (${current.storageKey}) is missing`,
              );
            }
            reader = object.body.getReader();
            hasher = whole ? ctx.codecs.createSha256() : undefined;
          }
          const { done, value } = await reader.read();
          if (done) {
            reader = undefined;
            if (hasher && current) {
              const actual = toHex(hasher.digest());
              if (actual !== current.checksum) {
                throw new ArtifactStoreError(
                  "E_CORRUPT",
                  `live log chunk ${current.seq} has SHA-256 ${actual}, recorded ${current.checksum}`,
                );
              }
            }
            continue;
          }
          hasher?.update(value);
          controller.enqueue(value);
          return;
        }
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Removes every chunk object of a live log session (after a seal, a discard or an expiry); failures are logged. */
export async function removeChunkObjects(
  ctx: StoreContext,
  ref: { specName: string; taskId: string; type: string },
  session: string,
): Promise<void> {
  // A log opened by a previous release has its chunks under `.live/`.
  for (const root of LIVE_PREFIXES) {
    const prefix = liveChunkPrefix(ref, session, root);
    try {
      let cursor: string | undefined;
      do {
        const page = await ctx.backend.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
        for (const object of page.objects) await ctx.backend.delete(object.key);
        cursor = page.cursor;
      } while (cursor);
    } catch (error) {
      ctx.logger.warn("could not remove the chunks of a sealed live log; gc removes them", {
        prefix,
        error: String(error),
      });
    }
  }
}

function newSession(now: number): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return `${now.toString(36)}-${toHex(random)}`;
}

function conflict(message: string, live: LiveLogRecord): ArtifactStoreError {
  return new ArtifactStoreError("E_CONFLICT", message, {
    details: { nextSeq: live.chunks + 1, size: live.size, state: live.state },
  });
}

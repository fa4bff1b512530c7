/**
 * Uploads for the GCS backend. The rule: the request that makes an object visible is sent
 * only after the body stream closed cleanly. Small bodies are buffered and sent as one
 * multipart request after the close; larger ones go through a resumable session whose
 * final chunk (the one carrying the total size, which is what publishes) waits for the close.
 * Memory stays bounded by one chunk: the latest full chunk is held back until more bytes
 * arrive, so the last chunk can always be the final one.
 *
 * A service that finishes a session early (Google's storage emulator ignores Content-Range and
 * publishes whatever its first PUT carried) gets the truncated object deleted at once. When that
 * was the first chunk, the upload goes on as ONE streamed PUT of the whole body (chunked, so the
 * service sees its end only when the stream closed cleanly, and memory stays one chunk), and so do
 * the backend's later uploads. Any upload that fails after a publishing request was sent removes
 * what that request may have created, when it was a create-only put.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { backoffDelay, discard, type GcsTransport, isRetryableStatus, sleep } from "./gcs-http.ts";

/** Cloud Storage accepts non-final resumable chunks only in multiples of 256 KiB. */
export const CHUNK_GRANULARITY = 256 * 1024;

/** The object resource fields the backend reads. */
export interface GcsObjectResource {
  name: string;
  size?: string;
  generation?: string;
  updated?: string;
}

export interface UploadSettings {
  transport: GcsTransport;
  /** `<endpoint>/upload/storage/v1/b/<bucket>/o` */
  uploadUrl: string;
  chunkSize: number;
  singleRequestMaxBytes: number;
  /**
   * Shared by the backend's uploads: `onePut` sends resumable sessions as one streamed PUT. Set
   * from the start for the emulator, and by an upload that sees a session finish on its first chunk.
   */
  sessions: { onePut: boolean };
  /** Deletes an object a failed upload may have published (`generation`: exactly that version). */
  discardObject(objectName: string, generation?: string): Promise<void>;
}

export interface UploadRequest {
  objectName: string;
  contentType: string;
  contentLength?: number;
  /** Sent as `ifGenerationMatch`: `"0"` creates only, a generation replaces exactly that version. */
  ifGenerationMatch?: string;
  signal?: AbortSignal;
}

/** Stores the stream as one object; rejects with the stream's own error when it fails. */
export async function uploadStream(
  settings: UploadSettings,
  body: ReadableStream<Uint8Array>,
  request: UploadRequest,
): Promise<GcsObjectResource> {
  const reader = body.getReader();
  const buffer = createChunkBuffer(settings.chunkSize, request.contentLength);
  let session: ResumableSession | undefined;
  let streamFailure: { error: unknown } | undefined;
  // Set once a request that may make the object visible has been sent.
  let publishing = false;
  const read = async () => {
    try {
      return await reader.read();
    } catch (error) {
      streamFailure = { error };
      throw error;
    }
  };
  try {
    if (request.contentLength !== undefined && request.contentLength > settings.singleRequestMaxBytes) {
      session = await startSession(settings, request);
    }
    for (;;) {
      request.signal?.throwIfAborted();
      const { done, value } = await read();
      if (done) break;
      for (let taken = 0; taken < value.length; ) {
        if (buffer.length === settings.chunkSize) {
          // More bytes arrived after a full chunk, so that chunk is not the last: send it.
          session ??= await startSession(settings, request);
          const rest = value.subarray(taken);
          if (settings.sessions.onePut) {
            publishing = true;
            return await session.sendAll([buffer.view(), rest], read);
          }
          const early = await sendChunk(settings, session, buffer.view(), request);
          if (early) {
            // The service took the first chunk for the whole upload (the emulator does): the
            // truncated object is gone; this upload and later ones go as one PUT.
            settings.sessions.onePut = true;
            session = await startSession(settings, request);
            publishing = true;
            return await session.sendAll([buffer.view(), rest], read);
          }
          buffer.reset();
        }
        taken += buffer.append(value.subarray(taken));
        if (!session && buffer.length > settings.singleRequestMaxBytes) {
          session = await startSession(settings, request);
        }
      }
    }
    // The stream closed cleanly: only now is the publishing request sent.
    request.signal?.throwIfAborted();
    publishing = true;
    if (session) return (await session.send(buffer.view(), true)) as GcsObjectResource;
    return await multipartUpload(settings, request, buffer.view());
  } catch (error) {
    if (!streamFailure) await reader.cancel(error).catch(() => {});
    await session?.cancel();
    // A publishing request whose outcome is unknown may have created the object; a create-only
    // put owns the key, so whatever is there now is this failed upload's. (A refused precondition
    // means someone else's object: it stays.)
    if (publishing && request.ifGenerationMatch === "0" && !isConflict(error)) {
      await settings.discardObject(request.objectName).catch(() => {});
    }
    throw streamFailure ? streamFailure.error : error;
  }
}

/**
 * Sends a non-final chunk. When the service finishes the session on it instead, the object it
 * published is deleted; resolves true when that was the first chunk (so the whole body can
 * still go as one PUT), and rejects when bytes already sent are lost.
 */
async function sendChunk(
  settings: UploadSettings,
  session: ResumableSession,
  chunk: Uint8Array<ArrayBuffer>,
  request: UploadRequest,
): Promise<boolean> {
  try {
    await session.send(chunk, false);
    return false;
  } catch (error) {
    const early = finishedEarly(error);
    if (!early) throw error;
    await settings.discardObject(request.objectName, early.generation).catch(() => {});
    if (early.offset === 0) return true;
    throw error;
  }
}

function finishedEarly(error: unknown): { offset: number; generation?: string } | undefined {
  if (!(error instanceof ArtifactStoreError)) return undefined;
  return error.details?.finishedEarly as { offset: number; generation?: string } | undefined;
}

function isConflict(error: unknown): boolean {
  return error instanceof ArtifactStoreError && error.code === "E_CONFLICT";
}

/**
 * One request carrying metadata and bytes.
 * https://cloud.google.com/storage/docs/json_api/v1/objects/insert (uploadType=multipart)
 * https://cloud.google.com/storage/docs/uploading-objects#uploading-an-object
 */
async function multipartUpload(
  settings: UploadSettings,
  request: UploadRequest,
  bytes: Uint8Array,
): Promise<GcsObjectResource> {
  const boundary = `gcs-${crypto.randomUUID()}`;
  const encoder = new TextEncoder();
  const head = encoder.encode(
    `--${boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify({
      name: request.objectName,
      contentType: request.contentType,
    })}\r\n--${boundary}\r\ncontent-type: ${request.contentType}\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const payload = new Uint8Array(head.length + bytes.length + tail.length);
  payload.set(head, 0);
  payload.set(bytes, head.length);
  payload.set(tail, head.length + bytes.length);
  const action = `uploading ${request.objectName}`;
  const response = await settings.transport.request(
    uploadUrlFor(settings, request, "multipart"),
    {
      method: "POST",
      headers: { "content-type": `multipart/related; boundary=${boundary}` },
      body: payload,
      ...(request.signal ? { signal: request.signal } : {}),
    },
    action,
  );
  if (!response.ok) throw await settings.transport.failure(response, action);
  return (await response.json()) as GcsObjectResource;
}

function uploadUrlFor(settings: UploadSettings, request: UploadRequest, uploadType: string): string {
  const query = new URLSearchParams({ uploadType, name: request.objectName });
  if (request.ifGenerationMatch !== undefined) query.set("ifGenerationMatch", request.ifGenerationMatch);
  return `${settings.uploadUrl}?${query}`;
}

interface ResumableSession {
  /** Sends `chunk` at the session's offset; the final one publishes and returns the object. */
  send(chunk: Uint8Array<ArrayBuffer>, final: boolean): Promise<GcsObjectResource | undefined>;
  /**
   * Sends `first` and then the rest of the body as `read` yields it, in one streamed PUT from
   * offset 0; the service sees the request end only after the body closed cleanly.
   */
  sendAll(first: Uint8Array[], read: () => Promise<{ done: boolean; value?: Uint8Array }>): Promise<GcsObjectResource>;
  /** Abandons the session so nothing of it is ever published (best effort). */
  cancel(): Promise<void>;
}

/**
 * Opens a resumable session. Preconditions go here: the service checks them again when the
 * final chunk arrives.
 * https://cloud.google.com/storage/docs/performing-resumable-uploads#initiate-session
 */
async function startSession(settings: UploadSettings, request: UploadRequest): Promise<ResumableSession> {
  const { transport } = settings;
  const action = `starting a resumable upload of ${request.objectName}`;
  const response = await transport.request(
    uploadUrlFor(settings, request, "resumable"),
    {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=UTF-8",
        "x-upload-content-type": request.contentType,
        ...(request.contentLength === undefined ? {} : { "x-upload-content-length": String(request.contentLength) }),
      },
      body: JSON.stringify({ name: request.objectName, contentType: request.contentType }),
      ...(request.signal ? { signal: request.signal } : {}),
    },
    action,
  );
  if (!response.ok) throw await transport.failure(response, action);
  await discard(response);
  const sessionUrl = response.headers.get("location");
  if (!sessionUrl) throw new ArtifactStoreError("E_BACKEND", `[gcs] ${action}: no session URI in the reply`);
  let offset = 0;
  let cancelled = false;

  /**
   * Asks how many bytes the session holds (`Content-Range: bytes *\/*`): 308 with `Range`,
   * or 200/201 when the final chunk did arrive before its reply was lost.
   * https://cloud.google.com/storage/docs/performing-resumable-uploads#status-check
   */
  async function queryOffset(total: number | undefined): Promise<number | GcsObjectResource> {
    const response = await transport.request(
      sessionUrl as string,
      {
        method: "PUT",
        headers: { "content-range": `bytes */${total ?? "*"}` },
        // An empty body, not a hand-set Content-Length (a forbidden header in some runtimes).
        body: new Uint8Array(0),
        // The caller counts unanswered questions with its failed chunks.
        retry: false,
        ...(request.signal ? { signal: request.signal } : {}),
      },
      `asking the upload session of ${request.objectName} for its offset`,
    );
    if (response.status === 200 || response.status === 201) return (await response.json()) as GcsObjectResource;
    if (response.status !== 308)
      throw await transport.failure(response, `resuming the upload of ${request.objectName}`);
    await discard(response);
    return persistedOffset(response);
  }

  /** https://cloud.google.com/storage/docs/performing-resumable-uploads#chunked-upload */
  async function send(chunk: Uint8Array<ArrayBuffer>, final: boolean): Promise<GcsObjectResource | undefined> {
    const start = offset;
    const end = start + chunk.length;
    const total = final ? end : undefined;
    const chunkAction = `uploading bytes ${start}-${end - 1} of ${request.objectName}`;
    for (let failures = 0; ; ) {
      if (offset < start) {
        throw new ArtifactStoreError("E_BACKEND", `[gcs] ${chunkAction}: the session lost bytes it had confirmed`);
      }
      const piece = chunk.subarray(offset - start);
      const range = piece.length === 0 ? `bytes */${total}` : `bytes ${offset}-${end - 1}/${total ?? "*"}`;
      let failure: unknown;
      let retryAfter: string | null = null;
      try {
        // Sent once: a failed chunk is recovered by asking the session where it stands.
        const response = await transport.request(
          sessionUrl as string,
          {
            method: "PUT",
            headers: { "content-range": range, "content-type": "application/octet-stream" },
            body: piece,
            retry: false,
            ...(request.signal ? { signal: request.signal } : {}),
          },
          chunkAction,
        );
        if (response.status === 200 || response.status === 201) {
          const resource = (await response.json()) as GcsObjectResource;
          if (!final) {
            throw new ArtifactStoreError("E_BACKEND", `[gcs] ${chunkAction}: the session finished early`, {
              details: {
                finishedEarly: { offset: start, ...(resource.generation ? { generation: resource.generation } : {}) },
              },
            });
          }
          return resource;
        }
        if (response.status === 308) {
          await discard(response);
          const before = offset;
          offset = persistedOffset(response);
          if (!final && offset >= end) return undefined;
          if (offset > before) continue; // progress: send the rest of the chunk
          failure = new ArtifactStoreError("E_BACKEND_UNAVAILABLE", `[gcs] ${chunkAction}: the session took no bytes`);
        } else {
          retryAfter = response.headers.get("retry-after");
          failure = await transport.failure(response, chunkAction);
          if (!isRetryableStatus(response.status)) throw failure;
        }
      } catch (error) {
        if (request.signal?.aborted || !isUnavailable(error)) throw error;
        failure = error;
      }
      // Wait, then ask the session how much it holds; an unanswered question is one more failure.
      let status: number | GcsObjectResource | undefined;
      while (status === undefined) {
        if (++failures >= transport.policy.maxAttempts) throw failure;
        await sleep(backoffDelay(transport.policy, failures, retryAfter), request.signal);
        status = await queryOffset(total).catch((error: unknown) => {
          if (!isUnavailable(error)) throw error;
          failure = error;
          return undefined;
        });
      }
      if (typeof status !== "number") return status;
      offset = status;
    }
  }

  /** https://cloud.google.com/storage/docs/performing-resumable-uploads#single-chunk-upload */
  async function sendAll(
    first: Uint8Array[],
    read: () => Promise<{ done: boolean; value?: Uint8Array }>,
  ): Promise<GcsObjectResource> {
    const pending = first.filter((piece) => piece.length > 0);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const next = pending.shift();
          if (next) {
            sent += next.length;
            controller.enqueue(next);
            return;
          }
          // A failing source errors this body: the request is cut off before its end, so the
          // service never finishes it (chunked encoding, no Content-Length to reach).
          const { done, value } = await read();
          if (done || !value) controller.close();
          else {
            sent += value.length;
            controller.enqueue(value);
          }
        },
      },
      { highWaterMark: 0 },
    );
    const action = `uploading ${request.objectName} in one request`;
    const response = await transport.request(
      sessionUrl as string,
      {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        body,
        retry: false,
        ...(request.signal ? { signal: request.signal } : {}),
      },
      action,
    );
    cancelled = true; // the session ended, one way or the other
    if (response.status !== 200 && response.status !== 201) throw await transport.failure(response, action);
    const resource = (await response.json()) as GcsObjectResource;
    if (Number(resource.size) !== sent) {
      await discardTruncated(resource);
      throw new ArtifactStoreError(
        "E_BACKEND",
        `[gcs] ${action}: the service stored ${resource.size} of ${sent} bytes; the object was removed`,
      );
    }
    return resource;
  }

  async function discardTruncated(resource: GcsObjectResource): Promise<void> {
    await settings.discardObject(request.objectName, resource.generation).catch(() => {});
  }

  return {
    send: async (chunk, final) => {
      const result = await send(chunk, final);
      if (final) cancelled = true; // finished: nothing left to cancel
      return result;
    },
    sendAll,
    /** https://cloud.google.com/storage/docs/performing-resumable-uploads#cancel-upload */
    async cancel() {
      if (cancelled) return;
      cancelled = true;
      try {
        const response = await transport.request(
          sessionUrl as string,
          { method: "DELETE", body: new Uint8Array(0), retry: false },
          `cancelling the upload session of ${request.objectName}`,
        );
        await discard(response);
      } catch {
        // An uncancelled session publishes nothing and expires after a week; the failure that
        // brought us here is what the caller needs to hear about.
      }
    },
  };
}

/** Bytes the session holds, from a 308's `Range: bytes=0-N` (absent: none yet). */
function persistedOffset(response: Response): number {
  const match = /bytes=0-(\d+)/.exec(response.headers.get("range") ?? "");
  return match?.[1] === undefined ? 0 : Number(match[1]) + 1;
}

function isUnavailable(error: unknown): boolean {
  return error instanceof ArtifactStoreError && error.code === "E_BACKEND_UNAVAILABLE";
}

/** Up to `limit` bytes, grown by doubling so small bodies never allocate a whole chunk. */
function createChunkBuffer(limit: number, hint: number | undefined) {
  let bytes = new Uint8Array(Math.min(limit, Math.max(64 * 1024, hint ?? 0)));
  let length = 0;
  return {
    get length() {
      return length;
    },
    /** Copies as much of `chunk` as fits; returns how many bytes it took. */
    append(chunk: Uint8Array): number {
      const take = Math.min(limit - length, chunk.length);
      if (length + take > bytes.length) {
        let capacity = bytes.length;
        while (capacity < length + take) capacity *= 2;
        const grown = new Uint8Array(Math.min(limit, capacity));
        grown.set(bytes.subarray(0, length));
        bytes = grown;
      }
      bytes.set(chunk.subarray(0, take), length);
      length += take;
      return take;
    },
    view(): Uint8Array<ArrayBuffer> {
      return bytes.subarray(0, length);
    },
    reset() {
      length = 0;
    },
  };
}

/**
 * The resumable upload session protocol of Cloud Storage: opening a session, sending a chunk at
 * the session's offset (a failed chunk is recovered by asking the session how much it holds),
 * and cancelling. Also the request and settings types every upload path shares.
 * https://cloud.google.com/storage/docs/performing-resumable-uploads
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { sleep } from "../lib/time.ts";
import { backoffDelay, discard, type GcsTransport, isRetryableStatus } from "./gcs-http.ts";

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

export interface ResumableSession {
  /** The session URI every request of the session goes to. */
  readonly url: string;
  /** Sends `chunk` at the session's offset; the final one publishes and returns the object. */
  send(chunk: Uint8Array<ArrayBuffer>, final: boolean): Promise<GcsObjectResource | undefined>;
  /** Marks the session ended another way (one PUT of the whole body): `cancel` then sends nothing. */
  end(): void;
  /** Abandons the session so nothing of it is ever published (best effort). */
  cancel(): Promise<void>;
}

/** Where a session finished on a chunk that was not the final one: the offset of that chunk. */
export interface FinishedEarly {
  offset: number;
  generation?: string;
}

/** The early finish a chunk's failure reports, if that is what it was. */
export function finishedEarly(error: unknown): FinishedEarly | undefined {
  if (!(error instanceof ArtifactStoreError)) return undefined;
  return error.details?.finishedEarly as FinishedEarly | undefined;
}

export function uploadUrlFor(settings: UploadSettings, request: UploadRequest, uploadType: string): string {
  const query = new URLSearchParams({ uploadType, name: request.objectName });
  if (request.ifGenerationMatch !== undefined) query.set("ifGenerationMatch", request.ifGenerationMatch);
  return `${settings.uploadUrl}?${query}`;
}

/** What a session's requests share; `offset` is the bytes the session is known to hold. */
interface SessionState {
  transport: GcsTransport;
  request: UploadRequest;
  url: string;
  offset: number;
}

/**
 * Opens a resumable session. Preconditions go here: the service checks them again when the
 * final chunk arrives.
 * https://cloud.google.com/storage/docs/performing-resumable-uploads#initiate-session
 */
export async function startSession(settings: UploadSettings, request: UploadRequest): Promise<ResumableSession> {
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
  const url = response.headers.get("location");
  if (!url) throw new ArtifactStoreError("E_BACKEND", `[gcs] ${action}: no session URI in the reply`);
  const state: SessionState = { transport, request, url, offset: 0 };
  let ended = false;
  return {
    url,
    send: async (chunk, final) => {
      const result = await sendChunk(state, chunk, final);
      if (final) ended = true; // finished: nothing left to cancel
      return result;
    },
    end() {
      ended = true;
    },
    async cancel() {
      if (ended) return;
      ended = true;
      await cancelSession(state);
    },
  };
}

/** https://cloud.google.com/storage/docs/performing-resumable-uploads#chunked-upload */
async function sendChunk(
  state: SessionState,
  chunk: Uint8Array<ArrayBuffer>,
  final: boolean,
): Promise<GcsObjectResource | undefined> {
  const { transport, request } = state;
  const start = state.offset;
  const end = start + chunk.length;
  const total = final ? end : undefined;
  const chunkAction = `uploading bytes ${start}-${end - 1} of ${request.objectName}`;
  for (let failures = 0; ; ) {
    if (state.offset < start) {
      throw new ArtifactStoreError("E_BACKEND", `[gcs] ${chunkAction}: the session lost bytes it had confirmed`);
    }
    const piece = chunk.subarray(state.offset - start);
    const range = piece.length === 0 ? `bytes */${total}` : `bytes ${state.offset}-${end - 1}/${total ?? "*"}`;
    let failure: unknown;
    let retryAfter: string | null = null;
    try {
      // Sent once: a failed chunk is recovered by asking the session where it stands.
      const response = await transport.request(
        state.url,
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
        if (!final) throw finishedEarlyError(chunkAction, start, resource);
        return resource;
      }
      if (response.status === 308) {
        await discard(response);
        const before = state.offset;
        state.offset = persistedOffset(response);
        if (!final && state.offset >= end) return undefined;
        if (state.offset > before) continue; // progress: send the rest of the chunk
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
      status = await queryOffset(state, total).catch((error: unknown) => {
        if (!isUnavailable(error)) throw error;
        failure = error;
        return undefined;
      });
    }
    if (typeof status !== "number") return status;
    state.offset = status;
  }
}

function finishedEarlyError(action: string, offset: number, resource: GcsObjectResource): ArtifactStoreError {
  const early: FinishedEarly = { offset, ...(resource.generation ? { generation: resource.generation } : {}) };
  return new ArtifactStoreError("E_BACKEND", `[gcs] ${action}: the session finished early`, {
    details: { finishedEarly: early },
  });
}

/**
 * Asks how many bytes the session holds (`Content-Range: bytes *\/*`): 308 with `Range`,
 * or 200/201 when the final chunk did arrive before its reply was lost.
 * https://cloud.google.com/storage/docs/performing-resumable-uploads#status-check
 */
async function queryOffset(state: SessionState, total: number | undefined): Promise<number | GcsObjectResource> {
  const { transport, request } = state;
  const response = await transport.request(
    state.url,
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
  if (response.status !== 308) throw await transport.failure(response, `resuming the upload of ${request.objectName}`);
  await discard(response);
  return persistedOffset(response);
}

/** https://cloud.google.com/storage/docs/performing-resumable-uploads#cancel-upload */
async function cancelSession(state: SessionState): Promise<void> {
  try {
    const response = await state.transport.request(
      state.url,
      { method: "DELETE", body: new Uint8Array(0), retry: false },
      `cancelling the upload session of ${state.request.objectName}`,
    );
    await discard(response);
  } catch {
    // An uncancelled session publishes nothing and expires after a week; the failure that
    // brought us here is what the caller needs to hear about.
  }
}

/** Bytes the session holds, from a 308's `Range: bytes=0-N` (absent: none yet). */
function persistedOffset(response: Response): number {
  const match = /bytes=0-(\d+)/.exec(response.headers.get("range") ?? "");
  return match?.[1] === undefined ? 0 : Number(match[1]) + 1;
}

function isUnavailable(error: unknown): boolean {
  return error instanceof ArtifactStoreError && error.code === "E_BACKEND_UNAVAILABLE";
}

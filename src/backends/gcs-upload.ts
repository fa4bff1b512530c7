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
 *
 * The parts: the session protocol (`gcs-upload-session.ts`), the one-PUT mode
 * (`gcs-upload-one-put.ts`) and the chunk held back (`gcs-chunk-buffer.ts`); this file decides
 * which request goes when.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { createChunkBuffer } from "./gcs-chunk-buffer.ts";
import { sendInOnePut } from "./gcs-upload-one-put.ts";
import {
  finishedEarly,
  type GcsObjectResource,
  type ResumableSession,
  startSession,
  type UploadRequest,
  type UploadSettings,
  uploadUrlFor,
} from "./gcs-upload-session.ts";

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
            return await sendInOnePut(settings, request, session, [buffer.view(), rest], read);
          }
          const early = await sendChunk(settings, session, buffer.view(), request);
          if (early) {
            // The service took the first chunk for the whole upload (the emulator does): the
            // truncated object is gone; this upload and later ones go as one PUT.
            settings.sessions.onePut = true;
            session = await startSession(settings, request);
            publishing = true;
            return await sendInOnePut(settings, request, session, [buffer.view(), rest], read);
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

/**
 * The one-PUT mode of a resumable session, for a service that finishes a session on its first
 * chunk (Google's storage emulator ignores Content-Range): the whole body goes as ONE streamed
 * PUT from offset 0, chunked, so the service sees its end only when the source closed cleanly,
 * and memory stays one chunk. A service that stored less than was sent gets that object removed.
 * https://cloud.google.com/storage/docs/performing-resumable-uploads#single-chunk-upload
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { GcsObjectResource, ResumableSession, UploadRequest, UploadSettings } from "./gcs-upload-session.ts";

/** The rest of the body, read on demand; the source's own failure rejects it. */
export type ReadNext = () => Promise<{ done: boolean; value?: Uint8Array }>;

/** Sends `first` and then the rest of the body as `read` yields it, in one PUT to `session`. */
export async function sendInOnePut(
  settings: UploadSettings,
  request: UploadRequest,
  session: ResumableSession,
  first: Uint8Array[],
  read: ReadNext,
): Promise<GcsObjectResource> {
  const { transport } = settings;
  const counted = countedBody(first, read);
  const action = `uploading ${request.objectName} in one request`;
  const response = await transport.request(
    session.url,
    {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: counted.body,
      retry: false,
      ...(request.signal ? { signal: request.signal } : {}),
    },
    action,
  );
  session.end(); // the session ended, one way or the other
  if (response.status !== 200 && response.status !== 201) throw await transport.failure(response, action);
  const resource = (await response.json()) as GcsObjectResource;
  if (Number(resource.size) !== counted.sent()) {
    await settings.discardObject(request.objectName, resource.generation).catch(() => {});
    throw new ArtifactStoreError(
      "E_BACKEND",
      `[gcs] ${action}: the service stored ${resource.size} of ${counted.sent()} bytes; the object was removed`,
    );
  }
  return resource;
}

/** `first`, then what `read` yields, as one body pulled on demand, counting the bytes it gave. */
function countedBody(first: Uint8Array[], read: ReadNext) {
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
  return { body, sent: () => sent };
}

import { streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError, isArtifactStoreError, toArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactContent } from "../contracts/types.ts";

/** Byte length of content when it is known without reading it. */
export function knownLength(content: ArtifactContent): number | undefined {
  if (typeof content === "string") return undefined;
  if (content instanceof Uint8Array || content instanceof ArrayBuffer) return content.byteLength;
  if (typeof Blob !== "undefined" && content instanceof Blob) return content.size;
  return undefined;
}

/** Any accepted content as a byte stream. Streams pass through untouched (backpressure intact). */
export function contentToStream(content: ArtifactContent): ReadableStream<Uint8Array> {
  if (typeof content === "string") return streamFromBytes(new TextEncoder().encode(content));
  if (content instanceof Uint8Array) return streamFromBytes(content);
  if (content instanceof ArrayBuffer) return streamFromBytes(new Uint8Array(content));
  if (typeof Blob !== "undefined" && content instanceof Blob) return content.stream() as ReadableStream<Uint8Array>;
  if (content instanceof ReadableStream) return content;
  throw new ArtifactStoreError(
    "E_INVALID_INPUT",
    "content must be a string, Uint8Array, ArrayBuffer, Blob or ReadableStream<Uint8Array>",
    { details: { field: "content" } },
  );
}

/**
 * Passes a stream on unchanged, but fails it with a clear error when a chunk is not bytes
 * (a stream of strings is a common mistake and would otherwise corrupt the checksum).
 */
export function assertByteChunks(): TransformStream<unknown, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      if (!(chunk instanceof Uint8Array)) {
        throw new ArtifactStoreError(
          "E_INVALID_INPUT",
          `content stream must yield Uint8Array chunks, got ${typeof chunk === "object" ? (chunk?.constructor?.name ?? "object") : typeof chunk}`,
          { details: { field: "content" } },
        );
      }
      controller.enqueue(chunk);
    },
  });
}

/** The content as a byte stream whose every failure is already an ArtifactStoreError. */
export function guardSource(input: {
  content: ArtifactContent;
  signal?: AbortSignal | undefined;
  contentLength?: number | undefined;
}): ReadableStream<Uint8Array> {
  const { signal } = input;
  const abortError = () =>
    new ArtifactStoreError("E_INVALID_INPUT", "upload aborted before the content ended; nothing was stored", {
      cause: signal?.reason,
    });
  if (signal?.aborted) throw abortError();
  const raw = contentToStream(input.content).pipeThrough(assertByteChunks() as TransformStream<Uint8Array, Uint8Array>);
  const reader = raw.getReader();
  const declared = input.contentLength;
  if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "contentLength must be a non-negative integer");
  }
  const lengthError = (received: number) =>
    new ArtifactStoreError(
      "E_INVALID_INPUT",
      `the body ${received > (declared ?? 0) ? "is longer than" : "ended before"} its declared length of ${declared} bytes; nothing was stored`,
    );
  let received = 0;
  let onAbort: (() => void) | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (!signal) return;
        onAbort = () => {
          controller.error(abortError());
          reader.cancel(signal.reason).catch(() => {});
        };
        signal.addEventListener("abort", onAbort, { once: true });
      },
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            if (onAbort) signal?.removeEventListener("abort", onAbort);
            if (declared !== undefined && received !== declared) controller.error(lengthError(received));
            else controller.close();
          } else {
            received += value.length;
            if (declared !== undefined && received > declared) {
              await reader.cancel().catch(() => {});
              controller.error(lengthError(received));
            } else controller.enqueue(value);
          }
        } catch (error) {
          if (onAbort) signal?.removeEventListener("abort", onAbort);
          controller.error(
            isArtifactStoreError(error)
              ? error
              : toArtifactStoreError(error, "E_INVALID_INPUT", "reading the content failed; nothing was stored"),
          );
        }
      },
      cancel(reason) {
        if (onAbort) signal?.removeEventListener("abort", onAbort);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

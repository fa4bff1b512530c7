import { streamFromBytes } from "../codec/streams.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
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

/**
 * Codec engines for Cloudflare Workers (workerd). Only Web APIs and pure JavaScript, no `node:`.
 *
 * - gzip: `CompressionStream("gzip")` (native zlib, default level 6) for level 6, the default;
 *   fflate for other levels, which CompressionStream cannot set.
 * - gunzip: fflate. workerd's `DecompressionStream` refuses concatenated gzip members
 *   ("Trailing bytes after end of compressed data"), which uploads sent with
 *   `Content-Encoding: gzip` may contain.
 * - SHA-256: @noble/hashes. workerd's `crypto.DigestStream` is incremental but only yields its
 *   digest asynchronously, and the engine contract's `digest()` is synchronous.
 */
import type { CodecEngines } from "../codec/engines.ts";
import { createFflateGunzip, createFflateGzip, createNobleSha256 } from "../codec/portable.ts";

const COMPRESSION_STREAM_LEVEL = 6;

/**
 * Wraps a native transform so that an upstream failure comes out as the very error that went
 * in. workerd's native streams (CompressionStream is one) turn an error crossing them into a
 * plain `Error` carrying only the message: the store would no longer recognise its own
 * `E_CHECKSUM_MISMATCH` or `E_QUOTA_EXCEEDED` and report a backend failure instead.
 */
export function keepingErrors(
  native: TransformStream<Uint8Array, Uint8Array>,
): TransformStream<Uint8Array, Uint8Array> {
  const writer = native.writable.getWriter();
  const reader = native.readable.getReader();
  let upstreamError: { reason: unknown } | undefined;
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (error) {
          controller.error(upstreamError ? upstreamError.reason : error);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => writer.write(chunk),
    close: () => writer.close(),
    abort(reason) {
      upstreamError = { reason };
      return writer.abort(reason);
    },
  });
  return { readable, writable };
}

/**
 * @example
 * const store = createArtifactStore({ backend, metadata, codecs: createWorkerEngines() });
 */
export function createWorkerEngines(): CodecEngines {
  return {
    name: "workerd (CompressionStream, fflate gunzip, @noble/hashes)",
    createGzip: (level) =>
      level === COMPRESSION_STREAM_LEVEL
        ? keepingErrors(new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>)
        : createFflateGzip(level),
    createGunzip: createFflateGunzip,
    createSha256: createNobleSha256,
  };
}

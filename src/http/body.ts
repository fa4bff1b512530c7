import { ArtifactStoreError } from "../contracts/errors.ts";

/**
 * A request body read whole, but never more than `limit` bytes of it: a chunked body (no
 * Content-Length) that goes on is cut off at the limit instead of being buffered.
 */
export async function readBodyLimited(
  request: Request,
  limit: number,
  tooLarge: () => ArtifactStoreError,
): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof ArtifactStoreError) throw error;
    throw new ArtifactStoreError("E_INVALID_INPUT", "the request body ended early; nothing was stored", {
      cause: error,
    });
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

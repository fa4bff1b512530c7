/**
 * The one way the app reads a request body: every byte actually received is counted against a
 * limit, whatever `Content-Length` or `Transfer-Encoding` claim. A declared length above the
 * limit is refused before reading; a chunked body that goes on is cut off at the limit instead
 * of being buffered. Routes never call `request.json()`, `text()`, `formData()` or Hono's
 * `parseBody()` on the raw request.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { tooLargeError } from "../core/upload-plan.ts";

/** Login forms, PATCH documents and the like. */
export const SMALL_BODY_LIMIT = 64 * 1024;
/** Routes whose parameters are in the query string (maintenance, seal, logout): a stray `{}` is fine. */
export const NO_BODY_LIMIT = 4 * 1024;

/** E_TOO_LARGE (413) naming the limit; nothing was stored. */
export function bodyTooLarge(limit: number, what = "request body"): ArtifactStoreError {
  return tooLargeError(limit, what);
}

/** The request's `Content-Length` when it is a plain non-negative integer, else undefined. */
export function declaredLength(request: Request): number | undefined {
  const text = request.headers.get("content-length");
  if (text === null || !/^\d{1,16}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}

/**
 * A request body read whole, but never more than `limit` bytes of it.
 *
 * @example
 * const bytes = await readBodyLimited(c.req.raw, SMALL_BODY_LIMIT);
 */
export async function readBodyLimited(
  request: Request,
  limit: number,
  tooLarge: () => ArtifactStoreError = () => bodyTooLarge(limit),
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = declaredLength(request);
  if ((declared ?? 0) > limit) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  // Framed by its Content-Length alone, the body cannot run past it (and it is within the limit):
  // one read. On Bun a stream reader takes a 256 KiB buffer per body, a collection every ~25 PUTs;
  // on Node, asking for `request.body` makes the adapter build a whole web Request and stream.
  if (declared !== undefined && request.headers.get("transfer-encoding") === null) {
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = new Uint8Array(await request.arrayBuffer());
    } catch (error) {
      throw endedEarly(error);
    }
    if (body.length > limit) throw tooLarge();
    return body;
  }
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
    throw endedEarly(error);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

function endedEarly(error: unknown): ArtifactStoreError {
  if (error instanceof ArtifactStoreError) return error;
  return new ArtifactStoreError("E_INVALID_INPUT", "the request body ended early; nothing was stored", {
    cause: error,
  });
}

/** A urlencoded or multipart form read through the capped reader. */
export async function readFormLimited(request: Request, limit: number): Promise<Map<string, string>> {
  const bytes = await readBodyLimited(request, limit);
  const type = request.headers.get("content-type") ?? "application/x-www-form-urlencoded";
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "Content-Type": type } }).formData();
  } catch (error) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "the form could not be read; send it urlencoded", {
      cause: error,
    });
  }
  const fields = new Map<string, string>();
  for (const [name, value] of form) if (typeof value === "string" && !fields.has(name)) fields.set(name, value);
  return fields;
}

/** For routes that take their parameters from the URL: a body beyond a few bytes is refused, not read. */
export async function refuseBody(request: Request): Promise<void> {
  await readBodyLimited(request, NO_BODY_LIMIT, () =>
    bodyTooLarge(NO_BODY_LIMIT, "this route takes its parameters from the URL; the request body"),
  );
}

/** The streamed form of the same rule: errors the stream once it passes `limit` bytes, so nothing is published. */
export function limitBody(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let received = 0;
  return new TransformStream({
    transform(chunk, controller) {
      received += chunk.length;
      if (received > limit) throw bodyTooLarge(limit);
      controller.enqueue(chunk);
    },
  });
}

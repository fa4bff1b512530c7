/**
 * What workerd and Cloudflare do to requests and responses, undone at the edge entry: the
 * client's own `Accept-Encoding` put back, and responses sent with their length and encoding.
 */

/**
 * The request with the client's own `Accept-Encoding`. Cloudflare (and `wrangler dev`, which
 * copies it) replaces that header with `br, gzip` before the Worker sees it and keeps what the
 * client sent in `request.cf.clientAcceptEncoding` (`""` when it sent none). The app negotiates
 * with the header, so this is where the client's value goes back in: a plain `curl` gets the
 * plain bytes, and the headers describe what is sent.
 */
export function withClientAcceptEncoding(request: Request): Request {
  const client = (request as { cf?: { clientAcceptEncoding?: unknown } }).cf?.clientAcceptEncoding;
  if (typeof client !== "string" || request.headers.get("accept-encoding") === client) return request;
  const headers = new Headers(request.headers);
  if (client === "") headers.delete("accept-encoding");
  else headers.set("accept-encoding", client);
  return new Request(request, { headers });
}

/** workerd's stream that declares its length, so the response goes out with `Content-Length`. */
type FixedLengthStreamConstructor = new (length: number) => TransformStream<Uint8Array, Uint8Array>;

/**
 * The app's response as workerd should send it:
 * - a streamed body whose length the app knows goes through a `FixedLengthStream`, or workerd
 *   would drop `Content-Length` and send it chunked (HEAD would say a length GET does not);
 * - a body with `Content-Encoding` is sent as it is (`encodeBody: "manual"`): stored gzip passed
 *   through must not be gzipped twice;
 * - an artifact sent as it was uploaded (its `Repr-Digest` describes the identity bytes) is
 *   marked `Content-Encoding: identity`: Cloudflare (and wrangler dev) would otherwise gzip or
 *   brotli a text body for a client that accepts it, and the length, range and digests would no
 *   longer describe what is sent. Other responses (JSON, pages) are left to the platform.
 */
export function forTheWire(response: Response): Response {
  if (!response.headers.has("content-encoding") && response.headers.has("repr-digest")) {
    response = new Response(response.body, response);
    response.headers.set("Content-Encoding", "identity");
  }
  const encoded = response.headers.has("content-encoding");
  const length = Number(response.headers.get("content-length") ?? Number.NaN);
  const Fixed = (globalThis as { FixedLengthStream?: FixedLengthStreamConstructor }).FixedLengthStream;
  let body: ReadableStream<Uint8Array> | null = response.body;
  if (body && Fixed && Number.isSafeInteger(length) && length >= 0) {
    const fixed = new Fixed(length);
    // A source that fails midway errors the fixed stream too: the transfer breaks off.
    body.pipeTo(fixed.writable).catch(() => {});
    body = fixed.readable;
  }
  if (!encoded && body === response.body) return response;
  const init = {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
    ...(encoded ? { encodeBody: "manual" } : {}),
  };
  return new Response(body, init as ResponseInit);
}

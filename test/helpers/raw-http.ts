/**
 * HTTP requests as curl sends them (node:http): no header the caller did not give, and the body
 * as it came over the wire. fetch would ask for gzip on its own and decode it.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The bytes on the wire, not decoded. */
  body: Uint8Array;
}

/**
 * One request with exactly the given headers, as curl sends it: no `Accept-Encoding` unless
 * given, and the body as it came (fetch would ask for gzip and decode it).
 */
export function rawRequest(
  url: URL,
  options: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: options.method ?? "GET", headers: options.headers ?? {} },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode as number,
            headers: response.headers,
            body: new Uint8Array(Buffer.concat(chunks)),
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(options.body);
  });
}

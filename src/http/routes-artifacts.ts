/**
 * `/v1/artifacts/:spec/:task/:type`: streamed upload, download (gzip passthrough, Range,
 * conditional requests), metadata changes and deletion.
 */
import type { Context, Hono } from "hono";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import { isReplacedError, MAX_REPLACED_RETRIES } from "../core/download.ts";
import { assertJsonDepth } from "../core/names.ts";
import type { ArtifactStore } from "../core/store.ts";
import { IN_MEMORY_LIMIT } from "../core/upload-plan.ts";
import { authorize, type Principal } from "./auth.ts";
import { bodyTooLarge, declaredLength, limitBody, readBodyLimited, refuseBody, SMALL_BODY_LIMIT } from "./body.ts";
import type { AppEnv, RouteContext } from "./env.ts";
import {
  acceptsGzip,
  createdHeaders,
  digestField,
  etagMatches,
  ifRangeMatches,
  parseDigestField,
  parseMetadataHeader,
  parseRangeHeader,
  parseTagsHeader,
} from "./headers.ts";
import { parseArtifactRef } from "./parameters.ts";

/** The artifact route, also the `route` label of its requests in the metrics. */
export const ARTIFACT_PATH = "/v1/artifacts/:spec/:task/:type";
/** Content types that say nothing about the content (curl's --data-binary default, generic binary). */
const UNINFORMATIVE_TYPES = new Set(["application/octet-stream", "application/x-www-form-urlencoded"]);

export function registerArtifactRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  const { store } = context;

  app.put(ARTIFACT_PATH, (c) => receiveUpload(artifactRequestOf(c), context));

  app.on("HEAD", ARTIFACT_PATH, (c) => serveArtifact(artifactRequestOf(c), store, false));
  app.get(ARTIFACT_PATH, (c) => serveArtifact(artifactRequestOf(c), store, true));

  app.patch(ARTIFACT_PATH, async (c) => {
    const ref = refFromRequest(c, true);
    authorize(c.get("principal"), "write", ref.specName);
    const text = new TextDecoder().decode(await readBodyLimited(c.req.raw, SMALL_BODY_LIMIT));
    assertJsonDepth(text, "PATCH body");
    let change: unknown;
    try {
      change = JSON.parse(text);
    } catch {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        'PATCH body must be JSON such as {"pinned": true, "addTags": ["keep"]}',
      );
    }
    if (typeof change !== "object" || change === null || Array.isArray(change)) {
      throw new ArtifactStoreError("E_INVALID_INPUT", "PATCH body must be a JSON object");
    }
    const allowed = new Set(["pinned", "tags", "addTags", "removeTags"]);
    const unknown = Object.keys(change).filter((key) => !allowed.has(key));
    if (unknown.length > 0) {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        `unknown field ${unknown[0]}; use pinned, tags, addTags or removeTags`,
      );
    }
    return c.json(await store.update(ref, change));
  });

  app.delete(ARTIFACT_PATH, async (c) => {
    const ref = refFromRequest(c, true);
    authorize(c.get("principal"), "write", ref.specName);
    await refuseBody(c.req.raw);
    const deleted = await store.delete(ref);
    if (deleted === 0) throw new ArtifactStoreError("E_NOT_FOUND", "no such artifact version");
    return c.json({ deleted });
  });
}

/**
 * PUT: the request's headers and body as an upload; 201 with the metadata, its Location and any
 * quota warning. The names are checked (no `?version=`), then the principal's write scope.
 */
export async function receiveUpload(write: ArtifactRequest, context: RouteContext): Promise<Response> {
  const { store } = context;
  const { request } = write;
  const ref = parseArtifactRef(write.names, write.version, "forbidden");
  authorize(write.principal, "write", ref.specName);
  const header = (name: string) => request.headers.get(name) ?? undefined;
  const contentType = header("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (contentType === "multipart/form-data") {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      "send the artifact as the raw request body, not as a multipart form",
    );
  }
  // An empty Content-Encoding lists no coding: the body is sent as it is.
  const encoding = (header("content-encoding")?.trim() || "identity").toLowerCase();
  if (encoding !== "gzip" && encoding !== "x-gzip" && encoding !== "identity") {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `Content-Encoding ${encoding} is not supported; send gzip or no encoding`,
    );
  }
  const length = declaredLength(request);
  if (length !== undefined && length > context.bodyLimit) throw bodyTooLarge(context.bodyLimit);
  const digest = parseDigestField(header("content-digest"));
  const gzip = encoding !== "identity";
  // A small body of known length is read whole: the store encodes it in one step (far less
  // per-request work than setting up streams for a few KiB). Larger ones stream. Either way
  // the bytes received are counted, whatever the length header said.
  const content =
    length !== undefined && !gzip && length <= IN_MEMORY_LIMIT
      ? await readBodyLimited(request, Math.min(IN_MEMORY_LIMIT, context.bodyLimit))
      : ((request.body ?? new Blob([]).stream()) as ReadableStream<Uint8Array>).pipeThrough(
          limitBody(context.bodyLimit),
        );
  const tags = parseTagsHeader(header("x-artifact-tags"));
  const metadata = parseMetadataHeader(header("x-artifact-metadata"));
  const result = await store.upload({
    ...ref,
    content,
    contentEncoding: gzip ? "gzip" : "identity",
    ...(tags ? { tags } : {}),
    ...(metadata ? { metadata } : {}),
    ...(digest ? { expectedEncodedChecksum: digest } : {}),
    ...(length !== undefined ? { contentLength: length } : {}),
    ...(contentType && !UNINFORMATIVE_TYPES.has(contentType) ? { mimeType: header("content-type") as string } : {}),
    signal: request.signal,
  });
  return new Response(JSON.stringify(result), {
    status: 201,
    headers: { "Content-Type": "application/json", ...createdHeaders(result) },
  });
}

/** Path names and `?version=`, checked before anything else happens. */
function refFromRequest(c: Context<AppEnv>, allowVersion: boolean): ArtifactRef {
  return parseArtifactRef(
    { spec: c.req.param("spec"), task: c.req.param("task"), type: c.req.param("type") },
    c.req.query("version"),
    allowVersion ? "allowed" : "forbidden",
  );
}

/** What a read or an upload of an artifact takes from its request. */
export interface ArtifactRequest {
  /** The path's names as routed, not yet checked. */
  names: { spec: string | undefined; task: string | undefined; type: string | undefined };
  /** `?version=`, not yet checked. */
  version: string | undefined;
  /** Who asks (set by authentication). */
  principal: Principal;
  /** Its headers, body and abort signal. */
  request: Request;
}

function artifactRequestOf(c: Context<AppEnv>): ArtifactRequest {
  return {
    names: { spec: c.req.param("spec"), task: c.req.param("task"), type: c.req.param("type") },
    version: c.req.query("version"),
    principal: c.get("principal"),
    request: c.req.raw,
  };
}

/**
 * GET and HEAD: one lookup decides encoding, range and headers; only GET reads the bytes. The
 * names and version are checked, then the principal's read scope, before anything else.
 */
export async function serveArtifact(
  read: ArtifactRequest,
  store: ArtifactStore,
  withBody: boolean,
  attempt = 1,
): Promise<Response> {
  const ref = parseArtifactRef(read.names, read.version, "allowed");
  authorize(read.principal, "read", ref.specName);
  const header = (name: string) => read.request.headers.get(name) ?? undefined;
  let range = parseRangeHeader(header("range"));
  const ifRange = header("if-range");
  if (range && ifRange !== undefined) {
    const current = await store.stat(ref);
    if (!current || !ifRangeMatches(ifRange, current)) range = undefined;
  }
  const prepared = await store.prepareRead(ref, {
    acceptEncoding: acceptsGzip(header("accept-encoding")) ? "gzip" : "identity",
    ...(range ? { range } : {}),
    // Read only where a read needs it (a stream, a remote backend), never for a small whole file:
    // Node's adapter makes an AbortController for a request whose signal is asked for.
    get signal() {
      return read.request.signal;
    },
  });
  const { metadata } = prepared;
  // A range's ETag is the whole decoded representation's, as for If-Range.
  const checksum = prepared.checksum ?? metadata.originalChecksum;
  const headers: Record<string, string> = {
    "Content-Type":
      metadata.mimeType.startsWith("text/") && !metadata.mimeType.includes("charset")
        ? `${metadata.mimeType}; charset=utf-8`
        : metadata.mimeType,
    ETag: `"${checksum}"`,
    "Repr-Digest": digestField(checksum),
    Vary: "Accept-Encoding",
    "Accept-Ranges": "bytes",
    "Last-Modified": new Date(metadata.createdAt).toUTCString(),
    "Cache-Control": ref.version !== undefined ? "private, max-age=31536000, immutable" : "private, no-cache",
    "X-Artifact-Version": String(metadata.version),
    "X-Artifact-Uri": metadata.uri,
    // The MIME type is the uploader's word: never let a browser run what it was told is HTML.
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
  };
  if (prepared.contentEncoding === "gzip") headers["Content-Encoding"] = "gzip";
  if (prepared.range)
    headers["Content-Range"] = `bytes ${prepared.range.start}-${prepared.range.end}/${prepared.range.size}`;
  if (etagMatches(header("if-none-match"), headers.ETag as string)) return notModified(headers);
  headers["Content-Length"] = String(prepared.length);
  const status = prepared.range ? 206 : 200;
  if (!withBody) return new Response(null, { status, headers });
  let opened: Awaited<ReturnType<typeof prepared.open>>;
  try {
    opened = await prepared.open();
  } catch (error) {
    // Replaced between the lookup and the open: answer for the new version instead.
    if (isReplacedError(error) && attempt < MAX_REPLACED_RETRIES)
      return serveArtifact(read, store, withBody, attempt + 1);
    throw error;
  }
  if (!opened.bytes) return new Response(opened.body, { status, headers });
  // Bytes held whole (and verified) go out as they are: far cheaper than a stream for a few KiB.
  const response = new Response(opened.bytes as BodyInit, { status, headers });
  wholeResponses.add(response);
  return response;
}

/** Content responses whose body is bytes already read and verified (see {@link isWholeResponse}). */
const wholeResponses = new WeakSet<Response>();

/**
 * True for a content response whose body is bytes already read and verified: it cannot fail
 * mid-transfer, so a server may send it as it is (the Node adapter then writes it in one go).
 */
export function isWholeResponse(response: Response): boolean {
  return wholeResponses.has(response);
}

function notModified(headers: Record<string, string>): Response {
  const { ETag, Vary, "Cache-Control": cacheControl, "Last-Modified": lastModified } = headers;
  return new Response(null, {
    status: 304,
    headers: {
      ETag: ETag as string,
      Vary: Vary as string,
      "Cache-Control": cacheControl as string,
      "Last-Modified": lastModified as string,
    },
  });
}

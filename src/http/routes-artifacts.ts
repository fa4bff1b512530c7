/**
 * `/v1/artifacts/:spec/:task/:type`: streamed upload, download (gzip passthrough, Range,
 * conditional requests), metadata changes and deletion.
 */
import type { Context, Hono } from "hono";
import { resolveContentRange } from "../core/download.ts";
import { ArtifactStoreError } from "../core/errors.ts";
import { assertValidName, assertValidVersion } from "../core/names.ts";
import type { ArtifactStore } from "../core/store.ts";
import type { ArtifactMetadata, ArtifactRef } from "../core/types.ts";
import type { AppEnv } from "./app.ts";
import { authorize } from "./auth.ts";
import {
  acceptsGzip,
  digestField,
  etagMatches,
  parseDigestField,
  parseMetadataHeader,
  parseRangeHeader,
  parseTagsHeader,
} from "./headers.ts";
import type { HttpMetrics } from "./metrics.ts";

export interface RouteContext {
  store: ArtifactStore;
  bodyLimit: number;
  metrics: HttpMetrics;
}

const ARTIFACT_PATH = "/v1/artifacts/:spec/:task/:type";
/** Content types that say nothing about the content (curl's --data-binary default, generic binary). */
const UNINFORMATIVE_TYPES = new Set(["application/octet-stream", "application/x-www-form-urlencoded"]);
/** PATCH bodies are small JSON documents. */
const PATCH_BODY_LIMIT = 64 * 1024;

export function registerArtifactRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  const { store } = context;

  app.put(ARTIFACT_PATH, async (c) => {
    const ref = refFromRequest(c, false);
    authorize(c.get("principal"), "write", ref.specName);
    const contentType = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (contentType === "multipart/form-data") {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        "send the artifact as the raw request body, not as a multipart form",
      );
    }
    const encoding = (c.req.header("content-encoding") ?? "identity").trim().toLowerCase();
    if (encoding !== "gzip" && encoding !== "x-gzip" && encoding !== "identity") {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        `Content-Encoding ${encoding} is not supported; send gzip or no encoding`,
      );
    }
    const declaredLength = Number(c.req.header("content-length") ?? Number.NaN);
    if (declaredLength > context.bodyLimit) throw bodyTooLarge(context.bodyLimit);
    const digest = parseDigestField(c.req.header("content-digest"));
    const gzip = encoding !== "identity";
    const body = (c.req.raw.body ?? new Blob([]).stream()) as ReadableStream<Uint8Array>;
    const tags = parseTagsHeader(c.req.header("x-artifact-tags"));
    const metadata = parseMetadataHeader(c.req.header("x-artifact-metadata"));
    const result = await store.upload({
      ...ref,
      content: body.pipeThrough(limitBody(context.bodyLimit)),
      contentEncoding: gzip ? "gzip" : "identity",
      ...(tags ? { tags } : {}),
      ...(metadata ? { metadata } : {}),
      ...(digest ? { expectedEncodedChecksum: digest } : {}),
      ...(contentType && !UNINFORMATIVE_TYPES.has(contentType)
        ? { mimeType: c.req.header("content-type") as string }
        : {}),
      signal: c.req.raw.signal,
    });
    const headers: Record<string, string> = {
      Location: `/v1/artifacts/${result.specName}/${result.taskId}/${result.type}?version=${result.version}`,
      "X-Artifact-Version": String(result.version),
    };
    if (result.warnings.length > 0) headers["X-Artifact-Warning"] = result.warnings.join("; ");
    return c.json(result, 201, headers);
  });

  app.on("HEAD", ARTIFACT_PATH, async (c) => {
    const ref = refFromRequest(c, true);
    authorize(c.get("principal"), "read", ref.specName);
    const metadata = await requireMetadata(store, ref);
    const plan = planRepresentation(c, metadata, ref.version !== undefined);
    if (etagMatches(c.req.header("if-none-match"), plan.headers.ETag as string)) return notModified(plan.headers);
    return new Response(null, {
      status: plan.status,
      headers: { ...plan.headers, "Content-Length": String(plan.length) },
    });
  });

  app.get(ARTIFACT_PATH, async (c) => {
    const ref = refFromRequest(c, true);
    authorize(c.get("principal"), "read", ref.specName);
    const metadata = await requireMetadata(store, ref);
    const plan = planRepresentation(c, metadata, ref.version !== undefined);
    if (etagMatches(c.req.header("if-none-match"), plan.headers.ETag as string)) return notModified(plan.headers);
    const opened = await store.open(
      { ...ref, version: metadata.version },
      {
        acceptEncoding: plan.gzip ? "gzip" : "identity",
        ...(plan.range ? { range: plan.range } : {}),
        signal: c.req.raw.signal,
      },
    );
    return new Response(opened.body, {
      status: plan.status,
      headers: { ...plan.headers, "Content-Length": String(opened.length) },
    });
  });

  app.patch(ARTIFACT_PATH, async (c) => {
    const ref = refFromRequest(c, true);
    authorize(c.get("principal"), "write", ref.specName);
    const text = await c.req.text();
    if (text.length > PATCH_BODY_LIMIT) throw bodyTooLarge(PATCH_BODY_LIMIT);
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
    const deleted = await store.delete(ref);
    if (deleted === 0) throw new ArtifactStoreError("E_NOT_FOUND", "no such artifact version");
    return c.json({ deleted });
  });
}

/** Path names and `?version=`, checked before anything else happens. */
function refFromRequest(c: Context<AppEnv>, allowVersion: boolean): ArtifactRef {
  const ref: ArtifactRef = {
    specName: assertValidName("specName", c.req.param("spec")),
    taskId: assertValidName("taskId", c.req.param("task")),
    type: assertValidName("type", c.req.param("type")),
  };
  const version = c.req.query("version");
  if (version !== undefined) {
    if (!allowVersion)
      throw new ArtifactStoreError("E_INVALID_INPUT", "an upload creates the next version; drop ?version=");
    if (!/^\d{1,15}$/.test(version))
      throw new ArtifactStoreError("E_INVALID_INPUT", "version must be a positive integer");
    ref.version = assertValidVersion(Number(version));
  }
  return ref;
}

async function requireMetadata(store: ArtifactStore, ref: ArtifactRef): Promise<ArtifactMetadata> {
  const metadata = await store.stat(ref);
  if (!metadata) {
    throw new ArtifactStoreError(
      "E_NOT_FOUND",
      `no artifact ${ref.specName}/${ref.taskId}/${ref.type}${ref.version === undefined ? "" : ` version ${ref.version}`}`,
    );
  }
  if (metadata.integrity === "corrupt") {
    throw new ArtifactStoreError("E_CORRUPT", `${metadata.uri} failed verification earlier and is not served`);
  }
  return metadata;
}

/** What a GET would send: encoding, range, status and headers, decided before opening any bytes. */
function planRepresentation(c: Context<AppEnv>, metadata: ArtifactMetadata, pinnedVersion: boolean) {
  const requestedRange = parseRangeHeader(c.req.header("range"));
  const range = requestedRange ? resolveContentRange(requestedRange, metadata.originalSize) : undefined;
  const gzip = range === undefined && metadata.compressed && acceptsGzip(c.req.header("accept-encoding"));
  const checksum = gzip ? metadata.checksum : metadata.originalChecksum;
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
    "Cache-Control": pinnedVersion ? "private, max-age=31536000, immutable" : "private, no-cache",
    "X-Artifact-Version": String(metadata.version),
    "X-Artifact-Uri": metadata.uri,
  };
  if (gzip) headers["Content-Encoding"] = "gzip";
  if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${metadata.originalSize}`;
  const length = range ? range.end - range.start + 1 : gzip ? metadata.size : metadata.originalSize;
  return {
    gzip,
    range: range ? { offset: range.start, length: range.end - range.start + 1 } : undefined,
    status: range ? 206 : 200,
    headers,
    length,
  };
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

/** Fails the body stream once it passes `limit` bytes, so the store publishes nothing. */
function limitBody(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let received = 0;
  return new TransformStream({
    transform(chunk, controller) {
      received += chunk.length;
      if (received > limit) throw bodyTooLarge(limit);
      controller.enqueue(chunk);
    },
  });
}

function bodyTooLarge(limit: number): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_TOO_LARGE",
    `request body is larger than the limit of ${limit} bytes; nothing was stored`,
    {
      details: { limit },
    },
  );
}

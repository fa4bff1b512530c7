/**
 * A small client for the store's HTTP API over `fetch`, for agents, CI steps and the CLI.
 * Pure: runs wherever `fetch` does. Errors become {@link ArtifactStoreError} with the server's code.
 */

import { ArtifactStoreError, ERROR_CODES, type ErrorCode } from "../contracts/errors.ts";
import { searchParametersOf } from "../contracts/http-parameters.ts";
import type { ArtifactContent, ArtifactMetadata, ArtifactRef } from "../contracts/types.ts";
import type { CleanupReport, StoreStats } from "../core/maintenance.ts";
import type { ReindexReport } from "../core/reindex.ts";
import type { GcReport } from "../core/repair.ts";
import type { SearchFilters, SearchPage } from "../core/search.ts";
import type { UploadResult } from "../core/upload.ts";
import type { VerifyReport } from "../core/verify.ts";

export interface HttpClientOptions {
  /** Server root, e.g. `http://127.0.0.1:8787`. */
  url: string;
  token?: string;
  fetch?: typeof fetch;
}

export interface RemoteDownload {
  metadata: { version: number; etag: string | null; reprDigest: string | null; contentType: string | null };
  length: number | null;
  body: ReadableStream<Uint8Array>;
}

export interface ArtifactStoreClient {
  upload(
    ref: Omit<ArtifactRef, "version">,
    content: ArtifactContent,
    options?: {
      tags?: string[];
      metadata?: Record<string, unknown>;
      contentDigest?: string;
      contentEncoding?: "gzip";
      contentType?: string;
    },
  ): Promise<UploadResult>;
  open(ref: ArtifactRef, options?: { range?: string; acceptGzip?: boolean }): Promise<RemoteDownload>;
  stat(ref: ArtifactRef): Promise<{ version: number; size: number; etag: string | null } | null>;
  search(filters?: SearchFilters): Promise<SearchPage>;
  delete(ref: ArtifactRef): Promise<number>;
  update(
    ref: ArtifactRef,
    change: { pinned?: boolean; tags?: string[]; addTags?: string[]; removeTags?: string[] },
  ): Promise<ArtifactMetadata>;
  cleanup(options?: { dryRun?: boolean; limit?: number }): Promise<CleanupReport>;
  stats(): Promise<StoreStats>;
  gc(options?: { dryRun?: boolean; graceSeconds?: number }): Promise<GcReport>;
  verify(options?: { deep?: boolean }): Promise<VerifyReport>;
  reindex(options?: { dryRun?: boolean }): Promise<ReindexReport>;
}

/**
 * @example
 * const client = createHttpClient({ url: "http://127.0.0.1:8787", token: process.env.ARTIFACT_STORE_TOKEN });
 * const result = await client.upload({ specName: "chat-app", taskId: "1.1", type: "log" }, "build ok\n");
 */
export function createHttpClient(options: HttpClientOptions): ArtifactStoreClient {
  const root = options.url.replace(/\/+$/, "");
  const call = createCaller(root, options);
  const artifactPath = (ref: ArtifactRef) => artifactUrl(root, ref);

  return {
    async upload(ref, content, uploadOptions = {}) {
      const response = await call(artifactPath(ref), uploadRequest(content, uploadOptions));
      return (await response.json()) as UploadResult;
    },

    async open(ref, openOptions = {}) {
      const headers: Record<string, string> = { "Accept-Encoding": openOptions.acceptGzip ? "gzip" : "identity" };
      if (openOptions.range) headers.Range = openOptions.range;
      return remoteDownload(await call(artifactPath(ref), { headers }));
    },

    async stat(ref) {
      try {
        const response = await call(artifactPath(ref), { method: "HEAD", headers: { "Accept-Encoding": "identity" } });
        return {
          version: Number(response.headers.get("x-artifact-version")),
          size: Number(response.headers.get("content-length")),
          etag: response.headers.get("etag"),
        };
      } catch (error) {
        if (error instanceof ArtifactStoreError && error.code === "E_NOT_FOUND") return null;
        throw error;
      }
    },

    async search(filters = {}) {
      const parameters = searchParametersOf(filters);
      const response = await call(`${root}/v1/artifacts${parameters.size > 0 ? `?${parameters}` : ""}`);
      return (await response.json()) as SearchPage;
    },

    async delete(ref) {
      try {
        const response = await call(artifactPath(ref), { method: "DELETE" });
        return ((await response.json()) as { deleted: number }).deleted;
      } catch (error) {
        if (error instanceof ArtifactStoreError && error.code === "E_NOT_FOUND") return 0;
        throw error;
      }
    },

    async update(ref, change) {
      const response = await call(artifactPath(ref), {
        method: "PATCH",
        body: JSON.stringify(change),
        headers: { "Content-Type": "application/json" },
      });
      return (await response.json()) as ArtifactMetadata;
    },

    async cleanup(cleanupOptions = {}) {
      const parameters = new URLSearchParams();
      if (cleanupOptions.dryRun) parameters.set("dry_run", "1");
      if (cleanupOptions.limit !== undefined) parameters.set("limit", String(cleanupOptions.limit));
      const response = await call(`${root}/v1/maintenance/cleanup${parameters.size > 0 ? `?${parameters}` : ""}`, {
        method: "POST",
      });
      return (await response.json()) as CleanupReport;
    },

    async stats() {
      return (await (await call(`${root}/v1/stats`)).json()) as StoreStats;
    },

    async gc(gcOptions = {}) {
      const parameters = new URLSearchParams();
      if (gcOptions.dryRun) parameters.set("dry_run", "1");
      if (gcOptions.graceSeconds !== undefined) parameters.set("grace", String(gcOptions.graceSeconds));
      return (await (await call(`${root}/v1/maintenance/gc?${parameters}`, { method: "POST" })).json()) as GcReport;
    },

    async verify(verifyOptions = {}) {
      return (await (
        await call(`${root}/v1/maintenance/verify${verifyOptions.deep ? "?deep=1" : ""}`, { method: "POST" })
      ).json()) as VerifyReport;
    },

    async reindex(reindexOptions = {}) {
      const url = `${root}/v1/maintenance/reindex${reindexOptions.dryRun ? "?dry_run=1" : ""}`;
      return (await (await call(url, { method: "POST" })).json()) as ReindexReport;
    },
  };
}

type Call = (url: string, init?: RequestInit) => Promise<Response>;

/** `fetch` with the token, where an unreachable server and an error answer both throw {@link ArtifactStoreError}. */
function createCaller(root: string, options: HttpClientOptions): Call {
  const doFetch = options.fetch ?? fetch;
  const authHeaders: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  return async (url, init = {}) => {
    let response: Response;
    try {
      response = await doFetch(url, {
        ...init,
        headers: { ...authHeaders, ...(init.headers as Record<string, string>) },
      });
    } catch (error) {
      throw new ArtifactStoreError("E_BACKEND_UNAVAILABLE", `cannot reach ${root}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!response.ok && response.status !== 304) throw await toError(response);
    return response;
  };
}

function artifactUrl(root: string, ref: ArtifactRef): string {
  return `${root}/v1/artifacts/${encodeURIComponent(ref.specName)}/${encodeURIComponent(ref.taskId)}/${encodeURIComponent(ref.type)}${
    ref.version === undefined ? "" : `?version=${ref.version}`
  }`;
}

/** The PUT of an upload: its options as the API's headers, a stream sent as it is read. */
function uploadRequest(
  content: ArtifactContent,
  uploadOptions: NonNullable<Parameters<ArtifactStoreClient["upload"]>[2]>,
): RequestInit {
  const headers: Record<string, string> = {};
  if (uploadOptions.tags?.length) headers["X-Artifact-Tags"] = uploadOptions.tags.join(",");
  if (uploadOptions.metadata) headers["X-Artifact-Metadata"] = JSON.stringify(uploadOptions.metadata);
  if (uploadOptions.contentDigest) headers["Content-Digest"] = uploadOptions.contentDigest;
  if (uploadOptions.contentEncoding) headers["Content-Encoding"] = uploadOptions.contentEncoding;
  if (uploadOptions.contentType) headers["Content-Type"] = uploadOptions.contentType;
  const body = content instanceof ArrayBuffer ? new Uint8Array(content) : content;
  return {
    method: "PUT",
    headers,
    body: body as BodyInit,
    // Streamed request bodies need half-duplex in Node's fetch; others ignore it.
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit;
}

function remoteDownload(response: Response): RemoteDownload {
  const length = response.headers.get("content-length");
  return {
    metadata: {
      version: Number(response.headers.get("x-artifact-version")),
      etag: response.headers.get("etag"),
      reprDigest: response.headers.get("repr-digest"),
      contentType: response.headers.get("content-type"),
    },
    length: length === null ? null : Number(length),
    body: response.body ?? new Blob([]).stream(),
  };
}

async function toError(response: Response): Promise<ArtifactStoreError> {
  let code: ErrorCode =
    response.status === 404 ? "E_NOT_FOUND" : response.status >= 500 ? "E_BACKEND" : "E_INVALID_INPUT";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code && (ERROR_CODES as readonly string[]).includes(body.error.code))
      code = body.error.code as ErrorCode;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not a JSON error body (a proxy in between, a HEAD response): keep the status line
  }
  if (response.status === 401) code = "E_UNAUTHORIZED";
  if (response.status === 403) code = "E_FORBIDDEN";
  return new ArtifactStoreError(code, message, { details: { status: response.status } });
}

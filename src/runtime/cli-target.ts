/**
 * Where CLI commands act: the local store (opened from config) or a running server (`--server`).
 * Both offer the same operations, so every command works either way.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { createHttpClient } from "../client/http-client.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRef, ArtifactTarget, ArtifactTypeDefinition } from "../contracts/types.ts";
import type { ConvertReport } from "../core/convert.ts";
import type { CleanupReport, StoreStats } from "../core/maintenance.ts";
import type { ReindexReport } from "../core/reindex.ts";
import type { GcReport } from "../core/repair.ts";
import type { SearchFilters, SearchPage } from "../core/search.ts";
import type { UploadResult } from "../core/upload.ts";
import type { VerifyReport } from "../core/verify.ts";
import { type LocalArtifactStore, openArtifactStore } from "./local.ts";

export interface UploadRequest {
  ref: Omit<ArtifactRef, "version">;
  /** A file path, or `-` for standard input. */
  source: string;
  tags: string[];
  metadata: Record<string, unknown>;
  expectedChecksum?: string;
  onProgress?: (bytes: number) => void;
}

export interface DownloadStream {
  body: ReadableStream<Uint8Array>;
  length: number | null;
  version: number;
  /** SHA-256 hex the bytes must have (verified by the CLI as they arrive). */
  checksum: string | null;
}

export interface CliTarget {
  readonly description: string;
  upload(request: UploadRequest): Promise<UploadResult>;
  open(target: ArtifactTarget): Promise<DownloadStream>;
  search(filters: SearchFilters): Promise<SearchPage>;
  delete(target: ArtifactTarget): Promise<number>;
  cleanup(options: { dryRun: boolean; limit?: number; onProgress?: (deleted: number) => void }): Promise<CleanupReport>;
  /** Without `counters` for the local store: they count a running process's operations, and the CLI's own just started. */
  stats(): Promise<Omit<StoreStats, "counters"> & Partial<Pick<StoreStats, "counters">>>;
  gc(options: { dryRun: boolean; graceSeconds?: number; onProgress?: (scanned: number) => void }): Promise<GcReport>;
  verify(options: { deep: boolean; onProgress?: (checked: number, total: number) => void }): Promise<VerifyReport>;
  reindex(options: { dryRun: boolean; onProgress?: (scanned: number) => void }): Promise<ReindexReport>;
  /** Local stores only: converts the first layout to the seed's tree. */
  convertLegacyLayout?(options: { dryRun: boolean; onProgress?: (versions: number) => void }): Promise<ConvertReport>;
  close(): Promise<void>;
}

/** Size of a source file, or undefined for standard input. */
export async function sourceSize(source: string): Promise<number | undefined> {
  return source === "-" ? undefined : (await stat(source)).size;
}

function readSource(source: string): ReadableStream<Uint8Array> {
  const stream = source === "-" ? process.stdin : createReadStream(source, { highWaterMark: 1024 * 1024 });
  return Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
}

function counting(onProgress: ((bytes: number) => void) | undefined): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  return new TransformStream({
    transform(chunk, controller) {
      total += chunk.length;
      onProgress?.(total);
      controller.enqueue(chunk);
    },
  });
}

export async function openLocalTarget(configPath: string | undefined): Promise<CliTarget> {
  const store: LocalArtifactStore = await openArtifactStore(configPath ? { path: configPath } : {});
  return {
    description: `local store ${store.config.basePath}`,
    upload: (request) =>
      store.upload({
        ...request.ref,
        content: readSource(request.source),
        tags: request.tags,
        metadata: request.metadata,
        ...(request.expectedChecksum ? { expectedChecksum: request.expectedChecksum } : {}),
        ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      }),
    async open(target) {
      const opened = await store.open(target);
      return {
        body: opened.body,
        length: opened.length,
        version: opened.metadata.version,
        checksum: opened.checksum ?? null,
      };
    },
    search: (filters) => store.searchPage(filters),
    delete: (target) => store.delete(target),
    cleanup: (options) =>
      store.cleanup({
        dryRun: options.dryRun,
        ...(options.limit === undefined ? {} : { limit: options.limit }),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      }),
    async stats() {
      const { counters: _sinceThisProcessStarted, ...stats } = await store.stats();
      return stats;
    },
    gc: (options) =>
      store.gc({
        dryRun: options.dryRun,
        ...(options.graceSeconds === undefined ? {} : { graceMs: options.graceSeconds * 1000 }),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      }),
    verify: (options) =>
      store.verify({
        deep: options.deep,
        onProgress: (progress) => options.onProgress?.(progress.checked, progress.total),
      }),
    reindex: (options) =>
      store.reindex({ dryRun: options.dryRun, ...(options.onProgress ? { onProgress: options.onProgress } : {}) }),
    convertLegacyLayout: (options) =>
      store.convertLegacyLayout({
        dryRun: options.dryRun,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      }),
    close: () => store.close(),
  };
}

export function openRemoteTarget(
  url: string,
  token: string | undefined,
  types: readonly ArtifactTypeDefinition[],
): CliTarget {
  const client = createHttpClient({ url, ...(token ? { token } : {}) });
  const toRef = (target: ArtifactTarget): ArtifactRef =>
    typeof target === "string" ? refFromUri(target, types) : target;
  return {
    description: `server ${url}`,
    upload: (request) =>
      client.upload(request.ref, readSource(request.source).pipeThrough(counting(request.onProgress)), {
        tags: request.tags,
        metadata: request.metadata,
        ...(request.expectedChecksum
          ? { contentDigest: `sha-256=:${Buffer.from(request.expectedChecksum, "hex").toString("base64")}:` }
          : {}),
      }),
    async open(target) {
      const opened = await client.open(toRef(target));
      return {
        body: opened.body,
        length: opened.length,
        version: opened.metadata.version,
        checksum: opened.metadata.etag?.replaceAll('"', "") ?? null,
      };
    },
    search: (filters) => client.search(filters),
    delete: (target) => client.delete(toRef(target)),
    cleanup: (options) =>
      client.cleanup({ dryRun: options.dryRun, ...(options.limit === undefined ? {} : { limit: options.limit }) }),
    stats: () => client.stats(),
    gc: (options) =>
      client.gc({
        dryRun: options.dryRun,
        ...(options.graceSeconds === undefined ? {} : { graceSeconds: options.graceSeconds }),
      }),
    verify: (options) => client.verify({ deep: options.deep }),
    reindex: (options) => client.reindex({ dryRun: options.dryRun }),
    close: async () => {},
  };
}

/**
 * The ref an artifact URI names, from its tail (URIs of any backend share it):
 * `…/<spec>/<task>/<file>[.gz]` (the current version), with `?version=N` (that version), or
 * `…/<spec>/<task>/versions/v<N>/<file>[.gz]`.
 */
export function refFromUri(uri: string, types: readonly ArtifactTypeDefinition[]): ArtifactRef {
  const [path = "", query] = uri.split("?", 2) as [string, string | undefined];
  const segments = path.split("/");
  const fileName = segments.at(-1);
  const type = types.find((candidate) => fileName === candidate.fileName || fileName === `${candidate.fileName}.gz`);
  const kept = segments.at(-3) === "versions" ? /^v(\d{1,15})$/.exec(segments.at(-2) ?? "") : null;
  const [specName, taskId] = kept ? segments.slice(-5, -3) : segments.slice(-3, -1);
  const asked = query === undefined ? undefined : /^version=(\d{1,15})$/.exec(query);
  if (!specName || !taskId || !type || asked === null) {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `${uri} is not an artifact URI (…/<spec>/<task>/<file>[?version=N] or …/<spec>/<task>/versions/v<N>/<file>)`,
    );
  }
  const version = kept ? Number(kept[1]) : asked ? Number(asked[1]) : undefined;
  return { specName, taskId, type: type.name, ...(version === undefined ? {} : { version }) };
}

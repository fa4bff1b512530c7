/**
 * Stage 1 of the upload pipeline, the plan: every check that needs no I/O (names, type,
 * digests, encodings, the size limit when the length is known), whether the content is
 * encoded in memory or streamed, and the stored-size bound to reserve with the pending row.
 * Bad input is refused here, before anything is touched.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactContent, ArtifactMetadata, ArtifactTypeDefinition } from "../contracts/types.ts";
import { knownLength } from "./content.ts";
import type { StoreContext } from "./context.ts";
import { formatBytes } from "./format.ts";
import { assertValidName, normalizeTags, normalizeUserMetadata } from "./names.ts";
import type { RedactionMode, SecretScanner } from "./redaction/scanner.ts";
import { createStructureExtractor } from "./structure/extract.ts";
import type { StructureExtractor } from "./structure/types.ts";

/** The object form of `upload`. */
export interface UploadInput {
  specName: string;
  taskId: string;
  /** `diff`, `log`, `test`, or a type declared in config. */
  type: string;
  content: ArtifactContent;
  tags?: string[];
  /** Free-form JSON object kept with the version. */
  metadata?: Record<string, unknown>;
  /** SHA-256 (hex) the content must have; when it differs nothing is stored (`E_CHECKSUM_MISMATCH`). */
  expectedChecksum?: string;
  /**
   * SHA-256 (hex) of the bytes exactly as given, for `contentEncoding: "gzip"` (an HTTP
   * `Content-Digest` covers the encoded body); nothing is stored if it differs.
   */
  expectedEncodedChecksum?: string;
  /** `"gzip"` when `content` is already gzip (HTTP `Content-Encoding: gzip`): validated, stored as sent. */
  contentEncoding?: "identity" | "gzip";
  /** Overrides the type's MIME type. */
  mimeType?: string;
  /** Aborting stops the upload; nothing is stored. */
  signal?: AbortSignal;
  /** Called as content bytes are read (for progress bars). */
  onProgress?: (bytesRead: number) => void;
  /**
   * Length of `content` as given (e.g. HTTP Content-Length), when it is a stream: reserves quota
   * up front, and a body that ends longer or shorter is refused.
   */
  contentLength?: number;
}

/** The committed version's metadata, plus warnings (e.g. the quota is nearly used up). */
export interface UploadResult extends ArtifactMetadata {
  warnings: string[];
}

/** Content in memory up to this size is encoded in one synchronous step (see `encodeInMemory`). */
export const IN_MEMORY_LIMIT = 1024 * 1024;

/** What the later stages act on: the checked input and the decisions taken from it. */
export interface UploadPlan {
  specName: string;
  taskId: string;
  type: ArtifactTypeDefinition;
  tags: string[];
  metadata: Record<string, unknown>;
  mimeType: string;
  expectedChecksum: string | undefined;
  expectedEncodedChecksum: string | undefined;
  /** Reads the structure of the content as it streams (diff, log, test), when extraction is on. */
  extractor: StructureExtractor | undefined;
  /** Secret scanning of the content (its type's redaction mode and a fresh scanner), unless the mode is `off`. */
  redaction: UploadRedaction | undefined;
  /** Small content already in memory (not gzip): encoded at once, its exact stored size reserved. Else streamed. */
  inMemory: Uint8Array | undefined;
  /** Stored bytes the streamed content can reach at most (0: unknown until the end): reserved with the row. */
  reserveBound: number;
}

/** Stage 1: checks `input` and decides how the upload runs. Throws before any I/O. */
export function planUpload(ctx: StoreContext, input: UploadInput): UploadPlan {
  const checked = checkInput(ctx, input);
  const inMemory = contentInMemory(ctx, input);
  return { ...checked, inMemory, reserveBound: inMemory ? 0 : storedBytesBound(ctx, input) };
}

/** Every check that needs no I/O, so bad input is refused before anything is touched. */
function checkInput(ctx: StoreContext, input: UploadInput): Omit<UploadPlan, "inMemory" | "reserveBound"> {
  if (typeof input !== "object" || input === null) {
    throw new ArtifactStoreError("E_INVALID_INPUT", "upload needs { specName, taskId, type, content }");
  }
  const specName = assertValidName("specName", input.specName);
  const taskId = assertValidName("taskId", input.taskId);
  const type = ctx.types.get(input.type);
  if (!type) {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `unknown artifact type ${JSON.stringify(input.type)}; known types: ${[...ctx.types.keys()].join(", ")}`,
      { details: { field: "type" } },
    );
  }
  let expectedChecksum = checkHexDigest(input.expectedChecksum, "expectedChecksum");
  let expectedEncodedChecksum = checkHexDigest(input.expectedEncodedChecksum, "expectedEncodedChecksum");
  if (input.contentEncoding !== "gzip" && expectedEncodedChecksum !== undefined) {
    // Without a content coding the bytes given are the content.
    if (expectedChecksum !== undefined && expectedChecksum !== expectedEncodedChecksum) {
      throw new ArtifactStoreError(
        "E_CHECKSUM_MISMATCH",
        "the two expected checksums given disagree; nothing was stored",
      );
    }
    expectedChecksum = expectedEncodedChecksum;
    expectedEncodedChecksum = undefined;
  }
  if (input.contentEncoding !== undefined && input.contentEncoding !== "identity" && input.contentEncoding !== "gzip") {
    throw new ArtifactStoreError("E_INVALID_INPUT", 'contentEncoding must be "identity" or "gzip"');
  }
  const length = knownLength(input.content);
  const limit = ctx.settings.maxArtifactBytes;
  if (limit !== null && length !== undefined && input.contentEncoding !== "gzip" && length > limit) {
    throw tooLargeError(limit);
  }
  return {
    specName,
    taskId,
    type,
    tags: normalizeTags(input.tags),
    metadata: normalizeUserMetadata(input.metadata),
    mimeType: typeof input.mimeType === "string" && input.mimeType ? input.mimeType : type.mimeType,
    expectedChecksum,
    expectedEncodedChecksum,
    extractor: createStructureExtractor(type.name, ctx.extraction),
    redaction: redactionFor(ctx, type.name),
  };
}

/** What the encode stage does about secrets in one upload. */
export interface UploadRedaction {
  mode: Exclude<RedactionMode, "off">;
  scanner: SecretScanner;
}

export function redactionFor(ctx: StoreContext, typeName: string): UploadRedaction | undefined {
  const mode = ctx.redaction.modeFor(typeName);
  const scanner = ctx.redaction.scannerFor(typeName);
  return mode === "off" || !scanner ? undefined : { mode, scanner };
}

function checkHexDigest(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be a SHA-256 in hex (64 digits)`, {
      details: { field },
    });
  }
  return value.toLowerCase();
}

/**
 * Stored bytes an upload can reach at most, when its length is known: zlib's deflateBound plus
 * the gzip wrapper for content to compress, the length itself for content stored as given.
 */
function storedBytesBound(ctx: StoreContext, input: UploadInput): number {
  const length = input.contentLength ?? knownLength(input.content);
  if (length === undefined) return 0;
  const gzipInput = input.contentEncoding === "gzip";
  if (ctx.settings.compressionEnabled === gzipInput) return length;
  if (gzipInput) return 0; // decoded size unknown until the end
  return length + (length >> 12) + (length >> 14) + (length >> 25) + 64;
}

/**
 * The content as bytes when it is small and in memory already (a string or bytes up to
 * {@link IN_MEMORY_LIMIT}, not gzip-encoded, and the engines can gzip synchronously). A
 * declared length that disagrees is refused here.
 */
function contentInMemory(ctx: StoreContext, input: UploadInput): Uint8Array | undefined {
  const { settings, codecs } = ctx;
  if (input.contentEncoding === "gzip" || (settings.compressionEnabled && !codecs.gzipSync)) return undefined;
  const { content } = input;
  let bytes: Uint8Array;
  if (typeof content === "string") {
    if (content.length > IN_MEMORY_LIMIT) return undefined;
    bytes = new TextEncoder().encode(content);
  } else if (content instanceof Uint8Array) bytes = content;
  else if (content instanceof ArrayBuffer) bytes = new Uint8Array(content);
  else return undefined;
  if (bytes.length > IN_MEMORY_LIMIT) return undefined;
  if (input.contentLength !== undefined && input.contentLength !== bytes.length) {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `the body has ${bytes.length} bytes, its declared length is ${input.contentLength}; nothing was stored`,
    );
  }
  return bytes;
}

/** E_TOO_LARGE naming the limit: the one "too large" error of the store and the HTTP API. */
export function tooLargeError(limit: number, what = "artifact"): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_TOO_LARGE",
    `${what} is larger than the limit of ${formatBytes(limit)}; nothing was stored`,
    { details: { limit } },
  );
}

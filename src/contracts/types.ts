/**
 * Public data types of the artifact store. JSON-friendly: dates are ISO-8601 strings,
 * checksums lowercase hex SHA-256.
 */
import type { ArtifactSummary } from "./structure.ts";

/** Built-in artifact types. Config may declare more (see {@link ArtifactTypeDefinition}). */
export type BuiltInArtifactType = "diff" | "log" | "test";

/** How an artifact type is stored: file name under its version folder, MIME type, retention. */
export interface ArtifactTypeDefinition {
  /** Type name used in the API, e.g. `"diff"`. */
  name: string;
  /** File name inside `<spec>/<task>/`, e.g. `"diff.txt"` (`.gz` is appended when compressed). */
  fileName: string;
  /** MIME type served on download, e.g. `"text/x-diff"`. */
  mimeType: string;
  /** Days a version is kept after its upload; `null` keeps it until deleted. */
  retentionDays: number | null;
}

/** Lifecycle of one artifact version's metadata row. */
export type ArtifactState = "pending" | "publishing" | "committed" | "deleting";

/** Result of the latest verification of the stored bytes. */
export type ArtifactIntegrity = "ok" | "corrupt";

/** Metadata of one artifact version: the seed's fields plus those DESIGN.md adds. */
export interface ArtifactMetadata {
  /** Names backend and key: `file:///…`, `memory://…`, `s3://bucket/key`, `gs://bucket/key`. */
  uri: string;
  taskId: string;
  specName: string;
  type: string;
  version: number;
  /** Bytes stored (compressed when `compressed`). */
  size: number;
  /** SHA-256 of the stored bytes. */
  checksum: string;
  /** Bytes of the content as uploaded (before compression). */
  originalSize: number;
  /** SHA-256 of the content as uploaded: what `sha256sum` of the original file prints. */
  originalChecksum: string;
  compressed: boolean;
  mimeType: string;
  tags: string[];
  /** Free-form JSON object given at upload. */
  metadata: Record<string, unknown>;
  createdAt: string;
  /** `null` when the type has no retention or the version is pinned. */
  expiresAt: string | null;
  lastAccessedAt: string | null;
  pinned: boolean;
  /**
   * Structure extracted from the content at upload (diff, log and test types): files and line
   * counts, error counts, test totals. Null for other types and versions stored without it.
   */
  summary?: ArtifactSummary | null;
  /** Secrets found in the content at upload (see the README's redaction section); null when none. */
  secrets?: ArtifactSecrets | null;
  state: ArtifactState;
  integrity: ArtifactIntegrity;
}

/** One rule's findings in one version: never the secret, nor a hash of it. */
export interface SecretFinding {
  /** The rule's name (`github-token`, `private-key`, `env:NPM_TOKEN`, …), as in the `[REDACTED:<rule>]` marker. */
  rule: string;
  count: number;
  /** 1-based lines where matches start in the content as sent (at most the first 100). */
  lines: number[];
}

/** The secrets found in a version's content at upload. */
export interface ArtifactSecrets {
  /** `mask`: each was replaced by its marker before storing; `flag`: the content is stored as sent. */
  mode: "mask" | "flag";
  findings: SecretFinding[];
}

/** Names one artifact; without `version` it means the latest committed version. */
export interface ArtifactRef {
  specName: string;
  taskId: string;
  type: string;
  version?: number;
}

/** A user-facing reference: the URI returned by upload, or (spec, task, type, version?). */
export type ArtifactTarget = string | ArtifactRef;

/** What an upload accepts as content. */
export type ArtifactContent = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

/** Search filters that reach the metadata query as they are (shared by {@link SearchFilters} and the repository's query). */
export interface SearchCriteria {
  specName?: string;
  taskId?: string;
  type?: string;
  /** Only the newest version of each (spec, task, type). */
  latestOnly?: boolean;
  integrity?: ArtifactIntegrity;
  pinned?: boolean;
  /** Test reports in which a test of exactly this name failed (the test's own name, not its suite). */
  failedTest?: string;
  /** Diffs touching a path that starts with this (`src/` for a directory, `src/app.ts` for a file and any `src/app.ts…`). */
  touchedPath?: string;
  /** true: logs with at least one error line; false: versions without. */
  hasErrors?: boolean;
  /** true: test reports with at least one failed test; false: versions without. */
  hasFailures?: boolean;
  /** true: versions whose content could not be read as its type (malformed report, not a diff). */
  parseError?: boolean;
  /** true: versions in which redaction found secrets (masked or flagged); false: versions without. */
  hasSecrets?: boolean;
  /** Versions with a finding of this rule (`github-token`, `env:NPM_TOKEN`, …). */
  secretRule?: string;
}

/** What `search` accepts: {@link SearchCriteria} plus tags, a time window and paging. */
export interface SearchFilters extends SearchCriteria {
  /** Versions carrying every one of these tags. */
  tags?: string[];
  /** Versions carrying at least one of these tags. */
  anyTags?: string[];
  /** Created at or after (Date, ISO string or ms). */
  since?: Date | string | number;
  /** Created before (Date, ISO string or ms). */
  until?: Date | string | number;
  /** Page size, 1–1000 (default 100). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** The seed's snake_case spellings are accepted too (any other key is refused). */
  spec_name?: string;
  task_id?: string;
  any_tags?: string[];
  /** Same as `since`. */
  created_after?: Date | string | number;
  /** Same as `until`. */
  created_before?: Date | string | number;
  latest_only?: boolean;
  failed_test?: string;
  touched_path?: string;
  has_errors?: boolean;
  has_failures?: boolean;
  parse_error?: boolean;
  has_secrets?: boolean;
  secret_rule?: string;
}

export interface SearchPage {
  /** Newest first. */
  items: ArtifactMetadata[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * Who holds a task's lease (see `MetadataRepository.takeTaskLease`). The default names nothing
 * but a random id, so a dead holder's lease is waited out (2 s); the local runtimes' identity
 * (`createProcessIdentity` in `runtime/process-identity.ts`) names host, boot, pid namespace,
 * pid and the process's start time, so a process on the same host takes over at once the lease
 * of one that has ended (a SIGKILLed predecessor).
 */
export interface ProcessIdentity {
  /** A new owner id for one store of this process. */
  ownerId(): string;
  /** True only when `owner` surely names a process of this host that has ended; false when unsure (another host). */
  ended(owner: string): boolean;
}

/** Structured log sink. Fields never carry tokens or content. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

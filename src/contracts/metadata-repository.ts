/**
 * What the store needs from its metadata database. One implementation today
 * (`createLibsqlMetadata`, drizzle over @libsql/client: local files, sqld, Turso).
 */
import type { DiffFileEntry, ExtractedStructure, TestCaseEntry, TestCaseOrder, TestStatus } from "./structure.ts";
import type {
  ArtifactIntegrity,
  ArtifactMetadata,
  ArtifactRef,
  ArtifactSecrets,
  SearchCriteria,
  SearchFilters,
} from "./types.ts";

/** A metadata row as the core sees it: the public metadata plus where the bytes live. */
export interface ArtifactRecord extends ArtifactMetadata {
  id: number;
  storageKey: string;
}

/** A record as a download reads it: every column of its row, without tags, summary or secrets. */
export type ArtifactRow = Omit<ArtifactRecord, "tags" | "summary" | "secrets">;

export interface ReserveVersionInput {
  specName: string;
  taskId: string;
  type: string;
  compressed: boolean;
  mimeType: string;
  metadata: Record<string, unknown>;
  createdAt: number;
  /** Days until expiry, or `null` to keep until deleted. */
  retentionDays: number | null;
  /** Where the version's upload goes: key = `keyPrefix + version + keySuffix`; the legacy `uri` column gets `uriPrefix + key`. */
  location: { keyPrefix: string; keySuffix: string; uriPrefix: string };
  /**
   * Stored bytes to reserve against the quota right away (an upper bound of the final size),
   * when they fit under `maxBytes`. The returned row's `size` says what was reserved: these
   * bytes, or 0 when they did not fit (or were 0); the final size is then reserved at the end
   * with `reserveStoredBytes` (the quota module's `settle`, `src/core/quota.ts`).
   */
  reserveBytes: number;
  maxBytes: number | null;
}

/** The final figures of an uploaded version, recorded when it starts publishing. */
export interface PublishValues {
  size: number;
  checksum: string;
  originalSize: number;
  originalChecksum: string;
  tags: string[];
}

export interface FinishPublishInput {
  /** Where the version's bytes now are (the seed path, or its kept-version key). */
  storageKey: string;
  /**
   * The row that held `storageKey` before: kept at `keptAt` (versioning on), or removed with its
   * bytes replaced (`keptAt` null). Changed only while it still names `storageKey`.
   */
  previous: { id: number; keptAt: string | null } | null;
  /** The replaced version was pinned: the pin carries over. */
  inheritPin: boolean;
  /** Mark every older committed version of the series `deleting` (versioning off). */
  supersedeOlder: boolean;
  structure?: ExtractedStructure;
  /** Secrets found at upload, stored in the same transaction. */
  secrets?: ArtifactSecrets | null;
  /** The task's lease held by this owner goes back in the same transaction (see `takeTaskLease`). */
  releaseLease?: string;
}

/** A small first version committed with its bytes: see {@link MetadataRepository.commitInline}. */
export interface CommitInlineInput extends Omit<ReserveVersionInput, "location" | "reserveBytes"> {
  /** Where the bytes go once materialised: the series' seed path. */
  storageKey: string;
  values: PublishValues;
  /** The stored bytes (gzip when `compressed`). */
  bytes: Uint8Array;
  structure?: ExtractedStructure;
  secrets?: ArtifactSecrets | null;
}

/**
 * The current retention policy for one type: its versions expire `retentionDays` after upload.
 * Types without a rule (`null` in config, or no longer configured) are kept forever.
 */
export interface RetentionRule {
  type: string;
  retentionDays: number;
}

/** One series in `metadata-index.json`. */
export interface IndexTaskSummary {
  specName: string;
  taskId: string;
  type: string;
  latestVersion: number;
  versions: number;
  storedBytes: number;
  lastUploadAt: number;
}

/** {@link SearchFilters} checked and compiled: times in ms, the page size and the keyset cursor decoded. */
export interface SearchQuery extends SearchCriteria {
  allTags?: string[];
  anyTags?: string[];
  /** Inclusive lower bound of `createdAt`, ms. */
  since?: number;
  /** Exclusive upper bound of `createdAt`, ms. */
  until?: number;
  limit: number;
  /** Continue after this (createdAt, id). */
  after?: { createdAt: number; id: number };
}

export interface UsageByGroup {
  key: string;
  count: number;
  storedBytes: number;
  originalBytes: number;
}

export interface UsageSummary {
  /** Sum of `size` over every row (pending, committed, deleting): what the quota counts. */
  reservedBytes: number;
  committedCount: number;
  committedBytes: number;
  originalBytes: number;
  pendingCount: number;
  corruptCount: number;
  pinnedCount: number;
  byType: UsageByGroup[];
  bySpec: UsageByGroup[];
}

export interface MetadataRepository extends StructureQueries, LiveLogQueries {
  /**
   * Hands out the next version number of the series and inserts its `pending` row; may answer
   * before the row is durable (a power failure may hand the number out again).
   */
  reserveVersion(input: ReserveVersionInput): Promise<ArtifactRecord>;
  /**
   * Sets the pending row's size to the final stored size if the quota allows it
   * (`maxBytes` null: no quota). Returns false, changing nothing, when it would overshoot.
   */
  reserveStoredBytes(id: number, size: number, maxBytes: number | null): Promise<boolean>;
  /** Removes a pending row (and its tags); false when it was no longer pending (it committed meanwhile, or is gone). */
  abandon(id: number): Promise<boolean>;
  /**
   * Pending → publishing with the final figures and tags: `"busy"` while another version of the
   * series is publishing (the caller waits), `"gone"` when the row is no longer pending.
   */
  beginPublish(pending: ArtifactRecord, values: PublishValues): Promise<"ok" | "busy" | "gone">;
  /** Publishing → committed at its final key; null when the row is no longer publishing. */
  finishPublish(
    publishing: ArtifactRecord,
    input: FinishPublishInput,
  ): Promise<{ record: ArtifactRecord; superseded: ArtifactRecord[] } | null>;
  /**
   * A reader's check after opening `record.storageKey`: the row is still committed at that key
   * and no version of its series is publishing, so the opened bytes are that version's.
   */
  confirmRead(record: ArtifactRow): Promise<boolean>;
  /** Moves a row to another key, only while it still names `from`; false otherwise. */
  rekey(id: number, from: string, to: string): Promise<boolean>;
  /**
   * A task's turn across every process sharing the database (publish, delete and `metadata.json`
   * rewrite of the task): takes the lease of (spec, task) for `owner` until `ttlMs` from now by
   * the database's clock, when it is free, expired (its holder died) or already `owner`'s (then
   * it is extended), or held by `endedOwner` (a holder known to have ended). False while another
   * owner holds it.
   */
  takeTaskLease(specName: string, taskId: string, owner: string, ttlMs: number, endedOwner?: string): Promise<boolean>;
  /** The owner of the task's lease (expired or not), or null when nobody holds it. */
  taskLeaseHolder(specName: string, taskId: string): Promise<string | null>;
  /** Gives the lease back, if `owner` still holds it. */
  releaseTaskLease(specName: string, taskId: string, owner: string): Promise<void>;
  /** Committed versions of one task (for its `metadata.json`). */
  listTask(specName: string, taskId: string): Promise<ArtifactRecord[]>;
  /** Per spec, task and type: latest version, count, stored bytes, last upload (for `metadata-index.json`). */
  indexSummary(): Promise<IndexTaskSummary[]>;
  /** A committed version; the latest when `ref.version` is absent. */
  findVersion(ref: ArtifactRef): Promise<ArtifactRecord | null>;
  /** {@link MetadataRepository.findVersion} for a download: the row alone, one lighter query. */
  findRow(ref: ArtifactRef): Promise<ArtifactRow | null>;
  /** Committed versions of a (spec, task, type?) or of one version, in any state but pending. */
  findForDelete(ref: ArtifactRef): Promise<ArtifactRecord[]>;
  search(query: SearchQuery): Promise<ArtifactRecord[]>;
  /** Committed, unpinned versions older than the current policy for their type allows, oldest first. */
  listExpired(now: number, limit: number, policy: RetentionRule[]): Promise<ArtifactRecord[]>;
  countExpired(now: number, policy: RetentionRule[]): Promise<number>;
  /** Rows in `state` created before `before` (pending rows of crashed uploads, stuck deletes). */
  listStale(state: "pending" | "publishing" | "deleting", before: number, limit: number): Promise<ArtifactRecord[]>;
  /** Marks rows `deleting`; returns those that were still committed or pending (others are gone or already deleting). */
  markDeleting(ids: number[], options?: { expiredBy?: number; policy?: RetentionRule[] }): Promise<number[]>;
  /** Deletes rows and their tags. */
  remove(ids: number[]): Promise<void>;
  setIntegrity(id: number, integrity: ArtifactIntegrity): Promise<void>;
  /** Records that these versions were read at `at`. */
  touch(ids: number[], at: number): Promise<void>;
  update(
    id: number,
    change: { pinned?: boolean; addTags?: string[]; removeTags?: string[]; setTags?: string[] },
  ): Promise<ArtifactRecord | null>;
  reservedBytes(): Promise<number>;
  /** The trigger-maintained totals: bytes the quota counts and rows (any state). One row read. */
  usageTotals(): Promise<{ bytes: number; rows: number }>;
  usage(): Promise<UsageSummary>;
  /** Committed rows with `id > afterId` in id order: a stable walk for scrubs. */
  listCommittedAfter(afterId: number, limit: number): Promise<ArtifactRecord[]>;
  /** Which of these object keys a row (any state) refers to: blobs by key, sidecars by their version. */
  referencedKeys(
    blobKeys: string[],
    sidecars: { key: string; specName: string; taskId: string; type: string; version: number }[],
  ): Promise<Set<string>>;
  /** Inserts a committed row rebuilt from a sidecar; null when that version already has a row. */
  restore(input: RestoreInput): Promise<ArtifactRecord | null>;
  /**
   * Optional (local files, see {@link CommitInlineInput}): commits the FIRST version of its
   * series with its stored bytes in one transaction, its row `committed` at `storageKey` and the
   * bytes kept in the database until {@link MetadataRepository.dropInline}. Null, changing
   * nothing, when the series has any row already or the quota does not fit (the caller then
   * takes the normal path, which says why). `usedBytes`: what the quota counts once it committed.
   */
  commitInline?(input: CommitInlineInput): Promise<{ record: ArtifactRecord; usedBytes: number } | null>;
  /** The stored bytes of a version committed inline and not yet materialised, or null. */
  readInline?(id: number): Promise<Uint8Array | null>;
  /**
   * A task's committed versions as {@link MetadataRepository.listTask} lists them, each with its
   * stored bytes while they are still inline (else null); none when no version of the task is inline.
   */
  listInline?(task: {
    specName: string;
    taskId: string;
  }): Promise<{ record: ArtifactRecord; bytes: Uint8Array | null }[]>;
  /** Tasks with versions whose bytes are still inline (at most `limit`). */
  inlineTasks?(limit: number): Promise<{ specName: string; taskId: string }[]>;
  /**
   * Forgets the inline bytes of these versions (they are durable at their keys now); gives the
   * task's lease held by `releaseLease.owner` back in the same transaction.
   */
  dropInline?(ids: number[], releaseLease?: { specName: string; taskId: string; owner: string }): Promise<void>;
  /**
   * Optional (local files): checkpoints the write-ahead log into the database and truncates it,
   * giving its growth back to the disk (after refusals on a nearly full disk).
   */
  reclaimJournal?(): Promise<void>;
  close(): Promise<void>;
}

/** A version as its sidecar describes it, for `reindex`: the public metadata's stored fields, times in ms. */
export interface RestoreInput
  extends Pick<
    ArtifactMetadata,
    | "specName"
    | "taskId"
    | "type"
    | "version"
    | "uri"
    | "size"
    | "checksum"
    | "originalSize"
    | "originalChecksum"
    | "compressed"
    | "mimeType"
    | "metadata"
    | "tags"
    | "pinned"
  > {
  storageKey: string;
  createdAt: number;
  expiresAt: number | null;
  /** The secrets redaction found at upload, as the sidecar recorded them. */
  secrets?: ArtifactSecrets | null;
}

/** Reading the structure extracted at upload, and browsing for the viewer. */
export interface StructureQueries {
  /** Stores (or replaces) the structure of a committed version: reindex re-extracts it. */
  saveStructure(artifactId: number, structure: ExtractedStructure): Promise<void>;
  /** Files of a diff, in diff order. */
  listDiffFiles(artifactId: number, page: { limit: number; offset: number }): Promise<DiffFileEntry[]>;
  /** Tests of a report (in report order unless `order` says otherwise), filtered by status and a case-insensitive substring of suite or name. */
  listTestCases(
    artifactId: number,
    filter: { status?: TestStatus; contains?: string; order?: TestCaseOrder; limit: number; offset: number },
  ): Promise<{ items: TestCaseEntry[]; total: number }>;
  /** Committed versions per spec (only `specs` when given), by name. */
  browseSpecs(specs: readonly string[] | null): Promise<SpecOverview[]>;
  /** Tasks of a spec, most recently active first. */
  browseTasks(
    specName: string,
    page: { limit: number; offset: number },
  ): Promise<{ items: TaskOverview[]; total: number }>;
}

export interface SpecOverview {
  specName: string;
  tasks: number;
  artifacts: number;
  storedBytes: number;
  lastCreatedAt: number;
}

export interface TaskOverview {
  taskId: string;
  artifacts: number;
  storedBytes: number;
  types: string[];
  lastCreatedAt: number;
}

/** A log being appended to. Times in ms. */
export interface LiveLogRecord {
  specName: string;
  taskId: string;
  type: string;
  /** Names the key prefix of the chunks: `.store/live/<spec>/<task>/<type>/<session>/`. */
  session: string;
  state: "open" | "sealing";
  createdAt: number;
  updatedAt: number;
  /** Bytes appended so far. */
  size: number;
  chunks: number;
}

export interface LiveLogChunkRecord {
  seq: number;
  offset: number;
  size: number;
  checksum: string;
  storageKey: string;
  createdAt: number;
}

/** Live logs: chunks appended one by one, then sealed into a normal version. */
export interface LiveLogQueries {
  /** The live log of (spec, task, type), or null. */
  findLiveLog(ref: { specName: string; taskId: string; type: string }): Promise<LiveLogRecord | null>;
  /** The live log, created with `session` when there is none. */
  startLiveLog(
    ref: { specName: string; taskId: string; type: string },
    session: string,
    now: number,
  ): Promise<LiveLogRecord>;
  findLiveLogChunk(session: string, seq: number): Promise<LiveLogChunkRecord | null>;
  /**
   * Records chunk `seq` when chunk `seq - 1` exists (or `seq` is 1), the session is open and the
   * number is free; returns the recorded chunk, or null when any of that does not hold.
   */
  appendLiveLogChunk(
    session: string,
    chunk: { seq: number; size: number; checksum: string; storageKey: string; createdAt: number },
  ): Promise<LiveLogChunkRecord | null>;
  /** Chunks ending after `fromOffset`, in order. */
  listLiveLogChunks(session: string, fromOffset: number): Promise<LiveLogChunkRecord[]>;
  /** open → sealing (or takes over a seal that has not moved since `staleBefore`); false when not possible. */
  beginSeal(session: string, now: number, staleBefore: number): Promise<boolean>;
  /** sealing → open, after a failed seal. */
  cancelSeal(session: string): Promise<void>;
  /** Removes the live log and its chunk rows (after a seal, or to discard it). */
  removeLiveLog(session: string): Promise<void>;
  /** Live logs, optionally of one spec (and task). */
  listLiveLogs(filter: { specName?: string; taskId?: string }): Promise<LiveLogRecord[]>;
}

/**
 * Seeds a store without uploading: metadata rows inserted straight into libSQL (multi-row
 * INSERTs, 10k rows per transaction; the usage triggers keep `store_usage` right, and
 * `artifact_series` is filled from the rows), and — for the cleanup — real blobs and sidecars
 * written in the store's exact layout `<base>/<spec>/<task>/v<N>/<file>.gz` and
 * `<type>.metadata.json`, matching the rows byte for byte (sizes and SHA-256s are real).
 *
 * Distributions: 50 specs with Zipf-like popularity, tasks per spec in proportion (about two
 * versions per (spec, task, type)), types diff 40 % / log 40 % / test 20 %, tags ci 70 %,
 * agent-K 50 %, pr-N 40 % (N rare: ~80 rows each at 1M), main 30 %, nightly 15 %,
 * release 0.5 %; created_at spread evenly over 30 days; the oldest `expired` rows expired,
 * 0.5 % of the others pinned.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import type { InArgs } from "@libsql/client";
import { BUILT_IN_TYPES } from "../../src/config/schema.ts";
import { taskMetadataKey, versionKey } from "../../src/core/layout.ts";
import { encodeTaskMetadata } from "../../src/core/layout-files.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { openLibsqlClient } from "../../src/metadata/local.ts";
import { logBytes } from "./data.ts";
import { DIFF_FILE_COLUMNS, SUMMARY_COLUMNS, structureRows, TEST_CASE_COLUMNS } from "./seed-structure.ts";
import { createRandom } from "./stats.ts";

const DAY_MS = 86_400_000;
export const SPEC_COUNT = 50;

export interface SeedPlan {
  rows: number;
  /** The oldest this many rows have expires_at in the past. */
  expired: number;
  /**
   * The retention policy the server sweeps with (days per type; what retention reads now is
   * each version's age against it, not `expires_at`). Given, the `expired` rows are older than
   * their type's period and every other row younger (created within it), so a sweep deletes
   * exactly `expired` versions; `expires_at` still says the same. Without it, created_at is
   * spread over 30 days (the search bench's distribution) and only `expires_at` marks the expired.
   */
  policyDays?: Readonly<Record<string, number | null>>;
  /** Store root the URIs and keys point into. */
  basePath: string;
  now: number;
  seed?: number;
}

export interface SeededArtifact {
  id: number;
  specName: string;
  taskId: string;
  type: (typeof BUILT_IN_TYPES)[number];
  version: number;
  storageKey: string;
  uri: string;
  createdAt: number;
  expiresAt: number;
  pinned: boolean;
  tags: string[];
  metadata: string;
  blob: SampleBlob;
}

/** Gzip bytes of a small log with its real sizes and checksums (a few variants, shared by rows). */
export interface SampleBlob {
  stored: Uint8Array;
  size: number;
  checksum: string;
  originalSize: number;
  originalChecksum: string;
}

const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const SAMPLE_BLOBS: SampleBlob[] = [1024, 2048, 3072, 4096, 6144, 8192].map((size, index) => {
  const original = logBytes(size, 100 + index);
  const stored = new Uint8Array(gzipSync(original, { level: 6 }));
  return {
    stored,
    size: stored.length,
    checksum: sha256Hex(stored),
    originalSize: original.length,
    originalChecksum: sha256Hex(original),
  };
});

export function specName(index: number): string {
  return `project-${String(index).padStart(2, "0")}`;
}

/** Spec popularity: weight 1/(i+1), normalised. */
const SPEC_WEIGHTS = (() => {
  const raw = Array.from({ length: SPEC_COUNT }, (_, index) => 1 / (index + 1));
  const total = raw.reduce((sum, weight) => sum + weight, 0);
  let cumulative = 0;
  return raw.map((weight) => {
    cumulative += weight / total;
    return { weight: weight / total, cumulative };
  });
})();

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** How many pr-N tags exist for a database of `rows` rows. */
export function prCount(rows: number): number {
  return Math.max(10, Math.floor(rows / 200));
}

function tagsFor(random: () => number, rows: number): string[] {
  const tags: string[] = [];
  if (random() < 0.7) tags.push("ci");
  if (random() < 0.5) tags.push(`agent-${1 + Math.floor(random() * 20)}`);
  if (random() < 0.4) tags.push(`pr-${1 + Math.floor(random() * prCount(rows))}`);
  if (random() < 0.3) tags.push("main");
  if (random() < 0.15) tags.push("nightly");
  if (random() < 0.005) tags.push("release");
  return tags;
}

/** Rows in created_at order, oldest first; ids are 1..rows. */
export function* generateArtifacts(plan: SeedPlan): Generator<SeededArtifact> {
  const random = createRandom(plan.seed ?? 42);
  const versions = new Map<string, number>();
  const start = plan.now - 30 * DAY_MS;
  const step = (30 * DAY_MS) / plan.rows;
  for (let index = 0; index < plan.rows; index++) {
    const draw = random();
    const specIndex = Math.max(
      0,
      SPEC_WEIGHTS.findIndex((entry) => draw <= entry.cumulative),
    );
    const taskCount = Math.max(3, Math.round((plan.rows * (SPEC_WEIGHTS[specIndex]?.weight ?? 0)) / 6));
    const task = Math.floor(random() * taskCount);
    const taskId = `${1 + Math.floor(task / 10)}.${task % 10}`;
    const typeDraw = random();
    const type = BUILT_IN_TYPES[typeDraw < 0.4 ? 0 : typeDraw < 0.8 ? 1 : 2] as SeededArtifact["type"];
    const spec = specName(specIndex);
    const seriesKey = `${spec}\u0000${taskId}\u0000${type.name}`;
    const version = (versions.get(seriesKey) ?? 0) + 1;
    versions.set(seriesKey, version);
    const storageKey = versionKey(spec, taskId, version, type, true);
    const expired = index < plan.expired;
    const days = plan.policyDays?.[type.name];
    const createdAt =
      days === undefined || days === null
        ? Math.floor(start + index * step)
        : expired
          ? plan.now - days * DAY_MS - (plan.expired - index) * 1000
          : // Within the period, at least an hour from its end.
            Math.floor(plan.now - random() * (days * DAY_MS - 3_600_000));
    yield {
      id: index + 1,
      specName: spec,
      taskId,
      type,
      version,
      storageKey,
      uri: pathToFileURL(join(plan.basePath, storageKey)).href,
      createdAt,
      expiresAt:
        days !== undefined && days !== null
          ? createdAt + days * DAY_MS
          : expired
            ? plan.now - (plan.expired - index) * 1000
            : Math.max(plan.now + 3_600_000, createdAt + 30 * DAY_MS),
      pinned: !expired && random() < 0.005,
      tags: tagsFor(random, plan.rows),
      metadata: JSON.stringify({ runner: `gha-${Math.floor(random() * 16)}` }),
      blob: pick(random, SAMPLE_BLOBS),
    };
  }
}

const ARTIFACT_COLUMNS =
  "id, spec_name, task_id, type, version, uri, storage_key, size, checksum, original_size, original_checksum, compressed, mime_type, metadata, state, integrity, pinned, created_at, expires_at, last_accessed_at";
/** Rows per multi-row INSERT of each table (columns × rows stays below SQLite's 32,766 parameters). */
const TABLES = {
  artifacts: { columns: ARTIFACT_COLUMNS, width: 20, perInsert: 200 },
  artifact_tags: { columns: "artifact_id, tag, created_at", width: 3, perInsert: 1000 },
  artifact_summaries: { columns: SUMMARY_COLUMNS, width: 6, perInsert: 1000 },
  artifact_diff_files: { columns: DIFF_FILE_COLUMNS, width: 8, perInsert: 1000 },
  artifact_test_cases: { columns: TEST_CASE_COLUMNS, width: 8, perInsert: 1000 },
} as const;
type Table = keyof typeof TABLES;
const ROWS_PER_TRANSACTION = 10_000;

function artifactValues(artifact: SeededArtifact): unknown[] {
  const { blob } = artifact;
  return [
    artifact.id,
    artifact.specName,
    artifact.taskId,
    artifact.type.name,
    artifact.version,
    artifact.uri,
    artifact.storageKey,
    blob.size,
    blob.checksum,
    blob.originalSize,
    blob.originalChecksum,
    1,
    artifact.type.mimeType,
    artifact.metadata,
    "committed",
    "ok",
    artifact.pinned ? 1 : 0,
    artifact.createdAt,
    artifact.expiresAt,
    null,
  ];
}

/** Rows collected per table, turned into multi-row INSERTs. */
function insertBuffers() {
  const rows = new Map<Table, unknown[][]>();
  return {
    add(table: Table, values: unknown[]) {
      const buffer = rows.get(table) ?? [];
      buffer.push(values);
      rows.set(table, buffer);
    },
    /** The INSERTs of every buffered row (artifacts first: the other tables refer to them). */
    drain(): { sql: string; args: InArgs }[] {
      const statements: { sql: string; args: InArgs }[] = [];
      for (const [table, { columns, width, perInsert }] of Object.entries(TABLES) as [
        Table,
        (typeof TABLES)[Table],
      ][]) {
        const buffer = rows.get(table) ?? [];
        const placeholder = `(${Array.from({ length: width }, () => "?").join(", ")})`;
        for (let offset = 0; offset < buffer.length; offset += perInsert) {
          const chunk = buffer.slice(offset, offset + perInsert);
          statements.push({
            sql: `INSERT INTO ${table} (${columns}) VALUES ${chunk.map(() => placeholder).join(", ")}`,
            args: chunk.flat() as InArgs,
          });
        }
      }
      rows.clear();
      return statements;
    },
  };
}

export interface SeedOptions {
  /** Also insert each version's structure (summary, diff files, test cases; see seed-structure.ts). */
  structure?: boolean;
}

/**
 * Creates (migrates) the store's database at `dbPath` and inserts `artifacts` with their tags.
 * Calls `onArtifact` for each one (to write its files).
 */
export async function seedMetadata(
  dbPath: string,
  artifacts: Iterable<SeededArtifact>,
  onArtifact?: (artifact: SeededArtifact) => void,
  options: SeedOptions = {},
): Promise<{ rows: number; tagRows: number; structureRows: number }> {
  await mkdir(dirname(dbPath), { recursive: true });
  const client = await openLibsqlClient({ url: dbPath, durability: "relaxed" });
  try {
    await createLibsqlMetadata({ client });
    await client.execute("PRAGMA synchronous = OFF"); // seeding only; the store opens its own connection
    // Indexes are dropped for the bulk insert and rebuilt from their own definitions after it
    // (a sorted build is many times faster than random inserts into many indexes).
    const indexes = await client.execute(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (${Object.keys(
        TABLES,
      )
        .map((table) => `'${table}'`)
        .join(", ")})`,
    );
    for (const index of indexes.rows) await client.execute(`DROP INDEX \`${String(index.name)}\``);
    const buffers = insertBuffers();
    const counts = { rows: 0, tagRows: 0, structureRows: 0 };
    for (const artifact of artifacts) {
      onArtifact?.(artifact);
      buffers.add("artifacts", artifactValues(artifact));
      for (const tag of artifact.tags) buffers.add("artifact_tags", [artifact.id, tag, artifact.createdAt]);
      counts.tagRows += artifact.tags.length;
      if (options.structure) counts.structureRows += addStructure(buffers, artifact);
      if (++counts.rows % ROWS_PER_TRANSACTION === 0) await client.batch(buffers.drain(), "write");
    }
    await client.batch(
      [
        ...buffers.drain(),
        "INSERT INTO artifact_series (spec_name, task_id, type, last_version) SELECT spec_name, task_id, type, max(version) FROM artifacts GROUP BY spec_name, task_id, type",
      ],
      "write",
    );
    for (const index of indexes.rows) await client.execute(String(index.sql));
    await client.execute("PRAGMA wal_checkpoint(TRUNCATE)");
    return counts;
  } finally {
    client.close();
  }
}

/** Buffers the structure rows of `artifact`; returns how many. */
function addStructure(buffers: ReturnType<typeof insertBuffers>, artifact: SeededArtifact): number {
  const rows = structureRows(artifact.id, artifact.type.name, artifact.createdAt);
  buffers.add("artifact_summaries", rows.summary);
  for (const file of rows.files) buffers.add("artifact_diff_files", file);
  for (const test of rows.tests) buffers.add("artifact_test_cases", test);
  return 1 + rows.files.length + rows.tests.length;
}

/** Each task's `metadata.json` as the store writes it (`encodeTaskMetadata` in src/core/layout.ts). */
function taskMetadataFiles(artifacts: readonly SeededArtifact[]): Map<string, Uint8Array> {
  const tasks = new Map<string, SeededArtifact[]>();
  for (const artifact of artifacts) {
    const key = taskMetadataKey(artifact.specName, artifact.taskId);
    tasks.set(key, [...(tasks.get(key) ?? []), artifact]);
  }
  const files = new Map<string, Uint8Array>();
  for (const [key, members] of tasks) {
    const first = members[0] as SeededArtifact;
    const entries = members.map((artifact) => ({
      storageKey: artifact.storageKey,
      metadata: {
        uri: artifact.uri,
        taskId: artifact.taskId,
        specName: artifact.specName,
        type: artifact.type.name,
        version: artifact.version,
        size: artifact.blob.size,
        checksum: artifact.blob.checksum,
        originalSize: artifact.blob.originalSize,
        originalChecksum: artifact.blob.originalChecksum,
        compressed: true,
        mimeType: artifact.type.mimeType,
        tags: [...artifact.tags].sort(),
        metadata: JSON.parse(artifact.metadata) as Record<string, unknown>,
        createdAt: new Date(artifact.createdAt).toISOString(),
        expiresAt: null,
        lastAccessedAt: null,
        pinned: artifact.pinned,
        state: "committed" as const,
        integrity: "ok" as const,
      },
    }));
    files.set(key, encodeTaskMetadata(first.specName, first.taskId, entries));
  }
  return files;
}

/** Writes each artifact's blob, and each task's metadata.json, under `basePath` (no fsync: the caller syncs once). */
export async function writeArtifactFiles(basePath: string, artifacts: readonly SeededArtifact[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < artifacts.length) {
        const artifact = artifacts[next++] as SeededArtifact;
        const blobPath = join(basePath, artifact.storageKey);
        await mkdir(dirname(blobPath), { recursive: true });
        await writeFile(blobPath, artifact.blob.stored);
      }
    }),
  );
  for (const [key, bytes] of taskMetadataFiles(artifacts)) await writeFile(join(basePath, key), bytes);
}

/**
 * The structure tables (summaries, diff files, test cases): the rows a commit writes, the search
 * conditions over them, and the detail queries of the viewer. A search condition on something
 * rare (a failed test's name, a path, a parse error) is an `IN (subquery)` answered from one of
 * the partial or path indexes; one on something common (errors, failures) a lookup by id.
 */
import { and, asc, count, desc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { SearchQuery, StructureQueries } from "../contracts/metadata-repository.ts";
import type { ExtractedStructure, TestCaseEntry, TestCaseOrder } from "../contracts/structure.ts";
import { type BoundStatement, type PreparedStatement, prepareStatement } from "./libsql-prepared.ts";
import { type Database, insertedWithNonce, qualified } from "./libsql-rows.ts";
import { artifactDiffFiles, artifactSummaries, artifacts, artifactTestCases } from "./schema.ts";
import type { WriteBatcher, WriteItem } from "./write-batcher.ts";

/** Rows per multi-row INSERT (13 columns each stays far below SQLite's bound-parameter limit of 32,766). */
const ROWS_PER_INSERT = 200;
/** The highest code point: `path < prefix || char(this)` bounds a prefix range for the index. */
const PREFIX_END_CODE = 0x10ffff;

/**
 * The version a commit's structure rows belong to: its id, or the row the same job inserted just
 * before with this nonce (see `insertedWithNonce`).
 */
export type VersionRef = number | { nonce: string };

type SummaryInserts = { byId: PreparedStatement<unknown>; byNonce: PreparedStatement<unknown> };
/** Every commit of a diff, log or test report stores a summary: its statement is built once per database. */
const summaryInserts = new WeakMap<Database, SummaryInserts>();

function summaryInsert(db: Database, ref: VersionRef, values: Record<string, unknown>): BoundStatement {
  let prepared = summaryInserts.get(db);
  if (!prepared) {
    const value = sql.placeholder;
    const insert = (id: SQL) =>
      prepareStatement(
        db.$client,
        db.run(sql`INSERT OR REPLACE INTO ${artifactSummaries} (artifact_id, kind, error_count, failed_count, parse_error, summary)
          SELECT ${id}, ${value("kind")}, ${value("errors")}, ${value("failed")}, ${value("parseError")}, ${value("summary")}
          WHERE EXISTS (SELECT 1 FROM ${artifacts} WHERE ${artifacts.id} = ${id} AND ${artifacts.state} = 'committed')`),
      );
    prepared = { byId: insert(sql`${value("id")}`), byNonce: insert(insertedWithNonce(value("nonce"))) };
    summaryInserts.set(db, prepared);
  }
  return typeof ref === "number"
    ? prepared.byId.bind({ id: ref, ...values })
    : prepared.byNonce.bind({ nonce: ref.nonce, ...values });
}

/**
 * Statements storing a version's structure. Each inserts only if the version is committed, so
 * placed after the commit's UPDATE in one transaction they store nothing when the commit did not happen.
 */
export function structureStatements(db: Database, ref: VersionRef, structure: ExtractedStructure): WriteItem[] {
  const { summary } = structure;
  const statements: WriteItem[] = [
    summaryInsert(db, ref, {
      kind: summary.kind,
      errors: summary.kind === "log" ? summary.errors : 0,
      failed: summary.kind === "test" ? summary.failed : 0,
      parseError: summary.parseError === null ? 0 : 1,
      summary: JSON.stringify(summary),
    }),
  ];
  // Most versions (a log) have no rows beyond their summary: these are built only for a diff or a report.
  if (structure.files.length === 0 && structure.tests.length === 0) return statements;
  const artifactId = typeof ref === "number" ? sql`${ref}` : insertedWithNonce(ref.nonce);
  const createdAt = sql`(SELECT ${artifacts.createdAt} FROM ${artifacts} WHERE ${artifacts.id} = ${artifactId})`;
  const committed = sql`EXISTS (SELECT 1 FROM ${artifacts} WHERE ${artifacts.id} = ${artifactId} AND ${artifacts.state} = 'committed')`;
  for (let start = 0; start < structure.files.length; start += ROWS_PER_INSERT) {
    const rows = structure.files.slice(start, start + ROWS_PER_INSERT).map(
      (file, index) =>
        sql`(${artifactId}, ${start + index}, ${file.path}, ${file.oldPath}, ${file.status}, ${file.added}, ${file.removed}, ${file.binary ? 1 : 0},
            ${file.binarySize ?? null}, ${file.oldMode ?? null}, ${file.newMode ?? null}, ${file.similarity ?? null}, ${file.commit ?? null})`,
    );
    statements.push(
      db.run(sql`INSERT OR REPLACE INTO ${artifactDiffFiles} (artifact_id, ordinal, path, old_path, status, added, removed, binary,
          binary_size, old_mode, new_mode, similarity, commit_index, created_at)
        SELECT *, ${createdAt} FROM (VALUES ${sql.join(rows, sql`, `)}) WHERE ${committed}`),
    );
  }
  for (let start = 0; start < structure.tests.length; start += ROWS_PER_INSERT) {
    const rows = structure.tests.slice(start, start + ROWS_PER_INSERT).map(
      (test, index) =>
        sql`(${artifactId}, ${start + index}, ${test.suite}, ${test.name}, ${test.status}, ${test.durationMs}, ${test.message},
            ${test.flaky ? 1 : 0}, ${test.retries ?? 0}, ${test.stdout ?? null}, ${test.stderr ?? null})`,
    );
    statements.push(
      db.run(sql`INSERT OR REPLACE INTO ${artifactTestCases} (artifact_id, ordinal, suite, name, status, duration_ms, message,
          flaky, retries, stdout, stderr, created_at)
        SELECT *, ${createdAt} FROM (VALUES ${sql.join(rows, sql`, `)}) WHERE ${committed}`),
    );
  }
  return statements;
}

/** Deletes a version's structure rows (before re-storing it, or when its commit did not happen). */
export function removeStructureStatements(db: Database, artifactId: number): WriteItem[] {
  return [
    db.delete(artifactSummaries).where(eq(artifactSummaries.artifactId, artifactId)),
    db.delete(artifactDiffFiles).where(eq(artifactDiffFiles.artifactId, artifactId)),
    db.delete(artifactTestCases).where(eq(artifactTestCases.artifactId, artifactId)),
  ];
}

/** Test cases of this name that failed ('failed' a literal, for SQLite to pick the partial index when preparing). */
export function failedTestNamed(name: string): SQL | undefined {
  return and(eq(artifactTestCases.name, name), sql`${artifactTestCases.status} = 'failed'`);
}

/** The upper bound of the paths starting with `prefix`, built in SQL so `prefix` may be a placeholder. */
function prefixEnd(prefix: string): SQL {
  return sql`(${prefix} || char(${sql.raw(String(PREFIX_END_CODE))}))`;
}

/**
 * Distinct paths under a prefix the touched-path window takes one at a time; a prefix holding
 * more is read as one range instead.
 */
const TOUCHED_PATHS_APART = 32;

/**
 * Versions among the newest `window` (after the cursor) touching a path under `prefix`, found
 * from the path indexes alone: (path, created_at, artifact_id) and (old_path, …) hold all it
 * needs, so no version is read to pick them. Exact for a page only when the page fills up from
 * them (see the search).
 *
 * A prefix usually names a folder of a few paths each touched by many versions: the range is
 * thousands of index entries in path order, and sorting them by time was most of a search. So
 * when it holds at most {@link TOUCHED_PATHS_APART} distinct paths (each found by one index
 * seek), only each path's newest `window` entries are read (its index part is in time order):
 * the newest `window` of the whole range are among them. A broader prefix reads the range.
 */
export function touchedAmongNewest(prefix: string, window: number, after?: SearchQuery["after"]): SQL {
  const end = prefixEnd(prefix);
  const before = (alias: string) =>
    after
      ? sql` AND (${sql.raw(alias)}.created_at < ${after.createdAt} OR (${sql.raw(alias)}.created_at = ${after.createdAt} AND ${sql.raw(alias)}.artifact_id < ${after.id}))`
      : sql``;
  const paths = (column: "path" | "old_path") => {
    const name = sql.raw(column);
    const list = sql.raw(`touched_${column}s`);
    return {
      // The distinct paths in the range, one index seek each (at most one more than are taken apart).
      list: sql`${list}(p) AS (
        SELECT (SELECT min(${name}) FROM ${artifactDiffFiles} WHERE ${name} >= ${prefix} AND ${name} < ${end})
        UNION ALL SELECT (SELECT min(${name}) FROM ${artifactDiffFiles} WHERE ${name} > p AND ${name} < ${end})
          FROM ${list} WHERE p IS NOT NULL LIMIT ${sql.raw(String(TOUCHED_PATHS_APART + 1))})`,
      // Each path's newest `window` entries (ties on the last one's time included).
      apart: sql`SELECT d.artifact_id, d.created_at FROM ${list} JOIN ${artifactDiffFiles} d ON d.${name} = ${list}.p${before("d")}
        AND d.created_at >= coalesce((SELECT x.created_at FROM ${artifactDiffFiles} x WHERE x.${name} = ${list}.p${before("x")}
          ORDER BY x.created_at DESC, x.artifact_id DESC LIMIT 1 OFFSET ${window} - 1), -9223372036854775808)
        WHERE (SELECT few FROM touched_few)`,
      whole: sql`SELECT d.artifact_id, d.created_at FROM ${artifactDiffFiles} d WHERE d.${name} >= ${prefix} AND d.${name} < ${end}${before("d")}
        AND NOT (SELECT few FROM touched_few)`,
    };
  };
  const path = paths("path");
  const oldPath = paths("old_path");
  const apartAtMost = sql.raw(String(TOUCHED_PATHS_APART));
  return sql`${artifacts.id} IN (SELECT artifact_id FROM (
    WITH RECURSIVE ${path.list}, ${oldPath.list},
      touched_few(few) AS (SELECT (SELECT count(*) FROM touched_paths) <= ${apartAtMost} AND (SELECT count(*) FROM touched_old_paths) <= ${apartAtMost})
    ${path.apart} UNION ${oldPath.apart} UNION ${path.whole} UNION ${oldPath.whole}
    ORDER BY created_at DESC, artifact_id DESC LIMIT ${window}))`;
}

/** The search conditions on structure that `query` asks for. */
export function structureConditions(db: Database, query: SearchQuery): SQL[] {
  const conditions: SQL[] = [];
  const summaryIds = (where: SQL) =>
    inArray(artifacts.id, db.select({ id: artifactSummaries.artifactId }).from(artifactSummaries).where(where));
  if (query.failedTest !== undefined) {
    conditions.push(
      inArray(
        artifacts.id,
        db
          .select({ id: artifactTestCases.artifactId })
          .from(artifactTestCases)
          .where(failedTestNamed(query.failedTest)),
      ),
    );
  }
  if (query.touchedPath !== undefined) {
    const prefix = query.touchedPath;
    const end = prefixEnd(prefix);
    conditions.push(
      inArray(
        artifacts.id,
        db
          .select({ id: artifactDiffFiles.artifactId })
          .from(artifactDiffFiles)
          .where(
            or(
              and(gte(artifactDiffFiles.path, prefix), lt(artifactDiffFiles.path, end)),
              and(gte(artifactDiffFiles.oldPath, prefix), lt(artifactDiffFiles.oldPath, end)),
            ),
          ),
      ),
    );
  }
  // Versions with errors or failures are common: walking the newest versions and looking each
  // one's summary up by id finds a page after a few times `limit` steps, where `id IN` would
  // first collect every such version of the store.
  const withSummary = (where: SQL) =>
    sql`EXISTS (SELECT 1 FROM ${artifactSummaries} WHERE ${qualified(artifactSummaries.artifactId)} = ${qualified(artifacts.id)} AND ${where})`;
  if (query.hasErrors !== undefined) {
    const condition = withSummary(sql`${qualified(artifactSummaries.errorCount)} > 0`);
    conditions.push(query.hasErrors ? condition : sql`NOT ${condition}`);
  }
  if (query.hasFailures !== undefined) {
    const condition = withSummary(sql`${qualified(artifactSummaries.failedCount)} > 0`);
    conditions.push(query.hasFailures ? condition : sql`NOT ${condition}`);
  }
  if (query.parseError !== undefined) {
    const condition = summaryIds(sql`${artifactSummaries.parseError} = 1`);
    conditions.push(query.parseError ? condition : sql`NOT ${condition}`);
  }
  return conditions;
}

/** ORDER BY terms for a test order; report order breaks ties. */
function testOrder(order: TestCaseOrder): SQL[] {
  const ordinal = asc(artifactTestCases.ordinal);
  if (order === "failures-first")
    return [sql`CASE ${artifactTestCases.status} WHEN 'failed' THEN 0 WHEN 'passed' THEN 1 ELSE 2 END`, ordinal];
  if (order === "duration")
    return [sql`${artifactTestCases.durationMs} IS NULL`, desc(artifactTestCases.durationMs), ordinal];
  return [ordinal];
}

export function createStructureQueries(
  db: Database,
  writes: WriteBatcher,
): Pick<StructureQueries, "saveStructure" | "listDiffFiles" | "listTestCases"> {
  return {
    async saveStructure(artifactId, structure) {
      await writes.run([
        ...removeStructureStatements(db, artifactId),
        ...structureStatements(db, artifactId, structure),
      ]);
    },

    async listDiffFiles(artifactId, page) {
      const rows = await db
        .select()
        .from(artifactDiffFiles)
        .where(eq(artifactDiffFiles.artifactId, artifactId))
        .orderBy(asc(artifactDiffFiles.ordinal))
        .limit(page.limit)
        .offset(page.offset);
      return rows.map((row) => ({
        path: row.path,
        oldPath: row.oldPath,
        status: row.status,
        added: row.added,
        removed: row.removed,
        binary: row.binary,
        binarySize: row.binarySize,
        oldMode: row.oldMode,
        newMode: row.newMode,
        similarity: row.similarity,
        commit: row.commitIndex,
      }));
    },

    async listTestCases(artifactId, filter) {
      const conditions: (SQL | undefined)[] = [eq(artifactTestCases.artifactId, artifactId)];
      if (filter.status) conditions.push(eq(artifactTestCases.status, filter.status));
      if (filter.contains) {
        const pattern = `%${filter.contains.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
        conditions.push(
          sql`(${artifactTestCases.name} LIKE ${pattern} ESCAPE '\\' OR ${artifactTestCases.suite} LIKE ${pattern} ESCAPE '\\')`,
        );
      }
      const where = and(...conditions);
      const [rows, [total]] = await Promise.all([
        db
          .select()
          .from(artifactTestCases)
          .where(where)
          .orderBy(...testOrder(filter.order ?? "report"))
          .limit(filter.limit)
          .offset(filter.offset),
        db.select({ total: count() }).from(artifactTestCases).where(where),
      ]);
      const items: TestCaseEntry[] = rows.map((row) => ({
        suite: row.suite,
        name: row.name,
        status: row.status,
        durationMs: row.durationMs,
        message: row.message,
        flaky: row.flaky,
        retries: row.retries,
        stdout: row.stdout,
        stderr: row.stderr,
      }));
      return { items, total: Number(total?.total ?? 0) };
    },
  };
}

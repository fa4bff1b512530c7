/**
 * The search query: committed versions by metadata, tags, structure and time, newest first,
 * keyset-paged. Two steps in one statement: the page's ids are found first (a walk of one
 * index, or a sort of the few ids a structure filter names, reading ids alone), then only those
 * rows are read with their tags, summary and secrets.
 */
import { and, type Column, desc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { MetadataRepository, SearchQuery } from "../contracts/metadata-repository.ts";
import { executeValues, type PreparedStatement, prepareStatement } from "./libsql-prepared.ts";
import {
  type Database,
  isCommitted,
  namedSelection,
  newestFirst,
  qualified,
  recordFromValues,
  type SelectedRow,
} from "./libsql-rows.ts";
import { secretsConditions } from "./libsql-secrets.ts";
import { failedTestNamed, structureConditions, touchedAmongNewest } from "./libsql-structure.ts";
import { artifacts, artifactTags, artifactTestCases } from "./schema.ts";

/** The conditions on the version itself (every filter but the leading tag and the cursor). */
function versionConditions(db: Database, query: SearchQuery): (SQL | undefined)[] {
  const conditions: (SQL | undefined)[] = [isCommitted];
  if (query.specName !== undefined) conditions.push(eq(artifacts.specName, query.specName));
  if (query.taskId !== undefined) conditions.push(eq(artifacts.taskId, query.taskId));
  if (query.type !== undefined) conditions.push(eq(artifacts.type, query.type));
  if (query.since !== undefined) conditions.push(gte(artifacts.createdAt, query.since));
  if (query.until !== undefined) conditions.push(lt(artifacts.createdAt, query.until));
  if (query.integrity !== undefined) conditions.push(eq(artifacts.integrity, query.integrity));
  if (query.pinned !== undefined) conditions.push(eq(artifacts.pinned, query.pinned));
  // The first required tag drives the query (see pageIds); further ones, and "any of", are tag
  // index lookups (`id IN`), never a correlated test of every version.
  const tagged = (tags: string[]) =>
    db
      .select({ id: artifactTags.artifactId })
      .from(artifactTags)
      .where(tags.length === 1 ? eq(artifactTags.tag, tags[0] as string) : inArray(artifactTags.tag, tags));
  for (const tag of (query.allTags ?? []).slice(1)) conditions.push(inArray(artifacts.id, tagged([tag])));
  if (query.anyTags && query.anyTags.length > 0) conditions.push(inArray(artifacts.id, tagged(query.anyTags)));
  if (query.latestOnly) {
    // No newer committed version in its series: one seek past its version in the unique index
    // (spec, task, type, version), and a row read only for a newer one (max() read every row of
    // the series for its state).
    conditions.push(
      sql`NOT EXISTS (SELECT 1 FROM ${artifacts} a2 WHERE a2.spec_name = ${qualified(artifacts.specName)} AND a2.task_id = ${qualified(artifacts.taskId)} AND a2.type = ${qualified(artifacts.type)} AND a2.version > ${qualified(artifacts.version)} AND a2.state = 'committed')`,
    );
  }
  conditions.push(...structureConditions(db, query), ...secretsConditions(db, query));
  return conditions;
}

/** `(createdAt, id) < after`, the keyset cursor, on the given columns. */
function before(after: NonNullable<SearchQuery["after"]>, createdAt: Column, id: Column) {
  return or(lt(createdAt, after.createdAt), and(eq(createdAt, after.createdAt), lt(id, after.id)));
}

/**
 * A search as the statements see it: with `touchedWindow`, the touched-path filter looks only
 * at that many of the newest matching versions (see `touchedAmongNewest`).
 */
type PageQuery = SearchQuery & { touchedWindow?: number };

/** The ids of the page, newest first: a sub-query that reads no column it does not filter on. */
function pageIds(db: Database, query: PageQuery) {
  const leadingTag = query.allTags?.[0];
  if (leadingTag === undefined && query.failedTest !== undefined) {
    // Walk the failed-test index (name, created_at, artifact_id) newest first: a page costs
    // `limit` steps (a report failing the same name twice is one version: DISTINCT).
    const conditions = versionConditions(db, { ...query, failedTest: undefined });
    if (query.after) conditions.push(before(query.after, artifactTestCases.createdAt, artifactTestCases.artifactId));
    return db
      .selectDistinct({ id: artifactTestCases.artifactId })
      .from(artifactTestCases)
      .innerJoin(artifacts, eq(artifacts.id, artifactTestCases.artifactId))
      .where(and(failedTestNamed(query.failedTest), ...conditions))
      .orderBy(desc(artifactTestCases.createdAt), desc(artifactTestCases.artifactId))
      .limit(query.limit);
  }
  const window = (query as PageQuery).touchedWindow;
  const conditions = versionConditions(db, window === undefined ? query : { ...query, touchedPath: undefined });
  if (window !== undefined) conditions.push(touchedAmongNewest(query.touchedPath as string, window, query.after));
  if (leadingTag !== undefined) {
    // Walk the tag's index (tag, created_at, artifact_id) newest first, joining each version by
    // id: a page costs `limit` index steps however common or rare the tag is.
    if (query.after) conditions.push(before(query.after, artifactTags.createdAt, artifactTags.artifactId));
    return db
      .select({ id: artifactTags.artifactId })
      .from(artifactTags)
      .innerJoin(artifacts, eq(artifacts.id, artifactTags.artifactId))
      .where(and(eq(artifactTags.tag, leadingTag), ...conditions))
      .orderBy(desc(artifactTags.createdAt), desc(artifactTags.artifactId))
      .limit(query.limit);
  }
  if (query.after) conditions.push(before(query.after, artifacts.createdAt, artifacts.id));
  return db
    .select({ id: artifacts.id })
    .from(artifacts)
    .where(and(...conditions))
    .orderBy(desc(artifacts.createdAt), desc(artifacts.id))
    .limit(query.limit);
}

/**
 * Newest touched-path matches a search looks at first (at least; the page when larger). The
 * path index holds committed versions (structure is stored with the commit and goes with the
 * version), so without other filters the page fills from that many; else the whole search runs.
 */
const TOUCHED_WINDOW = 50;

/** Statements kept per database: one per combination of filters in use (a handful in practice). */
const MAX_SHAPES = 64;

/**
 * The query with every value replaced by a named placeholder, and the values by name. Which
 * filters are set (and how many tags, and the flags' values) changes the SQL: that is the key.
 */
function placeholders(query: PageQuery): { key: string; shape: PageQuery; values: Record<string, unknown> } {
  const shape: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  const key: string[] = [];
  const hold = (name: string, value: unknown) => {
    values[name] = value;
    return sql.placeholder(name);
  };
  for (const [name, value] of Object.entries(query) as [keyof PageQuery, unknown][]) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      shape[name] = value.map((item, index) => hold(`${name}${index}`, item));
      key.push(`${name}:${value.length}`);
    } else if (name === "after") {
      const after = value as NonNullable<SearchQuery["after"]>;
      shape.after = { createdAt: hold("afterCreatedAt", after.createdAt), id: hold("afterId", after.id) };
      key.push(name);
    } else if (typeof value === "boolean" && name !== "pinned") {
      shape[name] = value; // latestOnly, hasErrors, …: each value is its own SQL
      key.push(`${name}=${value}`);
    } else {
      shape[name] = hold(name, value);
      key.push(name);
    }
  }
  return { key: key.join(","), shape: shape as unknown as PageQuery, values };
}

export function createSearchQuery(db: Database): Pick<MetadataRepository, "search"> {
  // Built once per shape and only bound per call: drizzle building the SQL text was a tenth of a search.
  const statements = new Map<string, PreparedStatement<SelectedRow>>();
  const statementFor = (key: string, shape: PageQuery) => {
    let prepared = statements.get(key);
    if (!prepared) {
      if (statements.size >= MAX_SHAPES) statements.delete(statements.keys().next().value as string);
      prepared = prepareStatement<SelectedRow>(
        db.$client,
        db
          .select(namedSelection)
          .from(artifacts)
          .where(inArray(artifacts.id, pageIds(db, shape))),
      );
      statements.set(key, prepared);
    }
    return prepared;
  };
  const run = async (query: PageQuery) => {
    const { key, shape, values } = placeholders(query);
    const rows = await executeValues(db.$client, statementFor(key, shape).bind(values).statement);
    // The page's rows in its order here rather than by SQLite: a sort of the few rows read,
    // without copying each whole row (tags, summary and all) into a sorter and back.
    return (rows as ArrayLike<unknown>[]).sort(newestFirst).map(recordFromValues);
  };
  return {
    async search(query) {
      if (query.touchedPath !== undefined && query.allTags?.[0] === undefined && query.failedTest === undefined) {
        // A path prefix may match many versions, in no index's time order. First only the
        // newest few times a page of matches: when the page fills up from them it is exact
        // (every match newer than its last item is among them); else the whole search.
        const page = await run({ ...query, touchedWindow: Math.max(TOUCHED_WINDOW, query.limit) });
        if (page.length >= query.limit) return page;
      }
      return run(query);
    },
  };
}

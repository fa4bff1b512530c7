import { ArtifactStoreError } from "../contracts/errors.ts";
import type { SearchQuery } from "../contracts/metadata-repository.ts";
import type { SearchFilters, SearchPage } from "../contracts/types.ts";
import type { StoreContext } from "./context.ts";
import { assertValidName, normalizeTags } from "./names.ts";
import { publicMetadata } from "./records.ts";

export type { SearchFilters, SearchPage };

export async function searchArtifacts(ctx: StoreContext, filters: SearchFilters = {}): Promise<SearchPage> {
  const query = toQuery(filters);
  const rows = await ctx.metadata.search({ ...query, limit: query.limit + 1 });
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items: items.map(publicMetadata),
    nextCursor: rows.length > query.limit && last ? encodeCursor(Date.parse(last.createdAt), last.id) : null,
  };
}

/**
 * Every filter `search` takes, camelCase first, with the seed's snake_case spelling. A key that
 * is not here is refused (naming it and listing these): a misspelt filter must not quietly
 * return everything.
 */
const FILTER_KEYS: ReadonlyArray<readonly [keyof SearchFilters, string | undefined]> = [
  ["specName", "spec_name"],
  ["taskId", "task_id"],
  ["type", undefined],
  ["tags", undefined],
  ["anyTags", "any_tags"],
  ["since", "created_after"],
  ["until", "created_before"],
  ["latestOnly", "latest_only"],
  ["integrity", undefined],
  ["pinned", undefined],
  ["failedTest", "failed_test"],
  ["touchedPath", "touched_path"],
  ["hasErrors", "has_errors"],
  ["hasFailures", "has_failures"],
  ["parseError", "parse_error"],
  ["hasSecrets", "has_secrets"],
  ["secretRule", "secret_rule"],
  ["limit", undefined],
  ["cursor", undefined],
];

/** Each accepted spelling of a filter, with its camelCase name. */
const SPELLED = new Map<string, keyof SearchFilters>(
  FILTER_KEYS.flatMap(([camel, snake]) =>
    snake ? [[camel, camel] as const, [snake, camel] as const] : [[camel, camel] as const],
  ),
);

/** The filters with snake_case keys read as their camelCase names; unknown keys refused. */
function normalizeFilters(filters: SearchFilters): SearchFilters {
  const spelled = SPELLED;
  const normalized: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    const name = spelled.get(key);
    if (!name) {
      const accepted = FILTER_KEYS.map(([camel, snake]) => (snake ? `${camel} (${snake})` : camel)).join(", ");
      throw invalid(key, `unknown search filter ${JSON.stringify(key)}; accepted: ${accepted}`);
    }
    if (name in normalized && normalized[name] !== value) {
      throw invalid(key, `search filter ${key} is given twice (camelCase and snake_case) with different values`);
    }
    normalized[name] = value;
  }
  return normalized as SearchFilters;
}

/**
 * The seed's `search(filters)`: every match, however many (paged through internally), unless
 * the caller sets `limit`, which is then the most it returns.
 */
export async function searchEverything(ctx: StoreContext, filters: SearchFilters = {}) {
  const first = await searchArtifacts(ctx, { ...filters, ...(filters?.limit === undefined ? { limit: 1000 } : {}) });
  if (filters?.limit !== undefined) return first.items;
  const items = [...first.items];
  for (let cursor = first.nextCursor; cursor; ) {
    const page = await searchArtifacts(ctx, { ...filters, limit: 1000, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  }
  return items;
}

function toQuery(raw: SearchFilters): SearchQuery {
  if (typeof raw !== "object" || raw === null) throw invalid("filters", "search filters must be an object");
  const filters = normalizeFilters(raw);
  const specName = filters.specName;
  const taskId = filters.taskId;
  const limit = filters.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    throw invalid("limit", "limit must be an integer from 1 to 1000");
  if (filters.integrity !== undefined && filters.integrity !== "ok" && filters.integrity !== "corrupt") {
    throw invalid("integrity", 'integrity must be "ok" or "corrupt"');
  }
  const query: SearchQuery = { limit };
  if (specName !== undefined) query.specName = assertValidName("specName", specName);
  if (taskId !== undefined) query.taskId = assertValidName("taskId", taskId);
  if (filters.type !== undefined) query.type = assertValidName("type", filters.type);
  if (filters.tags !== undefined) query.allTags = normalizeTags(filters.tags);
  if (filters.anyTags !== undefined) query.anyTags = normalizeTags(filters.anyTags);
  if (filters.since !== undefined) query.since = toMillis(filters.since, "since");
  if (filters.until !== undefined) query.until = toMillis(filters.until, "until");
  if (filters.latestOnly) query.latestOnly = true;
  if (filters.integrity !== undefined) query.integrity = filters.integrity;
  if (filters.pinned !== undefined) query.pinned = Boolean(filters.pinned);
  if (filters.cursor !== undefined && filters.cursor !== "") query.after = decodeCursor(filters.cursor);
  if (filters.failedTest !== undefined) query.failedTest = checkText(filters.failedTest, "failedTest", 512);
  if (filters.touchedPath !== undefined) query.touchedPath = checkText(filters.touchedPath, "touchedPath", 4096);
  if (filters.hasErrors !== undefined) query.hasErrors = Boolean(filters.hasErrors);
  if (filters.hasFailures !== undefined) query.hasFailures = Boolean(filters.hasFailures);
  if (filters.parseError !== undefined) query.parseError = Boolean(filters.parseError);
  if (filters.hasSecrets !== undefined) query.hasSecrets = Boolean(filters.hasSecrets);
  if (filters.secretRule !== undefined) query.secretRule = checkText(filters.secretRule, "secretRule", 128);
  return query;
}

function checkText(value: unknown, field: string, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw invalid(field, `${field} must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function toMillis(value: Date | string | number, field: string): number {
  // A string of digits is milliseconds: Date.parse would read "1" as the year 2001.
  const millis =
    value instanceof Date
      ? value.getTime()
      : typeof value === "number"
        ? value
        : /^\d{1,16}$/.test(value.trim())
          ? Number(value)
          : Date.parse(value);
  if (!Number.isFinite(millis))
    throw invalid(field, `${field} must be a date (ISO 8601 or milliseconds since the epoch)`);
  return millis;
}

function encodeCursor(createdAt: number, id: number): string {
  return btoa(`${createdAt}.${id}`).replace(/=+$/, "");
}

function decodeCursor(cursor: string): { createdAt: number; id: number } {
  let decoded = "";
  try {
    decoded = atob(cursor);
  } catch {
    // reported below
  }
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(decoded);
  if (!match) throw invalid("cursor", "cursor is not one this store handed out; start again without it");
  return { createdAt: Number(match[1]), id: Number(match[2]) };
}

function invalid(field: string, message: string): ArtifactStoreError {
  return new ArtifactStoreError("E_INVALID_INPUT", message, { details: { field } });
}

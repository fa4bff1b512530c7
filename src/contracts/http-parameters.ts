/**
 * The HTTP API's query parameters, defined once: the server parses them with these
 * definitions, the OpenAPI document describes them from the same table, and the HTTP client
 * (hence the CLI against a server) writes them with it. Adding a search filter is one row here
 * plus its field in `SearchFilters`.
 */
import { ArtifactStoreError } from "./errors.ts";
import type { SearchFilters } from "./types.ts";

/**
 * How a parameter's text becomes a value:
 * - `text`: as given; `texts`: every occurrence (repeatable);
 * - `count`: a positive integer;
 * - `on`: "1"/"true"/"yes"/"" means on, anything else leaves the filter out;
 * - `yesNo`: "1"/"true"/"yes"/"" is true, anything else false;
 * - `oneOf`: one of `values`.
 */
export type ParameterKind = "text" | "texts" | "count" | "on" | "yesNo" | "oneOf";

export interface QueryParameter {
  /** The name in the query string. */
  name: string;
  /** The `SearchFilters` field it fills. */
  field: keyof SearchFilters;
  kind: ParameterKind;
  /** For `oneOf`. */
  values?: readonly string[];
  /** For the OpenAPI document and `--help`. */
  description: string;
}

/** `GET /v1/artifacts`: one row per search parameter. */
export const SEARCH_PARAMETERS: readonly QueryParameter[] = [
  { name: "spec", field: "specName", kind: "text", description: "Spec name." },
  { name: "task", field: "taskId", kind: "text", description: "Task id." },
  { name: "type", field: "type", kind: "text", description: "Artifact type." },
  { name: "tag", field: "tags", kind: "texts", description: "Tag every result carries (repeatable)." },
  {
    name: "any_tag",
    field: "anyTags",
    kind: "texts",
    description: "Tags of which a result carries at least one (repeatable).",
  },
  { name: "since", field: "since", kind: "text", description: "Created at or after (ISO 8601 or ms)." },
  { name: "until", field: "until", kind: "text", description: "Created before (ISO 8601 or ms)." },
  { name: "latest", field: "latestOnly", kind: "on", description: "1: only the newest version of each artifact." },
  { name: "pinned", field: "pinned", kind: "yesNo", description: "true/false." },
  { name: "integrity", field: "integrity", kind: "oneOf", values: ["ok", "corrupt"], description: "ok or corrupt." },
  { name: "limit", field: "limit", kind: "count", description: "Page size 1-1000 (default 100)." },
  { name: "cursor", field: "cursor", kind: "text", description: "nextCursor of the previous page." },
  {
    name: "failed_test",
    field: "failedTest",
    kind: "text",
    description: "Test reports in which a test of exactly this name failed.",
  },
  {
    name: "touched",
    field: "touchedPath",
    kind: "text",
    description: "Diffs touching a path starting with this (src/ for a directory).",
  },
  {
    name: "has_errors",
    field: "hasErrors",
    kind: "yesNo",
    description: "1: logs with at least one error line; 0: without.",
  },
  {
    name: "has_failures",
    field: "hasFailures",
    kind: "yesNo",
    description: "1: test reports with at least one failed test; 0: without.",
  },
  {
    name: "parse_error",
    field: "parseError",
    kind: "yesNo",
    description: "1: versions whose content could not be read as their type.",
  },
  {
    name: "has_secrets",
    field: "hasSecrets",
    kind: "yesNo",
    description: "1: versions in which redaction found secrets (masked or flagged); 0: without.",
  },
  {
    name: "secret_rule",
    field: "secretRule",
    kind: "text",
    description: "Versions with a finding of this redaction rule (github-token, private-key, env:NPM_TOKEN, …).",
  },
];

/** A version number or chunk sequence number in a query string: 1–15 digits. */
export const SEQUENCE_NUMBER = /^\d{1,15}$/;

/**
 * The search filters a query string asks for. Unknown parameters are refused, naming the
 * known ones. `form`: the query of an HTML form (the viewer's) — values are trimmed, blank
 * fields and names outside the table are ignored.
 *
 * @example
 * parseSearchParameters(new URLSearchParams("spec=chat-app&tag=ci&latest=1"));
 * // → { specName: "chat-app", tags: ["ci"], latestOnly: true }
 */
export function parseSearchParameters(query: URLSearchParams, options: { form?: boolean } = {}): SearchFilters {
  const unknown = [...query.keys()].find((key) => !SEARCH_PARAMETERS.some((parameter) => parameter.name === key));
  if (unknown && !options.form) {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `unknown search parameter ${unknown}; use ${SEARCH_PARAMETERS.map((parameter) => parameter.name).join(", ")}`,
      { details: { field: unknown } },
    );
  }
  const filters: Record<string, unknown> = {};
  for (const parameter of SEARCH_PARAMETERS) {
    const given = query.getAll(parameter.name);
    const texts = options.form ? given.map((text) => text.trim()).filter((text) => text !== "") : given;
    if (texts.length === 0) continue;
    if (parameter.kind === "texts") {
      filters[parameter.field] = texts;
      continue;
    }
    const text = texts[0] as string;
    const value = parseValue(parameter, text);
    if (value !== undefined) filters[parameter.field] = value;
  }
  return filters as SearchFilters;
}

function parseValue(parameter: QueryParameter, text: string): unknown {
  switch (parameter.kind) {
    case "count":
      return parseCount(text, parameter.name);
    case "on":
      return isOn(text) ? true : undefined;
    case "yesNo":
      return isOn(text);
    // The core checks the value against its own list (one message for library and API).
    default:
      return text;
  }
}

/** The query string that asks for `filters`: what the HTTP client sends. */
export function searchParametersOf(filters: SearchFilters): URLSearchParams {
  const query = new URLSearchParams();
  for (const parameter of SEARCH_PARAMETERS) {
    const value = filterValue(filters, parameter.field);
    if (value === undefined || value === null) continue;
    if (parameter.kind === "texts") for (const item of value as unknown[]) query.append(parameter.name, String(item));
    else if (parameter.kind === "on") {
      if (value) query.append(parameter.name, "1");
    } else if (parameter.kind === "yesNo") query.append(parameter.name, value ? "1" : "0");
    else query.append(parameter.name, value instanceof Date ? value.toISOString() : String(value));
  }
  return query;
}

/** A field, honouring the seed's snake_case spellings the library accepts. */
function filterValue(filters: SearchFilters, field: keyof SearchFilters): unknown {
  if (field === "specName") return filters.specName ?? filters.spec_name;
  if (field === "taskId") return filters.taskId ?? filters.task_id;
  return filters[field];
}

/** `1`, `true`, `yes` or empty (a bare `?latest`). */
export function isOn(text: string | undefined): boolean {
  return text !== undefined && ["1", "true", "yes", ""].includes(text.toLowerCase());
}

/** A positive integer parameter (`limit=`), up to 9 digits. */
export function parseCount(text: string, field: string): number {
  if (!/^\d{1,9}$/.test(text))
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be a positive integer`, { details: { field } });
  return Number(text);
}

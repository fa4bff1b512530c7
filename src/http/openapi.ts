/** The OpenAPI 3.1 description of every route, served at `/openapi.json`. */
import { ERROR_CODES } from "../contracts/errors.ts";
import { type QueryParameter, SEARCH_PARAMETERS } from "../contracts/http-parameters.ts";
import { DESCRIPTION_BY_CODE, STATUS_BY_CODE } from "./errors.ts";
import { OPENAPI_SCHEMAS } from "./openapi-schemas.ts";

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (...statuses: number[]): Record<string, Json> =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: ERROR_CODES.filter((code) => STATUS_BY_CODE[code] === status)
          .map((code) => `${code}: ${DESCRIPTION_BY_CODE[code]}`)
          .join(" "),
        content: { "application/json": { schema: ref("Error") } },
      },
    ]),
  );
const json = (schema: Json, description: string): Json => ({
  description,
  content: { "application/json": { schema } },
});
const query = (name: string, description: string, schema: Json = { type: "string" }): Json => ({
  name,
  in: "query",
  description,
  schema,
});
const searchParameter = (parameter: QueryParameter): Json =>
  query(
    parameter.name,
    parameter.description,
    parameter.kind === "count"
      ? { type: "integer", minimum: 1 }
      : parameter.kind === "oneOf"
        ? { type: "string", enum: parameter.values }
        : parameter.kind === "texts"
          ? { type: "array", items: { type: "string" } }
          : { type: "string" },
  );
const header = (name: string, description: string): Json => ({
  name,
  in: "header",
  description,
  schema: { type: "string" },
});

// biome-ignore lint/complexity/noExcessiveLinesPerFunction: a declarative table (the OpenAPI document, one literal), not logic to split
export function openApiDocument(types: readonly string[]): Json {
  const pathParameters = [
    { name: "spec", in: "path", required: true, description: "Spec (project) name.", schema: ref("Name") },
    { name: "task", in: "path", required: true, description: "Task id.", schema: ref("Name") },
    {
      name: "type",
      in: "path",
      required: true,
      description: "Artifact type.",
      schema: { type: "string", enum: [...types] },
    },
  ];
  const version = query("version", "Version number; the latest committed version when absent.", {
    type: "integer",
    minimum: 1,
  });
  const auth = errorResponse(401, 403);
  return {
    openapi: "3.1.0",
    info: {
      title: "@necrocode/artifact-store",
      version: "1",
      description:
        "Artifacts (diffs, logs, test results) per spec and task: compressed, checksummed, searchable, expired on schedule. " +
        "Errors are JSON { error: { code, message } }.",
    },
    security: [{ bearer: [] }],
    paths: {
      "/v1/artifacts/{spec}/{task}/{type}": {
        parameters: pathParameters,
        put: {
          summary: "Upload a new version (streamed).",
          parameters: [
            header("Content-Type", "MIME type of the content (generic types are ignored)."),
            header("Content-Encoding", "gzip: the body is gzip; it is validated and stored as sent."),
            header("Content-Digest", "RFC 9530 sha-256=:base64: of the body as sent; nothing is stored on mismatch."),
            header("X-Artifact-Tags", "Comma-separated tags."),
            header("X-Artifact-Metadata", "A JSON object kept with the version."),
          ],
          requestBody: {
            required: true,
            content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
          },
          responses: {
            "201": json(
              ref("UploadResult"),
              "Stored. Location names the version; X-Artifact-Warning carries quota warnings.",
            ),
            ...errorResponse(400, 409, 413, 422, 502, 503, 507),
            ...auth,
          },
        },
        get: {
          summary: "Download (streamed, verified while streaming).",
          parameters: [
            version,
            header("Accept-Encoding", "With gzip the stored gzip bytes are sent as they are (Content-Encoding: gzip)."),
            header("Range", "bytes=a-b of the decoded content (206)."),
            header("If-None-Match", "ETag from an earlier response (304)."),
          ],
          responses: {
            "200": {
              description:
                "The content. ETag and Repr-Digest describe the bytes sent. A checksum failure aborts the stream.",
              content: { "*/*": { schema: { type: "string", format: "binary" } } },
            },
            "206": { description: "A byte range of the decoded content." },
            "304": { description: "Not modified." },
            ...errorResponse(400, 404, 416, 500, 502, 503),
            ...auth,
          },
        },
        head: {
          summary: "Headers of a download, without the body.",
          parameters: [
            version,
            header("Accept-Encoding", "As for GET: the headers describe the representation GET would send."),
            header("Range", "As for GET (206)."),
            header("If-None-Match", "As for GET (304)."),
          ],
          responses: {
            "200": { description: "Headers only." },
            "206": { description: "Headers of a range." },
            "304": { description: "Not modified." },
            ...errorResponse(400, 404, 416, 500),
            ...auth,
          },
        },
        patch: {
          summary: "Pin/unpin a version and change its tags.",
          parameters: [version],
          requestBody: { required: true, content: { "application/json": { schema: ref("Change") } } },
          responses: { "200": json(ref("Artifact"), "The updated metadata."), ...errorResponse(400, 404), ...auth },
        },
        delete: {
          summary: "Delete one version (?version=N) or every version.",
          parameters: [version],
          responses: {
            "200": json(
              { type: "object", properties: { deleted: { type: "integer" } } },
              "How many versions were deleted.",
            ),
            ...errorResponse(400, 404, 502, 503),
            ...auth,
          },
        },
      },
      "/v1/artifacts": {
        get: {
          summary: "Search committed versions, newest first.",
          parameters: SEARCH_PARAMETERS.map(searchParameter),
          responses: { "200": json(ref("SearchPage"), "One page of results."), ...errorResponse(400), ...auth },
        },
      },
      "/v1/artifacts/{spec}/{task}/{type}:append": {
        parameters: pathParameters,
        post: {
          summary: "Append a chunk to a live log (a log still being written).",
          parameters: [
            query(
              "seq",
              "Chunk number from 1; the same number with the same bytes again is a no-op. Default: the next.",
              {
                type: "integer",
                minimum: 1,
              },
            ),
            header("X-Chunk-Seq", "Same as ?seq=."),
            header("Content-Digest", "RFC 9530 sha-256=:base64: of the chunk; nothing is appended on mismatch."),
          ],
          requestBody: {
            required: true,
            content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
          },
          responses: {
            "201": json({ type: "object" }, "Appended: seq, offset, size, checksum, totalSize."),
            "200": json({ type: "object" }, "This exact chunk was appended before (a retry): nothing changed."),
            ...errorResponse(400, 409, 413, 422, 507),
            ...auth,
          },
        },
      },
      "/v1/artifacts/{spec}/{task}/{type}:seal": {
        parameters: pathParameters,
        post: {
          summary: "Commit a live log as a normal version (checksummed, compressed, extracted) and remove its chunks.",
          parameters: [
            header("Repr-Digest", "RFC 9530 sha-256=:base64: of the whole log; nothing is committed on mismatch."),
            header("X-Artifact-Tags", "Comma-separated tags."),
            header("X-Artifact-Metadata", "A JSON object kept with the version."),
          ],
          responses: {
            "201": json(ref("UploadResult"), "The committed version."),
            ...errorResponse(404, 409, 422, 507),
            ...auth,
          },
        },
      },
      "/v1/artifacts/{spec}/{task}/{type}:live": {
        parameters: pathParameters,
        get: {
          summary: "Read a live log while it grows (Range: bytes=N- for what came after N).",
          parameters: [header("Range", "One byte range.")],
          responses: {
            "200": { description: "The log so far; X-Live-Size, X-Live-State, X-Live-Chunks describe it." },
            "206": { description: "Part of it." },
            ...errorResponse(404, 416),
            ...auth,
          },
        },
        delete: {
          summary: "Discard a live log without sealing it.",
          responses: { "200": json({ type: "object" }, "Discarded."), ...errorResponse(404), ...auth },
        },
      },
      "/v1/live": {
        get: {
          summary: "Live logs not sealed yet.",
          parameters: [query("spec", "Spec name."), query("task", "Task id.")],
          responses: { "200": json({ type: "object" }, "{ items: [...] }"), ...auth },
        },
      },
      "/v1/compare": {
        get: {
          summary: "Two attempts of a task (or two tasks) compared: test reports or diffs.",
          description:
            "Test reports: the tests newly failing, fixed, still failing, added and removed (suite and name identify a test). " +
            "Diffs: the files whose change differs, and those only one diff changes (hunk line numbers ignored). " +
            "Lists hold at most 1000 entries each; counts are complete.",
          parameters: [
            { ...query("spec", "Spec name."), required: true },
            { ...query("type", "Artifact type (a test report or a diff)."), required: true },
            {
              ...query("before", "The earlier attempt: a task id, or task@version (latest when no version)."),
              required: true,
            },
            { ...query("after", "The later attempt: a task id, or task@version."), required: true },
          ],
          responses: {
            "200": json(ref("Comparison"), "The comparison."),
            ...errorResponse(400, 404),
            ...auth,
          },
        },
      },
      "/v1/stats": {
        get: {
          summary: "Usage per type and spec, quota and warning, counters.",
          responses: { "200": json({ type: "object" }, "Statistics."), ...auth },
        },
      },
      "/v1/maintenance/cleanup": {
        post: {
          summary: "Retention sweep: delete expired, unpinned versions (admin).",
          parameters: [
            query("dry_run", "1: list what would go and why, delete nothing."),
            query("limit", "Stop after this many.", { type: "integer" }),
          ],
          responses: {
            "200": json(ref("CleanupReport"), "What was (or would be) deleted."),
            ...errorResponse(400, 502, 503),
            ...auth,
          },
        },
      },
      "/v1/maintenance/gc": {
        post: {
          summary:
            "Finish interrupted uploads and deletes, remove unreferenced objects and stale staging files (admin).",
          parameters: [
            query("dry_run", "1: report only."),
            query("grace", "Only touch things older than this (seconds or 30m, 1h; default 1h)."),
          ],
          responses: {
            "200": json(
              { type: "object" },
              "What was (or would be) removed, and complete versions reindex can restore.",
            ),
            ...auth,
          },
        },
      },
      "/v1/maintenance/verify": {
        post: {
          summary: "Scrub every stored checksum; failures are flagged corrupt and fail closed (admin).",
          parameters: [query("deep", "1: also decompress and check the content checksum.")],
          responses: {
            "200": json({ type: "object" }, "Versions checked, bytes read, corrupt and recovered versions."),
            ...auth,
          },
        },
      },
      "/v1/maintenance/reindex": {
        post: {
          summary: "Rebuild missing metadata rows from each task's metadata.json (admin).",
          parameters: [query("dry_run", "1: report only.")],
          responses: {
            "200": json({ type: "object" }, "Sidecars found, versions restored, skipped ones and why."),
            ...auth,
          },
        },
      },
      "/healthz": {
        get: {
          summary:
            "Liveness: the metadata database answers. `disk` (fs backend): free and total bytes of the volume holding base_path, the write floor (`minFreeBytes`), the reserve held for deletes, and whether uploads are taken (`writable`).",
          security: [],
          responses: { "200": { description: "ok" }, ...errorResponse(503) },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus text format counters.",
          responses: { "200": { description: "Metrics." }, ...auth },
        },
      },
      "/openapi.json": {
        get: { summary: "This document.", security: [], responses: { "200": { description: "OpenAPI 3.1." } } },
      },
    },
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "Tokens with scopes read, write, admin; optionally limited to specs.",
        },
      },
      schemas: OPENAPI_SCHEMAS,
    },
  };
}

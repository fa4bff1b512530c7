/** The OpenAPI document's component schemas: the JSON bodies the API answers with. A declarative table. */
import { ERROR_CODES } from "../contracts/errors.ts";

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

export const OPENAPI_SCHEMAS: Json = {
  Name: { type: "string", pattern: "^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._-]{1,128}$" },
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string", enum: [...ERROR_CODES] },
          message: { type: "string" },
          details: { type: "object" },
        },
      },
    },
  },
  Artifact: {
    type: "object",
    properties: {
      uri: { type: "string" },
      specName: { type: "string" },
      taskId: { type: "string" },
      type: { type: "string" },
      version: { type: "integer" },
      size: { type: "integer", description: "Stored bytes." },
      checksum: { type: "string", description: "SHA-256 hex of the stored bytes." },
      originalSize: {
        type: "integer",
        description: "Bytes of the content as stored and served (after masking secrets).",
      },
      originalChecksum: {
        type: "string",
        description:
          "SHA-256 hex of the content as stored and served: after masking when secrets were masked, else of the bytes sent. Content-Digest is checked on the bytes sent.",
      },
      compressed: { type: "boolean" },
      mimeType: { type: "string" },
      tags: { type: "array", items: { type: "string" } },
      metadata: { type: "object" },
      createdAt: { type: "string", format: "date-time" },
      expiresAt: { type: ["string", "null"], format: "date-time" },
      lastAccessedAt: { type: ["string", "null"], format: "date-time" },
      pinned: { type: "boolean" },
      summary: {
        type: ["object", "null"],
        description:
          "Structure extracted at upload. diff: files, added, removed; log: lines, errors, warnings, firstErrorLine, firstErrors; " +
          "test: format, total, passed, failed, skipped, durationMs. Always: bytesExamined, truncated, parseError.",
      },
      secrets: {
        type: ["object", "null"],
        description:
          "Secrets found at upload: mode (mask: replaced by [REDACTED:<rule>] markers; flag: stored as sent) and findings, each { rule, count, lines }. Never a value. Null when none.",
        properties: {
          mode: { type: "string", enum: ["mask", "flag"] },
          findings: {
            type: "array",
            items: {
              type: "object",
              properties: {
                rule: { type: "string" },
                count: { type: "integer" },
                lines: { type: "array", items: { type: "integer" } },
              },
            },
          },
        },
      },
      state: { type: "string", enum: ["pending", "committed", "deleting"] },
      integrity: { type: "string", enum: ["ok", "corrupt"] },
    },
  },
  UploadResult: {
    allOf: [
      ref("Artifact"),
      { type: "object", properties: { warnings: { type: "array", items: { type: "string" } } } },
    ],
  },
  SearchPage: {
    type: "object",
    properties: { items: { type: "array", items: ref("Artifact") }, nextCursor: { type: ["string", "null"] } },
  },
  Change: {
    type: "object",
    additionalProperties: false,
    properties: {
      pinned: { type: "boolean" },
      tags: { type: "array", items: { type: "string" } },
      addTags: { type: "array", items: { type: "string" } },
      removeTags: { type: "array", items: { type: "string" } },
    },
  },
  Comparison: {
    oneOf: [ref("TestComparison"), ref("DiffComparison")],
    discriminator: { propertyName: "kind" },
  },
  ComparedVersion: {
    type: "object",
    properties: {
      specName: { type: "string" },
      taskId: { type: "string" },
      type: { type: "string" },
      version: { type: "integer" },
    },
  },
  TestChange: {
    type: "object",
    properties: {
      suite: { type: "string" },
      name: { type: "string" },
      before: { type: ["string", "null"], enum: ["passed", "failed", "skipped", null] },
      after: { type: ["string", "null"], enum: ["passed", "failed", "skipped", null] },
      message: { type: ["string", "null"] },
    },
  },
  TestComparison: {
    type: "object",
    properties: {
      kind: { const: "test" },
      before: ref("ComparedVersion"),
      after: ref("ComparedVersion"),
      counts: {
        type: "object",
        properties: Object.fromEntries(
          ["newlyFailing", "fixed", "stillFailing", "added", "removed", "unchanged"].map((key) => [
            key,
            { type: "integer" },
          ]),
        ),
      },
      newlyFailing: { type: "array", items: ref("TestChange") },
      fixed: { type: "array", items: ref("TestChange") },
      stillFailing: { type: "array", items: ref("TestChange") },
      added: { type: "array", items: ref("TestChange") },
      removed: { type: "array", items: ref("TestChange") },
      truncated: { type: "boolean" },
    },
  },
  DiffComparison: {
    type: "object",
    properties: {
      kind: { const: "diff" },
      before: ref("ComparedVersion"),
      after: ref("ComparedVersion"),
      counts: {
        type: "object",
        properties: Object.fromEntries(
          ["differ", "onlyBefore", "onlyAfter", "same"].map((key) => [key, { type: "integer" }]),
        ),
      },
      files: {
        type: "array",
        items: {
          type: "object",
          properties: {
            path: { type: "string" },
            before: { type: ["object", "null"], description: "{ status, added, removed }, null when absent." },
            after: { type: ["object", "null"], description: "{ status, added, removed }, null when absent." },
          },
        },
      },
      truncated: { type: "boolean" },
    },
  },
  CleanupReport: {
    type: "object",
    properties: {
      dryRun: { type: "boolean" },
      deleted: { type: "integer" },
      freedBytes: { type: "integer" },
      expiredTotal: { type: "integer" },
      candidates: { type: "array", items: { type: "object" } },
    },
  },
};

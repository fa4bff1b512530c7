/**
 * Seeds a metadata database with many committed versions carrying structure, through the real
 * repository (reserve → commit with structure), many at a time so group commit batches them.
 * No blobs are written: the structure queries read metadata only. Deterministic: version `i`
 * of the seed always has the same files, tests and counts, so tests can predict the answers.
 */

import type { MetadataRepository } from "../../src/contracts/metadata-repository.ts";
import type { DiffFileEntry, ExtractedStructure, TestCaseEntry } from "../../src/core/structure/types.ts";

export const SEED_SPECS = ["chat-app", "iot-dashboard", "billing", "search", "infra"] as const;
const TYPES = ["diff", "log", "test"] as const;

export interface SeededVersion {
  index: number;
  specName: string;
  taskId: string;
  type: (typeof TYPES)[number];
}

/** What version `index` of the seed is. */
export function seededVersion(index: number): SeededVersion {
  return {
    index,
    specName: SEED_SPECS[index % SEED_SPECS.length] as string,
    taskId: `task-${Math.floor(index / 3) % 2000}`,
    type: TYPES[index % 3] as (typeof TYPES)[number],
  };
}

/** Every 30th diff (index % 90 === 0) touches `src/payments/`; every diff touches `src/module-<index % 40>/`. */
export function seededStructure(index: number): ExtractedStructure {
  const { type } = seededVersion(index);
  const common = { bytesExamined: 1000, truncated: false, parseError: null };
  if (type === "diff") {
    const files: DiffFileEntry[] = [
      {
        path: `src/module-${index % 40}/index.ts`,
        oldPath: null,
        status: "modified",
        added: 3,
        removed: 1,
        binary: false,
      },
      {
        path: `test/module-${index % 40}.test.ts`,
        oldPath: null,
        status: "added",
        added: 20,
        removed: 0,
        binary: false,
      },
    ];
    if (index % 90 === 0) {
      files.push({
        path: "src/payments/charge.ts",
        oldPath: "src/billing/charge.ts",
        status: "renamed",
        added: 1,
        removed: 1,
        binary: false,
      });
    }
    const added = files.reduce((sum, file) => sum + file.added, 0);
    const removed = files.reduce((sum, file) => sum + file.removed, 0);
    return { summary: { kind: "diff", files: files.length, added, removed, ...common }, files, tests: [] };
  }
  if (type === "log") {
    const errors = index % 4 === 1 ? (index % 13) + 1 : 0;
    return {
      summary: {
        kind: "log",
        lines: 500,
        errors,
        warnings: index % 7,
        firstErrorLine: errors ? 42 : null,
        firstErrors: [],
        ...common,
      },
      files: [],
      tests: [],
    };
  }
  // Test reports: `flaky <index % 25>` fails in every 10th report, the rest pass.
  const tests: TestCaseEntry[] = [
    {
      suite: "api",
      name: `flaky ${index % 25}`,
      status: index % 10 === 2 ? "failed" : "passed",
      durationMs: 12,
      message: null,
    },
    { suite: "api", name: "creates a session", status: "passed", durationMs: 3, message: null },
    { suite: "ui", name: `renders page ${index % 50}`, status: "passed", durationMs: 40, message: null },
    { suite: "ui", name: "slow path", status: "skipped", durationMs: null, message: null },
  ];
  const failed = tests.filter((test) => test.status === "failed").length;
  return {
    summary: {
      kind: "test",
      format: "junit",
      total: tests.length,
      passed: tests.length - failed - 1,
      failed,
      skipped: 1,
      durationMs: 55,
      ...common,
    },
    files: [],
    tests,
  };
}

/** Inserts `count` committed versions; returns how long it took. */
export async function seedStructuredVersions(
  metadata: MetadataRepository,
  count: number,
  options: { concurrency?: number; startAt?: number } = {},
): Promise<{ ms: number }> {
  const started = performance.now();
  const concurrency = options.concurrency ?? 64;
  const base = options.startAt ?? Date.parse("2026-11-01T00:00:00Z");
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < count; index = next++) {
      const version = seededVersion(index);
      const fileName = version.type === "test" ? "test-result.json" : `${version.type}.txt`;
      const record = await metadata.reserveVersion({
        specName: version.specName,
        taskId: version.taskId,
        type: version.type,
        compressed: true,
        mimeType: "text/plain",
        metadata: { seed: index },
        createdAt: base + index * 1000,
        retentionDays: null,
        location: {
          keyPrefix: `${version.specName}/${version.taskId}/v`,
          keySuffix: `/${fileName}.gz`,
          uriPrefix: "memory://seed/",
        },
        reserveBytes: 0,
        maxBytes: null,
      });
      const values = {
        size: 100,
        checksum: "0".repeat(64),
        originalSize: 1000,
        originalChecksum: "1".repeat(64),
        tags: index % 2 === 0 ? ["ci"] : [],
      };
      while ((await metadata.beginPublish(record, values)) === "busy") await new Promise((r) => setTimeout(r, 1));
      await metadata.finishPublish(record, {
        storageKey: record.storageKey,
        previous: null,
        inheritPin: false,
        supersedeOlder: false,
        structure: seededStructure(index),
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: performance.now() - started };
}

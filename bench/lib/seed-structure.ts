/**
 * Structure rows for the seeded search databases (see seed.ts): every version has a summary,
 * diffs their files, test reports their tests, so the structure searches (`failed_test`,
 * `touched`, `has_errors`) run on as many rows as the store would hold. Derived from the
 * version's id alone (no draws from the seed's random sequence), so the other columns stay
 * what they were.
 *
 * Distributions: a diff touches 1–3 files under `src/module-<M>/` (M of 200, so one module is
 * in ~1 % of diffs), every 50th diff also `src/payments/`; a quarter of the logs have errors;
 * a test report has 4 tests, one of them `flaky <K>` (K of 25) which fails in every 10th report.
 */

export const MODULE_COUNT = 200;
export const FLAKY_COUNT = 25;

export const SUMMARY_COLUMNS = "artifact_id, kind, error_count, failed_count, parse_error, summary";
export const DIFF_FILE_COLUMNS = "artifact_id, ordinal, path, old_path, status, added, removed, created_at";
export const TEST_CASE_COLUMNS = "artifact_id, ordinal, suite, name, status, duration_ms, message, created_at";

export interface StructureRows {
  summary: unknown[];
  files: unknown[][];
  tests: unknown[][];
}

/** An integer hash of the id (murmur3's finaliser): independent draws per salt, same for every run. */
function mix(id: number, salt: number): number {
  let hash = Math.imul(id ^ Math.imul(salt, 0x85ebca6b), 0xcc9e2d51);
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x1b873593);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

function diffRows(id: number, createdAt: number): StructureRows {
  const count = 1 + (mix(id, 1) % 3);
  const files: unknown[][] = [];
  for (let ordinal = 0; ordinal < count; ordinal++) {
    const module = mix(id, 2 + ordinal) % MODULE_COUNT;
    files.push([id, ordinal, `src/module-${module}/file-${ordinal}.ts`, null, "modified", 3, 1, createdAt]);
  }
  if (id % 50 === 0)
    files.push([id, count, "src/payments/charge.ts", "src/billing/charge.ts", "renamed", 1, 1, createdAt]);
  const summary = { kind: "diff", files: files.length, added: 3 * count, removed: count, bytesExamined: 4096 };
  return { summary: [id, "diff", 0, 0, 0, JSON.stringify(summary)], files, tests: [] };
}

function logRows(id: number): StructureRows {
  const errors = mix(id, 3) % 4 === 0 ? 1 + (id % 13) : 0;
  const summary = { kind: "log", lines: 80, errors, warnings: id % 7, firstErrorLine: errors ? 42 : null };
  return { summary: [id, "log", errors, 0, 0, JSON.stringify(summary)], files: [], tests: [] };
}

function testRows(id: number, createdAt: number): StructureRows {
  const flaky = mix(id, 4) % FLAKY_COUNT;
  const failed = mix(id, 5) % 10 === 0;
  const tests: unknown[][] = [
    [id, 0, "api", `flaky ${flaky}`, failed ? "failed" : "passed", 12, failed ? "expected 200, got 500" : null],
    [id, 1, "api", "creates a session", "passed", 3, null],
    [id, 2, "ui", `renders page ${id % 50}`, "passed", 40, null],
    [id, 3, "ui", "slow path", "skipped", null, null],
  ].map((row) => [...row, createdAt]);
  const summary = { kind: "test", format: "junit", total: 4, passed: failed ? 2 : 3, failed: failed ? 1 : 0 };
  return { summary: [id, "test", 0, failed ? 1 : 0, 0, JSON.stringify(summary)], files: [], tests };
}

/** The summary, diff-file and test-case rows of version `id` of type `type`, created at `createdAt`. */
export function structureRows(id: number, type: string, createdAt: number): StructureRows {
  if (type === "diff") return diffRows(id, createdAt);
  if (type === "log") return logRows(id);
  return testRows(id, createdAt);
}

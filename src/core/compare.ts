/**
 * Attempts compared: two versions of a test report (two attempts of a task, or two tasks) give
 * the tests newly failing, fixed, still failing, added and removed; two diffs give the files
 * whose change differs. Reads the structure extracted at upload for tests and streams both
 * diffs once for a fingerprint of each file's change, so memory stays bounded by the number of
 * tests and files, never by the size of the content.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import type { ArtifactStore } from "./store.ts";
import { createDiffExtractor } from "./structure/diff.ts";
import type { DiffFileEntry, DiffFileStatus, TestCaseEntry, TestStatus } from "./structure/types.ts";

/** Entries listed per category at most; the counts are always complete. */
export const COMPARISON_LIST_LIMIT = 1000;
/** Tests read per report at most (the extraction keeps at most 50,000). */
const MAX_TESTS = 50_000;

export interface ComparedVersion {
  specName: string;
  taskId: string;
  type: string;
  version: number;
}

export interface TestChange {
  suite: string;
  name: string;
  /** Status in the earlier report, null when the test was not there. */
  before: TestStatus | null;
  /** Status in the later report, null when the test is gone. */
  after: TestStatus | null;
  /** The later report's message (a failure's), else the earlier one's. */
  message: string | null;
}

export interface TestComparison {
  kind: "test";
  before: ComparedVersion;
  after: ComparedVersion;
  counts: {
    newlyFailing: number;
    fixed: number;
    stillFailing: number;
    added: number;
    removed: number;
    unchanged: number;
  };
  /** Failed now, passed or skipped before. */
  newlyFailing: TestChange[];
  /** Failed before, passed now. */
  fixed: TestChange[];
  /** Failed both times. */
  stillFailing: TestChange[];
  /** Only in the later report (a failing one is listed here, not as newly failing). */
  added: TestChange[];
  /** Only in the earlier report. */
  removed: TestChange[];
  /** A report had more tests than were read, or a list was cut at the limit. */
  truncated: boolean;
}

export interface DiffFileChange {
  path: string;
  before: { status: DiffFileStatus; added: number; removed: number } | null;
  after: { status: DiffFileStatus; added: number; removed: number } | null;
}

export interface DiffComparison {
  kind: "diff";
  before: ComparedVersion;
  after: ComparedVersion;
  counts: { differ: number; onlyBefore: number; onlyAfter: number; same: number };
  /** Files whose change differs, then files changed by only one of the diffs, each in path order. */
  files: DiffFileChange[];
  truncated: boolean;
}

/**
 * Compares two sets of tests by suite and name (a name repeated in one suite is matched by its
 * occurrence: the second `it("works")` with the second).
 *
 * @example
 * compareTestCases(first.tests, second.tests).counts; // { newlyFailing: 1, fixed: 2, … }
 */
export function compareTestCases(
  before: readonly TestCaseEntry[],
  after: readonly TestCaseEntry[],
  limit = COMPARISON_LIST_LIMIT,
): Omit<TestComparison, "kind" | "before" | "after"> {
  const earlier = keyed(before);
  const result: Omit<TestComparison, "kind" | "before" | "after"> = {
    counts: { newlyFailing: 0, fixed: 0, stillFailing: 0, added: 0, removed: 0, unchanged: 0 },
    newlyFailing: [],
    fixed: [],
    stillFailing: [],
    added: [],
    removed: [],
    truncated: false,
  };
  const list = (category: keyof typeof result.counts, change: TestChange) => {
    result.counts[category]++;
    if (category === "unchanged") return;
    const entries = result[category];
    if (entries.length < limit) entries.push(change);
    else result.truncated = true;
  };
  for (const [key, test] of keyed(after)) {
    const old = earlier.get(key);
    earlier.delete(key);
    const change: TestChange = {
      suite: test.suite,
      name: test.name,
      before: old?.status ?? null,
      after: test.status,
      message: test.message ?? old?.message ?? null,
    };
    if (!old) list("added", change);
    else if (test.status === "failed") list(old.status === "failed" ? "stillFailing" : "newlyFailing", change);
    else if (old.status === "failed" && test.status === "passed") list("fixed", { ...change, message: old.message });
    else list("unchanged", change);
  }
  for (const test of earlier.values()) {
    list("removed", { suite: test.suite, name: test.name, before: test.status, after: null, message: test.message });
  }
  return result;
}

function keyed(tests: readonly TestCaseEntry[]): Map<string, TestCaseEntry> {
  const map = new Map<string, TestCaseEntry>();
  const seen = new Map<string, number>();
  for (const test of tests) {
    const base = `${test.suite}\u0000${test.name}`;
    const occurrence = seen.get(base) ?? 0;
    seen.set(base, occurrence + 1);
    map.set(occurrence === 0 ? base : `${base}\u0000${occurrence}`, test);
  }
  return map;
}

/** Every test of a report version, read page by page from the extracted structure. */
async function allTests(
  store: ArtifactStore,
  ref: ArtifactRef,
): Promise<{ tests: TestCaseEntry[]; complete: boolean }> {
  const tests: TestCaseEntry[] = [];
  for (let offset = 0; offset < MAX_TESTS; offset += 1000) {
    const page = await store.testCases(ref, { limit: 1000, offset });
    tests.push(...page.items);
    if (tests.length >= page.total || page.items.length === 0) return { tests, complete: true };
  }
  return { tests, complete: false };
}

/** The version a ref names (its latest when it names none), or E_NOT_FOUND. */
async function resolve(store: ArtifactStore, ref: ArtifactRef, kind: "test" | "diff"): Promise<ComparedVersion> {
  const metadata = await store.stat(ref);
  if (!metadata) {
    const version = ref.version === undefined ? "" : ` version ${ref.version}`;
    throw new ArtifactStoreError("E_NOT_FOUND", `no artifact ${ref.specName}/${ref.taskId}/${ref.type}${version}`);
  }
  if (metadata.summary && metadata.summary.kind !== kind) {
    throw new ArtifactStoreError(
      "E_INVALID_INPUT",
      `${ref.specName}/${ref.taskId}/${ref.type} v${metadata.version} is a ${metadata.summary.kind}, not a ${kind === "test" ? "test report" : "diff"}`,
    );
  }
  return { specName: metadata.specName, taskId: metadata.taskId, type: metadata.type, version: metadata.version };
}

/**
 * Compares two test report versions: the tests newly failing, fixed, still failing, added and removed.
 *
 * @example
 * const change = await compareTestReports(store,
 *   { specName: "chat-app", taskId: "task-42", type: "test", version: 1 },
 *   { specName: "chat-app", taskId: "task-42", type: "test", version: 2 });
 * change.newlyFailing.map((test) => test.name);
 */
export async function compareTestReports(
  store: ArtifactStore,
  before: ArtifactRef,
  after: ArtifactRef,
): Promise<TestComparison> {
  const [first, second] = await Promise.all([resolve(store, before, "test"), resolve(store, after, "test")]);
  const [earlier, later] = await Promise.all([allTests(store, first), allTests(store, second)]);
  const result = compareTestCases(earlier.tests, later.tests);
  return {
    kind: "test",
    before: first,
    after: second,
    ...result,
    truncated: result.truncated || !earlier.complete || !later.complete,
  };
}

/** Each file's change in a diff: its entry and a fingerprint of its change lines (paths merged across commits). */
async function fingerprintDiff(
  store: ArtifactStore,
  ref: ArtifactRef,
): Promise<{ files: Map<string, { entry: DiffFileEntry; hash: string }>; truncated: boolean }> {
  const hashes: number[][] = [];
  const extractor = createDiffExtractor({
    onChangeLine(index, line) {
      let state = hashes[index];
      if (!state) {
        state = [0x811c9dc5, 0x01000193, 0];
        hashes[index] = state;
      }
      hashLine(state, line);
    },
  });
  const opened = await store.open(ref);
  const reader = opened.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    extractor.write(value);
  }
  const { files, summary } = extractor.finish();
  const byPath = new Map<string, { entry: DiffFileEntry; hash: string }>();
  files.forEach((entry, index) => {
    const state = hashes[index] ?? [0, 0, 0];
    const hash = `${entry.status}:${state.map((part) => part.toString(36)).join(".")}`;
    const previous = byPath.get(entry.path);
    byPath.set(
      entry.path,
      previous
        ? {
            entry: {
              ...entry,
              added: previous.entry.added + entry.added,
              removed: previous.entry.removed + entry.removed,
            },
            hash: `${previous.hash}+${hash}`,
          }
        : { entry, hash },
    );
  });
  return { files: byPath, truncated: summary.truncated };
}

/** Two FNV-1a lanes and a length over the line's UTF-16 units and its end: cheap, and enough to tell changes apart. */
function hashLine(state: number[], line: string): void {
  let first = state[0] as number;
  let second = state[1] as number;
  for (let index = 0; index <= line.length; index++) {
    const code = index === line.length ? 10 : line.charCodeAt(index);
    first = Math.imul(first ^ code, 0x01000193) >>> 0;
    second = Math.imul(second ^ code, 0x5bd1e995) >>> 0;
  }
  state[0] = first;
  state[1] = second;
  state[2] = ((state[2] as number) + line.length + 1) >>> 0;
}

/**
 * Compares two diff versions: the files whose change differs (same path, other lines changed),
 * and the files only one of them changes. Line numbers in hunk headers are ignored: the same
 * change at a shifted place is the same change.
 */
export async function compareDiffs(
  store: ArtifactStore,
  before: ArtifactRef,
  after: ArtifactRef,
): Promise<DiffComparison> {
  const [first, second] = await Promise.all([resolve(store, before, "diff"), resolve(store, after, "diff")]);
  const [earlier, later] = await Promise.all([fingerprintDiff(store, first), fingerprintDiff(store, second)]);
  const counts = { differ: 0, onlyBefore: 0, onlyAfter: 0, same: 0 };
  const differ: DiffFileChange[] = [];
  const onlyOne: DiffFileChange[] = [];
  const describe = (file: { entry: DiffFileEntry } | undefined) =>
    file ? { status: file.entry.status, added: file.entry.added, removed: file.entry.removed } : null;
  for (const path of new Set([...earlier.files.keys(), ...later.files.keys()])) {
    const old = earlier.files.get(path);
    const current = later.files.get(path);
    if (old && current && old.hash === current.hash) {
      counts.same++;
      continue;
    }
    if (old && current) counts.differ++;
    else if (old) counts.onlyBefore++;
    else counts.onlyAfter++;
    (old && current ? differ : onlyOne).push({ path, before: describe(old), after: describe(current) });
  }
  const byPath = (a: DiffFileChange, b: DiffFileChange) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const files = [...differ.sort(byPath), ...onlyOne.sort(byPath)];
  return {
    kind: "diff",
    before: first,
    after: second,
    counts,
    files: files.slice(0, COMPARISON_LIST_LIMIT),
    truncated: earlier.truncated || later.truncated || files.length > COMPARISON_LIST_LIMIT,
  };
}

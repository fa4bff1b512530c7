/**
 * A small first version committed with its bytes in one transaction (`commitInline`): the row is
 * committed at its key with its tags, structure and secrets, the bytes read back until dropped;
 * a series that has any row already, or a quota that does not fit, gets nothing (the caller
 * takes the normal path), and nothing of that attempt lands on another version's row.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { CommitInlineInput, MetadataRepository } from "../../src/contracts/metadata-repository.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { makeTempDir } from "../helpers/store.ts";

async function openDatabase() {
  const dir = await makeTempDir("inline-commit");
  const metadata = await openLocalMetadata({ url: join(dir.path, "metadata.db") });
  return {
    metadata: metadata as Required<MetadataRepository>,
    async close() {
      await metadata.close();
      await dir.cleanup();
    },
  };
}

function input(overrides: Partial<CommitInlineInput> = {}): CommitInlineInput {
  const bytes = new TextEncoder().encode("2 tests, 1 failed\n");
  return {
    specName: "chat-app",
    taskId: "1.1",
    type: "log",
    compressed: false,
    mimeType: "text/plain",
    metadata: { run: 7 },
    createdAt: Date.parse("2026-12-07T09:00:00Z"),
    retentionDays: null,
    maxBytes: null,
    storageKey: "chat-app/1.1/log.txt",
    values: {
      size: bytes.length,
      checksum: "a".repeat(64),
      originalSize: bytes.length,
      originalChecksum: "a".repeat(64),
      tags: ["ci", "nightly"],
    },
    bytes,
    structure: {
      summary: {
        kind: "log",
        lines: 1,
        errors: 1,
        warnings: 0,
        firstErrorLine: 1,
        firstErrorOffset: 0,
        firstErrors: [],
        bytesExamined: 18,
        truncated: false,
        parseError: null,
      },
      files: [],
      tests: [],
    },
    secrets: { mode: "flag", findings: [{ rule: "jwt", count: 1, lines: [1] }] },
    ...overrides,
  } as CommitInlineInput;
}

test("a first version commits inline: the row at its key with tags, summary and secrets, its bytes until dropped", async () => {
  const { metadata, close } = await openDatabase();
  try {
    const inline = await metadata.commitInline(input());
    const committed = inline?.record;
    expect(committed?.state).toBe("committed");
    expect(committed?.version).toBe(1);
    // What the quota counts once it committed: this version's stored bytes.
    expect(inline?.usedBytes).toBe(18);
    const found = await metadata.findVersion({ specName: "chat-app", taskId: "1.1", type: "log" });
    expect(found?.id).toBe(committed?.id as number);
    expect(found?.storageKey).toBe("chat-app/1.1/log.txt");
    expect(found?.tags).toEqual(["ci", "nightly"]);
    expect(found?.summary?.kind).toBe("log");
    expect(found?.secrets?.findings[0]?.rule).toBe("jwt");
    expect(await metadata.search({ allTags: ["nightly"], limit: 10 })).toHaveLength(1);
    expect(new TextDecoder().decode((await metadata.readInline(found?.id as number)) ?? new Uint8Array())).toBe(
      "2 tests, 1 failed\n",
    );
    expect(await metadata.inlineTasks(10)).toEqual([{ specName: "chat-app", taskId: "1.1" }]);
    const listed = await metadata.listInline({ specName: "chat-app", taskId: "1.1" });
    expect(listed.map(({ record }) => record)).toEqual(await metadata.listTask("chat-app", "1.1"));
    expect(listed.map(({ bytes }) => bytes?.length)).toEqual([18]);

    await metadata.dropInline([found?.id as number]);
    expect(await metadata.readInline(found?.id as number)).toBeNull();
    expect(await metadata.inlineTasks(10)).toEqual([]);
    // Dropping the bytes leaves the version as it was.
    expect((await metadata.findVersion({ specName: "chat-app", taskId: "1.1", type: "log" }))?.tags).toEqual([
      "ci",
      "nightly",
    ]);
  } finally {
    await close();
  }
});

test("a series with any row already gets nothing inline, and nothing of the attempt lands on that row", async () => {
  const { metadata, close } = await openDatabase();
  try {
    // A pending upload of the same series, reserved the normal way.
    const reserve = () =>
      metadata.reserveVersion({
        specName: "chat-app",
        taskId: "1.1",
        type: "log",
        compressed: false,
        mimeType: "text/plain",
        metadata: {},
        createdAt: Date.now(),
        retentionDays: null,
        location: { keyPrefix: ".store/uploads/chat-app/1.1/v", keySuffix: ".replace.log.txt", uriPrefix: "" },
        reserveBytes: 0,
        maxBytes: null,
      });
    const pending = await reserve();
    expect(await metadata.commitInline(input())).toBeNull();
    expect(await metadata.readInline(pending.id)).toBeNull();
    expect(await metadata.inlineTasks(10)).toEqual([]);
    // The pending upload's number is untouched: its series moved on by one only.
    const next = await reserve();
    expect([pending.version, next.version]).toEqual([1, 2]);
    expect(await metadata.listTestCases(pending.id, { limit: 10, offset: 0 })).toEqual({ items: [], total: 0 });
  } finally {
    await close();
  }
});

test("a first version whose bytes would pass the quota gets nothing inline, not even a version number", async () => {
  const { metadata, close } = await openDatabase();
  try {
    expect(await metadata.commitInline(input({ maxBytes: 10 }))).toBeNull();
    expect(await metadata.findVersion({ specName: "chat-app", taskId: "1.1", type: "log" })).toBeNull();
    expect((await metadata.usageTotals()).bytes).toBe(0);
    // Refused again: still no number used.
    expect(await metadata.commitInline(input({ maxBytes: 10 }))).toBeNull();
    expect((await metadata.commitInline(input({ maxBytes: 1000 })))?.record.version).toBe(1);
    // Another series of the task: first versions both.
    expect(
      await metadata.commitInline(input({ type: "test", storageKey: "chat-app/1.1/test-result.json" })),
    ).not.toBeNull();
    expect(await metadata.commitInline(input())).toBeNull();
    expect((await metadata.inlineTasks(10)).length).toBe(1);
  } finally {
    await close();
  }
});

test("first versions committed in one transaction each get their own bytes, tags, summary and secrets, whichever of them is refused", async () => {
  const { metadata, close } = await openDatabase();
  try {
    const bytes = (text: string) => new TextEncoder().encode(text);
    const version = (taskId: string, overrides: Partial<CommitInlineInput> = {}) =>
      input({
        taskId,
        storageKey: `chat-app/${taskId}/log.txt`,
        bytes: bytes(`log of ${taskId}\n`),
        ...overrides,
        values: { ...input().values, tags: [`task-${taskId}`, "ci"], ...overrides.values },
      });
    expect(await metadata.commitInline(version("taken"))).not.toBeNull();
    // Asked for in one turn: joined into one transaction, refused ones (an existing series, a
    // quota that does not fit) between the others, the last one refused too.
    const results = await Promise.all([
      metadata.commitInline(version("a")),
      metadata.commitInline(version("taken")),
      metadata.commitInline(version("b", { secrets: null })),
      metadata.commitInline(version("too-big", { maxBytes: 1 })),
      metadata.commitInline(version("c", { structure: undefined })),
      metadata.commitInline(version("taken")),
    ]);
    expect(results.map((result) => result?.record.taskId ?? null)).toEqual(["a", null, "b", null, "c", null]);
    for (const taskId of ["a", "b", "c"]) {
      const found = await metadata.findVersion({ specName: "chat-app", taskId, type: "log" });
      const read = await metadata.readInline(found?.id as number);
      expect(new TextDecoder().decode(read ?? new Uint8Array())).toBe(`log of ${taskId}\n`);
      expect(found?.tags).toEqual(["ci", `task-${taskId}`]);
      expect(found?.summary?.kind ?? null).toBe(taskId === "c" ? null : "log");
      expect(found?.secrets?.findings[0]?.rule ?? null).toBe(taskId === "a" || taskId === "c" ? "jwt" : null);
    }
    expect(await metadata.findVersion({ specName: "chat-app", taskId: "too-big", type: "log" })).toBeNull();
    const taken = await metadata.findVersion({ specName: "chat-app", taskId: "taken", type: "log" });
    expect(taken?.version).toBe(1);
    expect(taken?.tags).toEqual(["ci", "task-taken"]);
    expect((await metadata.inlineTasks(10)).map(({ taskId }) => taskId).sort()).toEqual(["a", "b", "c", "taken"]);
  } finally {
    await close();
  }
});

test("a diff's files and a report's test cases committed inline land on their own version, searchable", async () => {
  const { metadata, close } = await openDatabase();
  try {
    const common = { bytesExamined: 10, truncated: false, parseError: null };
    const diff = input({
      taskId: "diff",
      type: "diff",
      storageKey: "chat-app/diff/diff.patch",
      structure: {
        summary: { kind: "diff", files: 1, added: 3, removed: 1, ...common },
        files: [{ path: "src/app.ts", oldPath: null, status: "modified", added: 3, removed: 1, binary: false }],
        tests: [],
      },
    } as Partial<CommitInlineInput>);
    const report = input({
      taskId: "report",
      type: "test",
      storageKey: "chat-app/report/test-results.xml",
      structure: {
        summary: {
          kind: "test",
          format: "junit",
          total: 1,
          passed: 0,
          failed: 1,
          skipped: 0,
          durationMs: 5,
          ...common,
        },
        files: [],
        tests: [{ suite: "app", name: "logs in", status: "failed", durationMs: 5, message: "expected 200" }],
      },
    } as Partial<CommitInlineInput>);
    // Joined in one transaction, with a refused one (its series is taken) between them.
    expect(await metadata.commitInline(input())).not.toBeNull();
    const [first, refused, second] = await Promise.all([
      metadata.commitInline(diff),
      metadata.commitInline(input()),
      metadata.commitInline(report),
    ]);
    expect(refused).toBeNull();
    const diffFiles = await metadata.listDiffFiles(first?.record.id as number, { limit: 10, offset: 0 });
    expect(diffFiles.map(({ path }) => path)).toEqual(["src/app.ts"]);
    const cases = await metadata.listTestCases(second?.record.id as number, { limit: 10, offset: 0 });
    expect(cases.items.map(({ name, status }) => `${name} ${status}`)).toEqual(["logs in failed"]);
    const log = await metadata.findVersion({ specName: "chat-app", taskId: "1.1", type: "log" });
    expect((await metadata.listDiffFiles(log?.id as number, { limit: 10, offset: 0 })).length).toBe(0);
    expect((await metadata.search({ touchedPath: "src/app.ts", limit: 10 })).map(({ id }) => id)).toEqual([
      first?.record.id as number,
    ]);
  } finally {
    await close();
  }
});

/**
 * The storage layout module: what it writes, it reads back. The seed's tree: the current version
 * at `<spec>/<task>/<file>`, kept versions under `versions/v<N>/`, each task's `metadata.json`.
 */
import { describe, expect, test } from "bun:test";
import type { ArtifactMetadata } from "../../src/contracts/types.ts";
import {
  blobLocation,
  currentKey,
  liveChunkKey,
  liveChunkSession,
  parseKey,
  refFromUri,
  taskMetadataKey,
  uploadKey,
  uriFor,
  versionKey,
} from "../../src/core/layout.ts";
import { encodeTaskMetadata, parseTaskMetadata } from "../../src/core/layout-files.ts";
import { BUILT_IN_TYPES } from "../../src/core/settings.ts";
import { refFromUri as cliRefFromUri } from "../../src/runtime/cli-target.ts";

const log = BUILT_IN_TYPES.find((type) => type.name === "log") ?? BUILT_IN_TYPES[0];
if (!log) throw new Error("no built-in types");
const types = new Map(BUILT_IN_TYPES.map((type) => [type.name, type]));
const backend = { name: "memory", uriFor: (key: string) => `s3://bucket/prefix/${key}` };

describe("storage layout", () => {
  test("the seed path, a kept version, an upload and metadata.json are read back as what they name", () => {
    expect(currentKey("chat-app", "1.1", log, true)).toBe("chat-app/1.1/log.txt.gz");
    expect(parseKey(currentKey("chat-app", "1.1", log, true))).toEqual({
      kind: "current",
      specName: "chat-app",
      taskId: "1.1",
      fileName: "log.txt.gz",
    });
    expect(parseKey(versionKey("chat-app", "1.1", 7, log, false))).toEqual({
      kind: "version",
      specName: "chat-app",
      taskId: "1.1",
      version: 7,
      fileName: "log.txt",
    });
    expect(parseKey(uploadKey("chat-app", "1.1", 8, log, true, true))).toMatchObject({
      kind: "upload",
      version: 8,
      keepOlder: true,
    });
    expect(parseKey(uploadKey("chat-app", "1.1", 8, log, true, false))).toMatchObject({ keepOlder: false });
    expect(parseKey(taskMetadataKey("chat-app", "1.1"))).toEqual({
      kind: "task-metadata",
      specName: "chat-app",
      taskId: "1.1",
    });
    expect(parseKey("metadata-index.json")).toEqual({ kind: "index" });
  });

  test("keys the store did not write, and live chunks, are not taken for versions", () => {
    const chunk = liveChunkKey({ specName: "s", taskId: "t", type: "log" }, "session-1", 3, "ab".repeat(32));
    expect(parseKey(chunk)).toBeNull();
    expect(liveChunkSession(chunk)).toBe("session-1");
    expect(parseKey("notes/readme.txt")).toBeNull();
    expect(parseKey("../x/log.txt")).toBeNull();
    expect(parseKey("s/t/other/v1/log.txt")).toBeNull();
    expect(liveChunkSession("s/t/log.txt")).toBeUndefined();
  });

  test("the location the database builds upload keys from gives uploadKey", () => {
    const { keyPrefix, keySuffix } = blobLocation("s", "t", log, true, true);
    expect(`${keyPrefix}12${keySuffix}`).toBe(uploadKey("s", "t", 12, log, true, true));
  });

  test("URIs: the seed path means the current version, ?version=N and versions/vN one version", () => {
    const current = uriFor(backend, { specName: "s", taskId: "t", type: log, compressed: true });
    expect(current).toBe("s3://bucket/prefix/s/t/log.txt.gz");
    expect(refFromUri(backend, types.values(), current)).toEqual({ specName: "s", taskId: "t", type: "log" });
    expect(refFromUri(backend, types.values(), `${current}?version=3`)).toEqual({
      specName: "s",
      taskId: "t",
      type: "log",
      version: 3,
    });
    expect(refFromUri(backend, types.values(), backend.uriFor("s/t/versions/v2/log.txt.gz"))).toMatchObject({
      version: 2,
    });
    expect(refFromUri(backend, types.values(), "s3://other/prefix/s/t/log.txt.gz")).toBeNull();
    expect(refFromUri(backend, types.values(), `${current}?version=x`)).toBeNull();
    // The CLI against a server reads the same forms from the URI's tail.
    expect(cliRefFromUri(current, BUILT_IN_TYPES)).toEqual({ specName: "s", taskId: "t", type: "log" });
    expect(cliRefFromUri(`${current}?version=3`, BUILT_IN_TYPES)).toMatchObject({ version: 3 });
    expect(cliRefFromUri(backend.uriFor("s/t/versions/v2/log.txt.gz"), BUILT_IN_TYPES)).toEqual({
      specName: "s",
      taskId: "t",
      type: "log",
      version: 2,
    });
  });

  test("metadata.json written is read back as the rows to restore, with the seed's field names", () => {
    const metadata: ArtifactMetadata = {
      uri: "ignored",
      specName: "s",
      taskId: "t",
      type: "log",
      version: 2,
      size: 120,
      checksum: "a".repeat(64),
      originalSize: 400,
      originalChecksum: "b".repeat(64),
      compressed: true,
      mimeType: "text/plain",
      tags: ["ci"],
      metadata: { runner: "gha" },
      createdAt: "2026-12-01T10:00:00.000Z",
      expiresAt: null,
      lastAccessedAt: null,
      pinned: true,
      state: "committed",
      integrity: "ok",
    };
    const bytes = encodeTaskMetadata("s", "t", [{ metadata, storageKey: "s/t/versions/v2/log.txt.gz" }]);
    const text = new TextDecoder().decode(bytes);
    const parsed = JSON.parse(text);
    expect(parsed.format_version).toBe(1);
    expect(parsed.artifacts[0]).toMatchObject({
      spec_name: "s",
      task_id: "t",
      original_size: 400,
      mime_type: "text/plain",
    });
    const restored = parseTaskMetadata(text, { specName: "s", taskId: "t" }, types);
    expect(restored).toEqual({
      problems: [],
      restores: [
        {
          specName: "s",
          taskId: "t",
          type: "log",
          version: 2,
          uri: uploadKey("s", "t", 2, log, true, false),
          storageKey: "s/t/versions/v2/log.txt.gz",
          size: 120,
          checksum: "a".repeat(64),
          originalSize: 400,
          originalChecksum: "b".repeat(64),
          compressed: true,
          mimeType: "text/plain",
          metadata: { runner: "gha" },
          tags: ["ci"],
          pinned: true,
          createdAt: Date.parse("2026-12-01T10:00:00.000Z"),
          expiresAt: null,
        },
      ],
    });
    expect(parseTaskMetadata(text, { specName: "s", taskId: "other" }, types)).toMatchObject({
      restores: [],
      problems: [expect.stringContaining("does not describe a version of this task")],
    });
    expect(
      parseTaskMetadata(JSON.stringify({ ...parsed, format_version: 2 }), { specName: "s", taskId: "t" }, types),
    ).toContain("format_version 2");
  });
});

/**
 * The storage layout module: what it writes, it reads back. A change of layout (issue 15's
 * seed tree) is a change of src/core/layout.ts that these round trips keep honest.
 */
import { describe, expect, test } from "bun:test";
import type { ArtifactMetadata } from "../../src/contracts/types.ts";
import {
  blobKey,
  blobLocation,
  encodeSidecar,
  liveChunkKey,
  liveChunkSession,
  parseKey,
  parseSidecar,
  sidecarKey,
} from "../../src/core/layout.ts";
import { BUILT_IN_TYPES } from "../../src/core/settings.ts";

const log = BUILT_IN_TYPES.find((type) => type.name === "log") ?? BUILT_IN_TYPES[0];
if (!log) throw new Error("no built-in types");
const backend = { name: "memory", uriFor: (key: string) => `memory://bucket/${key}` };

describe("storage layout", () => {
  test("a blob key and a sidecar key are read back as what they name", () => {
    expect(parseKey(blobKey("chat-app", "1.1", 7, log, true))).toEqual({
      kind: "blob",
      specName: "chat-app",
      taskId: "1.1",
      version: 7,
      fileName: "log.txt.gz",
    });
    expect(parseKey(sidecarKey("chat-app", "1.1", 7, "log"))).toEqual({
      kind: "sidecar",
      specName: "chat-app",
      taskId: "1.1",
      version: 7,
      type: "log",
    });
  });

  test("keys the store did not write, and live chunks, are not taken for versions", () => {
    const chunk = liveChunkKey({ specName: "s", taskId: "t", type: "log" }, "session-1", 3, "ab".repeat(32));
    expect(parseKey(chunk)).toBeNull();
    expect(liveChunkSession(chunk)).toBe("session-1");
    expect(parseKey("notes/readme.txt")).toBeNull();
    expect(parseKey("../x/v1/log.txt")).toBeNull();
    expect(liveChunkSession("s/t/v1/log.txt")).toBeUndefined();
  });

  test("the location the database builds keys from gives the same key as blobKey", () => {
    const { keyPrefix, keySuffix, uriPrefix } = blobLocation(backend, "s", "t", log, true);
    expect(`${keyPrefix}12${keySuffix}`).toBe(blobKey("s", "t", 12, log, true));
    expect(`${uriPrefix}${keyPrefix}12${keySuffix}`).toBe(backend.uriFor(blobKey("s", "t", 12, log, true)));
  });

  test("a sidecar written is read back as the row to restore", () => {
    const metadata: ArtifactMetadata = {
      uri: backend.uriFor(blobKey("s", "t", 2, log, true)),
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
    const text = new TextDecoder().decode(encodeSidecar(metadata));
    expect(JSON.parse(text).formatVersion).toBe(1);
    expect(parseSidecar(text, { specName: "s", taskId: "t", version: 2, type: log }, backend)).toEqual({
      specName: "s",
      taskId: "t",
      type: "log",
      version: 2,
      uri: metadata.uri,
      storageKey: "s/t/v2/log.txt.gz",
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
      expiresAt: Date.parse("2026-12-01T10:00:00.000Z") + 7 * 86_400_000,
    });
    expect(parseSidecar(text, { specName: "s", taskId: "t", version: 3, type: log }, backend)).toBe(
      "sidecar does not describe this version",
    );
  });
});

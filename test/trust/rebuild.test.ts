/**
 * Rebuild: the metadata database of a populated store (tags, metadata, pins and retagging
 * done after upload, deleted versions) is deleted with its -wal and -shm files; `reindex`
 * — by the CLI on the local store, then over HTTP on a server that started with an empty
 * database — brings back exactly what search returned before, and version numbers keep
 * counting up afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeLog, makeTempDir, randomBytes } from "../helpers/store.ts";
import { figure, runCli, type SearchItem, scaled, searchAll } from "./support.ts";

const KEYS = scaled(60, 400);

/** The searches compared before and after; each is a view a reviewer relies on. */
const QUERIES = [
  { label: "everything", query: "" },
  { label: "one spec", query: "spec=rebuild-1" },
  { label: "one task", query: "spec=rebuild-1&task=task-5" },
  { label: "logs only", query: "type=log" },
  { label: "tag nightly", query: "tag=nightly" },
  { label: "tags ci and nightly", query: "tag=ci&tag=nightly" },
  { label: "tag added after upload", query: "tag=release" },
  { label: "pinned", query: "pinned=1" },
  { label: "latest versions", query: "latest=1" },
] as const;

/** What a version is, leaving out what a rebuild cannot know (row ids, last access). */
function comparable(item: SearchItem) {
  const { uri, version, size, checksum, originalSize, originalChecksum, compressed, mimeType, tags, metadata } = item;
  const { pinned, integrity, createdAt, expiresAt } = item;
  return {
    uri,
    version,
    size,
    checksum,
    originalSize,
    originalChecksum,
    compressed,
    mimeType,
    tags,
    metadata,
    pinned,
    integrity,
    createdAt,
    expiresAt,
  };
}

async function snapshot(url: string) {
  const views: Record<string, ReturnType<typeof comparable>[]> = {};
  for (const { label, query } of QUERIES) {
    views[label] = (await searchAll(url, query)).map(comparable).sort((a, b) => a.uri.localeCompare(b.uri));
  }
  return views;
}

describe("rebuilding lost metadata from storage", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let basePath: string;
  let env: Record<string, string>;
  let server: ServerProcess;
  let before: Awaited<ReturnType<typeof snapshot>>;
  let versionCount = 0;

  const deleteDatabase = async () => {
    for (const suffix of ["", "-wal", "-shm"])
      await rm(join(basePath, ".store", `metadata.db${suffix}`), { force: true });
  };

  beforeAll(async () => {
    dir = await makeTempDir("trust-rebuild");
    basePath = join(dir.path, "store");
    env = { HOME: dir.path, ARTIFACT_STORE_BASE_PATH: basePath, ARTIFACT_STORE_VERSIONING_ENABLED: "true" };
    server = await startServerProcess({ runtime: "bun", basePath, env });
    for (let index = 0; index < KEYS; index++) {
      const path = `rebuild-${index % 4}/task-${index}/${(["log", "diff", "test"] as const)[index % 3]}`;
      for (let round = 0; round < 1 + (index % 3); round++) {
        const headers: Record<string, string> = {
          "X-Artifact-Tags": ["ci", index % 2 ? "nightly" : "pr-7", `round-${round}`].join(","),
          "X-Artifact-Metadata": JSON.stringify({ runner: `gha-${index}`, attempt: round, nested: { ok: true } }),
        };
        const body = index % 5 === 0 ? randomBytes(2000 + index) : makeLog(10 + index, index * 7 + round);
        const response = await fetch(`${server.url}/v1/artifacts/${path}`, { method: "PUT", body, headers });
        expect(response.status).toBe(201);
      }
      // Changes after upload: pins and tags, then deletions (some of them the newest version).
      if (index % 7 === 0) {
        const response = await fetch(`${server.url}/v1/artifacts/${path}?version=1`, {
          method: "PATCH",
          body: JSON.stringify({ pinned: true, addTags: ["release"], removeTags: ["ci"] }),
        });
        expect(response.status).toBe(200);
      }
      if (index % 3 === 2 && index % 2 === 0) {
        const response = await fetch(`${server.url}/v1/artifacts/${path}?version=3`, { method: "DELETE" });
        expect(response.status).toBe(200);
      }
    }
    before = await snapshot(server.url);
    versionCount = before.everything?.length ?? 0;
  });
  afterAll(async () => {
    await server?.stop();
    await dir?.cleanup();
  });

  test("the CLI's reindex on the local store restores every version, tag, pin and metadata after the database is deleted", async () => {
    await server.stop();
    await deleteDatabase();
    const reindex = await runCli(["reindex", "--json"], env);
    expect(reindex.status).toBe(0);
    const report = JSON.parse(reindex.stdout) as { restored: string[]; skipped: unknown[]; metadataFiles: number };
    expect(report.skipped).toEqual([]);
    expect(report.restored.length).toBe(versionCount);
    server = await startServerProcess({ runtime: "bun", basePath, env });
    const after = await snapshot(server.url);
    for (const { label } of QUERIES) expect({ label, items: after[label] }).toEqual({ label, items: before[label] });
    figure(
      `rebuild (CLI reindex): database deleted, ${report.restored.length}/${versionCount} versions restored, ` +
        `${QUERIES.length} searches identical before and after`,
    );
  });

  test("after a rebuild a new upload gets a version number above every restored one", async () => {
    const path = "rebuild-0/task-0/log";
    const highest = Math.max(
      ...(before.everything ?? [])
        .filter((item) => item.uri.includes("/rebuild-0/task-0/log.txt"))
        .map((item) => item.version),
    );
    const response = await fetch(`${server.url}/v1/artifacts/${path}`, { method: "PUT", body: "after the rebuild\n" });
    expect(response.status).toBe(201);
    expect((await response.json()).version).toBe(highest + 1);
    before = await snapshot(server.url);
    versionCount++;
  });

  test("reindex over HTTP fills a server that started on an empty database with what search returned before", async () => {
    await server.stop();
    await deleteDatabase();
    server = await startServerProcess({ runtime: "bun", basePath, env });
    expect(await searchAll(server.url)).toEqual([]);
    const dry = await fetch(`${server.url}/v1/maintenance/reindex?dry_run=1`, { method: "POST" });
    expect((await dry.json()).restored.length).toBe(versionCount);
    expect(await searchAll(server.url)).toEqual([]);
    const response = await fetch(`${server.url}/v1/maintenance/reindex`, { method: "POST" });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { restored: string[]; skipped: unknown[] };
    expect(report.skipped).toEqual([]);
    expect(report.restored.length).toBe(versionCount);
    const after = await snapshot(server.url);
    for (const { label } of QUERIES) expect({ label, items: after[label] }).toEqual({ label, items: before[label] });
    const stats = (await (await fetch(`${server.url}/v1/stats`)).json()) as { artifacts: number };
    expect(stats.artifacts).toBe(versionCount);
    figure(
      `rebuild (API reindex): database deleted again, ${report.restored.length}/${versionCount} versions restored, ` +
        `${QUERIES.length} searches identical before and after`,
    );
  });
});

/**
 * `convert-layout` on a store made by the release before the seed's tree: its sources are taken
 * from git (the commit before the change), run with Bun to upload into a fresh base_path, and the
 * store is then opened by today's code and converted: in place, resumable, nothing lost.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdir, readdir, rename, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createFsBackend } from "../../src/backends/fs.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { makeTempDir } from "../helpers/store.ts";

/** The last commit whose store writes `<spec>/<task>/v<N>/` folders with sidecars. */
const PREVIOUS_RELEASE = "10e834a3b80d86ab7bd96e931dc3939289855e5a";
const repoRoot = resolve(import.meta.dir, "..", "..");
const bun = join(repoRoot, "node_modules", ".bin", "bun");

const OLD_STORE_SCRIPT = `
import { openArtifactStore } from "./src/runtime/local.ts";
const store = await openArtifactStore({ overrides: { base_path: process.argv[2], versioning_enabled: true }, env: {} });
for (const round of [1, 2]) {
  for (const type of ["diff", "log", "test"]) {
    const content = type === "test" ? '{"round":' + round + '}' : type + " round " + round + "\\n";
    await store.upload({ specName: "chat-app", taskId: "1.1", type, content, tags: ["r" + round] });
  }
}
await store.upload({ specName: "chat-app", taskId: "1.2", type: "log", content: "other task\\n" });
await store.update({ specName: "chat-app", taskId: "1.1", type: "log", version: 1 }, { pinned: true });
await store.close();
`;

async function tree(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (directory: string, prefix: string) => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const key = `${prefix}${entry.name}`;
      if (key === ".store" || key === "metadata-index.json") continue;
      if (entry.isDirectory()) await walk(join(directory, entry.name), `${key}/`);
      else found.push(key);
    }
  };
  await walk(root, "");
  return found.sort();
}

async function openStore(root: string) {
  return createArtifactStore({
    backend: createFsBackend({ root }),
    metadata: await openLocalMetadata({ url: join(root, ".store", "metadata.db") }),
    config: { versioningEnabled: true },
  });
}

describe("convert-layout on a store made by the previous release", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let root: string;
  beforeAll(async () => {
    dir = await makeTempDir("convert-layout");
    const oldCode = join(dir.path, "previous-release");
    await mkdir(oldCode);
    const archive = spawnSync("git", ["-C", repoRoot, "archive", PREVIOUS_RELEASE, "src", "package.json"], {
      maxBuffer: 1 << 28,
    });
    expect(archive.status).toBe(0);
    expect(spawnSync("tar", ["-x", "-C", oldCode], { input: archive.stdout }).status).toBe(0);
    await symlink(join(repoRoot, "node_modules"), join(oldCode, "node_modules"));
    await writeFile(join(oldCode, "make-store.ts"), OLD_STORE_SCRIPT);
    root = join(dir.path, "artifacts");
    const made = spawnSync(bun, ["make-store.ts", root], { cwd: oldCode, encoding: "utf8" });
    expect(made.stderr).toBe("");
    expect(made.status).toBe(0);
  });
  afterAll(() => dir.cleanup());

  test("the old store has v<N>/ folders and sidecars; the conversion leaves the seed's tree, resumable", async () => {
    expect(await tree(root)).toContain("chat-app/1.1/v1/log.metadata.json");
    // An interrupted run: one version already renamed to its new place, its row not re-keyed yet.
    await mkdir(join(root, "chat-app", "1.1", "versions", "v1"), { recursive: true });
    await rename(join(root, "chat-app/1.1/v1/diff.txt.gz"), join(root, "chat-app/1.1/versions/v1/diff.txt.gz"));

    const store = await openStore(root);
    const dry = await store.convertLegacyLayout({ dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, converted: 7, skipped: [] });
    const report = await store.convertLegacyLayout();
    expect(report).toMatchObject({ converted: 7, sidecarsRemoved: 7, tasks: 2, skipped: [] });
    expect(await tree(root)).toEqual([
      "chat-app/1.1/diff.txt.gz",
      "chat-app/1.1/log.txt.gz",
      "chat-app/1.1/metadata.json",
      "chat-app/1.1/test-result.json.gz",
      "chat-app/1.1/versions/v1/diff.txt.gz",
      "chat-app/1.1/versions/v1/log.txt.gz",
      "chat-app/1.1/versions/v1/test-result.json.gz",
      "chat-app/1.2/log.txt.gz",
      "chat-app/1.2/metadata.json",
    ]);
    expect(await store.downloadText(`file://${root}/chat-app/1.1/log.txt.gz`)).toBe("log round 2\n");
    expect(await store.downloadText({ specName: "chat-app", taskId: "1.1", type: "diff", version: 1 })).toBe(
      "diff round 1\n",
    );
    expect((await store.search({ pinned: true })).map((item) => [item.type, item.version])).toEqual([["log", 1]]);
    expect(await store.verify()).toMatchObject({ checked: 7, corrupt: [] });
    // Again: nothing left to do.
    expect(await store.convertLegacyLayout()).toMatchObject({ converted: 0, sidecarsRemoved: 0, skipped: [] });
    await store.close();
  });
});

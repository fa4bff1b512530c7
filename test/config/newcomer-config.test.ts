/**
 * Config files as people write them: YAML 1.1 booleans (PyYAML's yes/no/on/off), relative
 * paths next to the file, and what `artifact-store config` shows for compression_threads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { bunBinary, repoRoot } from "../helpers/server-process.ts";
import { makeTempDir } from "../helpers/store.ts";

let dir: { path: string; cleanup(): Promise<void> };
beforeAll(async () => {
  dir = await makeTempDir("newcomer-config");
});
afterAll(() => dir.cleanup());

async function configFile(name: string, yaml: string): Promise<string> {
  const folder = join(dir.path, name);
  await mkdir(folder, { recursive: true });
  const path = join(folder, "artifact-store.yaml");
  await writeFile(path, yaml);
  return path;
}

describe("boolean keys", () => {
  test("take YAML 1.1's yes/no/on/off/y/n in any case, from the file and from variables", async () => {
    const path = await configFile(
      "booleans",
      [
        "artifact_store:",
        "  versioning_enabled: yes",
        "  compression_enabled: Off",
        "  verify_checksum: ON",
        "  s3: { force_path_style: y }",
      ].join("\n"),
    );
    const { config } = await loadConfig({ path, env: {} });
    expect(config.versioningEnabled).toBe(true);
    expect(config.compressionEnabled).toBe(false);
    expect(config.verifyChecksum).toBe(true);
    expect(config.s3.forcePathStyle).toBe(true);
    const fromEnv = await loadConfig({ path, env: { ARTIFACT_STORE_VERSIONING_ENABLED: "no" } });
    expect(fromEnv.config.versioningEnabled).toBe(false);
  });

  test("anything else is still an error naming the key", async () => {
    const path = await configFile("bad-boolean", "artifact_store:\n  versioning_enabled: maybe\n");
    await expect(loadConfig({ path, env: {} })).rejects.toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining("versioning_enabled"),
    });
  });
});

describe("relative paths", () => {
  test("a relative base_path in the file is next to the file, wherever the command runs", async () => {
    const path = await configFile(
      "relative",
      [
        "artifact_store:",
        "  base_path: data/artifacts",
        "  gcs: { credentials_file: keys/gcs.json }",
        "  metadata: { url: db/metadata.db }",
      ].join("\n"),
    );
    const folder = join(dir.path, "relative");
    const { config } = await loadConfig({ path, env: {} });
    expect(config.basePath).toBe(join(folder, "data", "artifacts"));
    expect(config.gcs.credentialsFile).toBe(join(folder, "keys", "gcs.json"));
    expect(config.metadata.url).toBe(join(folder, "db", "metadata.db"));
    // The same file read by the CLI from another directory says the same.
    const shown = spawnSync(bunBinary, [join(repoRoot, "src/runtime/cli.ts"), "config", "--config", path], {
      encoding: "utf8",
      cwd: dir.path,
      env: { PATH: process.env.PATH ?? "", HOME: dir.path },
    });
    expect(JSON.parse(shown.stdout).basePath).toBe(join(folder, "data", "artifacts"));
  });

  test("~, absolute paths, URLs and variables keep their meaning", async () => {
    const path = await configFile(
      "kept",
      ["artifact_store:", "  base_path: ~/artifacts", "  metadata: { url: http://127.0.0.1:8080 }"].join("\n"),
    );
    const { config } = await loadConfig({ path, env: { HOME: dir.path } });
    expect(config.metadata.url).toBe("http://127.0.0.1:8080");
    expect(config.basePath.endsWith("/artifacts")).toBe(true);
    expect(config.basePath.startsWith(join(dir.path, "kept"))).toBe(false);
    const fromEnv = await loadConfig({ path, env: { ARTIFACT_STORE_BASE_PATH: "/srv/artifacts" } });
    expect(fromEnv.config.basePath).toBe("/srv/artifacts");
  });
});

describe("artifact-store config", () => {
  test("shows compression_threads as auto, not null; live_log_idle_expiry has its documented default", async () => {
    const shown = spawnSync(bunBinary, [join(repoRoot, "src/runtime/cli.ts"), "config"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: dir.path },
    });
    expect(shown.status).toBe(0);
    const config = JSON.parse(shown.stdout);
    expect(config.compressionThreads).toBe("auto");
    expect(config.liveLogIdleSeconds).toBe(86_400);
    const path = await configFile("idle", "artifact_store:\n  live_log_idle_expiry: 2h\n");
    expect((await loadConfig({ path, env: {} })).config.liveLogIdleSeconds).toBe(7200);
  });
});

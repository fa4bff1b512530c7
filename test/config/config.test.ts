import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../../src/config/load.ts";
import { applyEnvOverrides, DEFAULT_CONFIG_YAML, parseByteSize, parseConfig } from "../../src/config/schema.ts";
import { openArtifactStore } from "../../src/runtime/local.ts";
import { makeTempDir } from "../helpers/store.ts";

const expectConfigError = (run: () => unknown, ...fragments: string[]) => {
  let message = "";
  try {
    run();
  } catch (error) {
    expect((error as { code?: string }).code).toBe("E_CONFIG");
    message = (error as Error).message;
  }
  for (const fragment of fragments) expect(message).toContain(fragment);
};

describe("config", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir("config");
  });
  afterAll(() => dir.cleanup());

  test("defaults are the seed's: filesystem under ~/.necrocode/artifacts, compression and verification on, retention 30/7/14, 100 GB quota", async () => {
    const { config, source } = await loadConfig({ env: { HOME: homedir() }, path: undefined });
    expect(source).toBeNull();
    expect(config).toMatchObject({
      backendType: "filesystem",
      basePath: join(homedir(), ".necrocode", "artifacts"),
      compressionEnabled: true,
      verifyChecksum: true,
      versioningEnabled: false,
      storageQuota: { maxBytes: 100 * 1024 ** 3, warnThreshold: 0.8 },
    });
    expect(config.types.map((type) => [type.name, type.retentionDays])).toEqual([
      ["diff", 30],
      ["log", 7],
      ["test", 14],
    ]);
    expect(config.server).toMatchObject({ host: "127.0.0.1", port: 8787, tokens: [] });
  });

  test("the seed's YAML file is read under artifact_store:, and ~ is expanded", async () => {
    const path = join(dir.path, "artifact-store.yaml");
    await writeFile(
      path,
      `# the seed's example
artifact_store:
  backend_type: filesystem
  base_path: ~/ci-artifacts
  compression_enabled: true
  verify_checksum: true
  versioning_enabled: true
  retention_policy:
    diff: 60
    log: 3
    test: 14
  storage_quota:
    max_size_gb: 2.5
    warn_threshold: 0.9
  types:
    coverage: { file_name: coverage.json, mime_type: application/json, retention_days: 10 }
`,
    );
    const { config, source } = await loadConfig({ path, env: {} });
    expect(source).toBe(path);
    expect(config.basePath).toBe(join(homedir(), "ci-artifacts"));
    expect(config.versioningEnabled).toBe(true);
    expect(config.storageQuota).toEqual({
      maxBytes: Math.floor(2.5 * 1024 ** 3),
      warnThreshold: 0.9,
      minFreeBytes: 256 * 1024 ** 2,
      reserveBytes: 16 * 1024 ** 2,
    });
    expect(config.types.map((type) => `${type.name}:${type.fileName}:${type.retentionDays}`)).toEqual([
      "diff:diff.txt:60",
      "log:log.txt:3",
      "test:test-result.json:14",
      "coverage:coverage.json:10",
    ]);
  });

  test("ARTIFACT_STORE_* variables override the file, with __ between levels", async () => {
    const path = join(dir.path, "override.yaml");
    await writeFile(path, "artifact_store:\n  compression_enabled: true\n  s3:\n    bucket: from-file\n");
    const { config } = await loadConfig({
      path,
      env: {
        ARTIFACT_STORE_COMPRESSION_ENABLED: "false",
        ARTIFACT_STORE_S3__BUCKET: "from-env",
        ARTIFACT_STORE_RETENTION_POLICY__LOG: "2",
        ARTIFACT_STORE_SERVER__PORT: "9000",
        ARTIFACT_STORE_TOKEN: "not a config key, used by the CLI",
        UNRELATED: "x",
      },
    });
    expect(config.compressionEnabled).toBe(false);
    expect(config.s3.bucket).toBe("from-env");
    expect(config.types.find((type) => type.name === "log")?.retentionDays).toBe(2);
    expect(config.server.port).toBe(9000);
  });

  test("an explicit config file that does not exist is an error, the default one is optional", async () => {
    await expect(loadConfig({ path: join(dir.path, "missing.yaml"), env: {} })).rejects.toThrow(
      /Cannot read config file/,
    );
  });

  test("invalid YAML names the file", async () => {
    const path = join(dir.path, "broken.yaml");
    await writeFile(path, "artifact_store:\n  base_path: [unclosed\n");
    await expect(loadConfig({ path, env: {} })).rejects.toThrow(/broken.yaml is not valid YAML/);
  });

  test("validation errors name the key and the expected form", () => {
    expectConfigError(
      () => parseConfig({ artifact_store: { backend_type: "ftp" } }),
      "artifact_store.backend_type",
      "filesystem | s3 | gcs | memory",
      '"ftp"',
    );
    expectConfigError(
      () => parseConfig({ artifact_store: { compression_enabled: "maybe" } }),
      "artifact_store.compression_enabled",
      "true or false",
    );
    expectConfigError(
      () => parseConfig({ artifact_store: { storage_quota: { warn_threshold: 2 } } }),
      "artifact_store.storage_quota.warn_threshold",
      "<= 1",
    );
    expectConfigError(
      () => parseConfig({ artifact_store: { storage_quota: { max_size_gb: -1 } } }),
      "artifact_store.storage_quota.max_size_gb",
    );
    expectConfigError(
      () => parseConfig({ artifact_store: { retention_policy: { logs: 3 } } }),
      "artifact_store.retention_policy.logs",
      "known artifact type",
    );
    expectConfigError(
      () => parseConfig({ artifact_store: { retention_policy: { log: 0 } } }),
      "positive number of days",
    );
    expectConfigError(() => parseConfig({ artifact_store: { server: { port: 70000 } } }), "artifact_store.server.port");
    expectConfigError(
      () => parseConfig({ artifact_store: { server: { body_limit: "lots" } } }),
      "artifact_store.server.body_limit",
      "byte size",
    );
    expectConfigError(() => parseConfig({ artifact_store: { backend_type: "s3" } }), "artifact_store.s3.bucket");
    expectConfigError(
      () => parseConfig({ artifact_store: { server: { tokens: [{ name: "ci", sha256: "abc", scopes: ["read"] }] } } }),
      "artifact_store.server.tokens[0].sha256",
    );
    expectConfigError(
      () => parseConfig({ artifact_store: { types: { coverage: { file_name: "diff.txt" } } } }),
      "file_name no other type uses",
    );
    expectConfigError(
      () => parseConfig({ artifact_store: { compression_threads: "many" } }),
      "artifact_store.compression_threads",
      '"auto" or an integer from 0 to 64',
    );
  });

  test("compression_threads: auto (the default) leaves the choice to the runtime; a count or 0 is kept", () => {
    expect(parseConfig({}).compressionThreads).toBeNull();
    expect(parseConfig({ artifact_store: { compression_threads: "auto" } }).compressionThreads).toBeNull();
    expect(parseConfig({ artifact_store: { compression_threads: 3 } }).compressionThreads).toBe(3);
    expect(parseConfig({ artifact_store: { compression_threads: 0 } }).compressionThreads).toBe(0);
  });

  test("a misspelt key is an error with a suggestion, not a silent default", () => {
    expectConfigError(
      () => parseConfig({ artifact_store: { compresion_enabled: false } }),
      "unknown key artifact_store.compresion_enabled",
      "did you mean artifact_store.compression_enabled",
    );
    expectConfigError(() => parseConfig({ artifact_store: { s3: { bucekt: "x" } } }), "artifact_store.s3.bucekt");
    expectConfigError(() => parseConfig({ artifactstore: {} }), "unknown top-level key artifactstore");
  });

  test("the defaults `artifact-store config --defaults` prints are valid and are the defaults", () => {
    expect(parseConfig(parseYaml(DEFAULT_CONFIG_YAML))).toEqual(parseConfig({}));
  });

  test("sizes and durations read the way people write them", () => {
    expect(parseByteSize("5GiB")).toBe(5 * 1024 ** 3);
    expect(parseByteSize("100 MB")).toBe(100_000_000);
    expect(parseByteSize(1024)).toBe(1024);
    expect(parseByteSize("12 parsecs")).toBeUndefined();
    const config = parseConfig({
      artifact_store: { server: { cleanup_interval: "15m", shutdown_timeout: 5, body_limit: "1MiB" } },
    });
    expect(config.server.cleanupIntervalSeconds).toBe(900);
    expect(config.server.shutdownTimeoutSeconds).toBe(5);
    expect(config.server.bodyLimit).toBe(1024 * 1024);
  });

  test("env overrides parse JSON values and keep other strings as they are", () => {
    expect(
      applyEnvOverrides(
        {},
        {
          ARTIFACT_STORE_SERVER__TOKENS: '[{"name":"ci","sha256":"x","scopes":["read"]}]',
          ARTIFACT_STORE_BASE_PATH: "/srv/a",
        },
      ),
    ).toEqual({
      artifact_store: { server: { tokens: [{ name: "ci", sha256: "x", scopes: ["read"] }] }, base_path: "/srv/a" },
    });
  });

  test("openArtifactStore opens a working store from a config file alone", async () => {
    const base = join(dir.path, "store-from-config");
    await mkdir(base, { recursive: true });
    const path = join(dir.path, "open.yaml");
    await writeFile(path, `artifact_store:\n  base_path: ${base}\n  versioning_enabled: true\n`);
    const store = await openArtifactStore({ path, env: {} });
    expect(store.configSource).toBe(path);
    const uri = await store.upload("1.1", "chat-app", "log", "hello\n");
    expect(uri).toBe(`file://${base}/chat-app/1.1/log.txt.gz`);
    expect(await store.downloadText(uri)).toBe("hello\n");
    await store.close();
    // Reopening finds what was stored: metadata lives in <base_path>/.store/metadata.db.
    const reopened = await openArtifactStore({ path, env: {} });
    // Search names the version (versioning is on); the positional upload's URI means the current one.
    expect((await reopened.search({ specName: "chat-app" })).map((item) => item.uri)).toEqual([`${uri}?version=1`]);
    await reopened.close();
  });
});

/**
 * Reads the YAML config file and the environment (Bun and Node). The edge entry validates
 * its bindings with `parseConfig` + `applyEnvOverrides` directly.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { ArtifactStoreError } from "../contracts/errors.ts";
import { type ArtifactStoreConfig, applyEnvOverrides, parseConfig } from "./schema.ts";

/** `~/.necrocode/config/artifact-store.yaml` */
export function defaultConfigPath(): string {
  return join(homedir(), ".necrocode", "config", "artifact-store.yaml");
}

export interface LoadConfigOptions {
  /** Config file; default `$ARTIFACT_STORE_CONFIG` or `~/.necrocode/config/artifact-store.yaml` (optional); null reads no file. */
  path?: string | null;
  /** Environment to read `ARTIFACT_STORE_*` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Raw keys applied last, in the YAML's spelling (e.g. `{ base_path: "/tmp/x" }`). */
  overrides?: Record<string, unknown>;
}

export interface LoadedConfig {
  config: ArtifactStoreConfig;
  /** The file read, or null when none existed and defaults were used. */
  source: string | null;
}

/**
 * @example
 * const { config, source } = await loadConfig();
 * console.log(`config from ${source ?? "defaults"}: ${config.basePath}`);
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const explicitPath = options.path ?? env.ARTIFACT_STORE_CONFIG;
  const path = resolve(expandHome(explicitPath ?? defaultConfigPath()));
  const document = options.path === null ? null : await readConfigFile(path, explicitPath !== undefined);
  const source = document === null ? null : path;
  let raw = applyEnvOverrides(document ?? {}, env);
  if (options.overrides) {
    raw = { ...raw, artifact_store: { ...(raw.artifact_store as object), ...options.overrides } };
  }
  const config = parseConfig(raw);
  config.basePath = resolve(expandHome(config.basePath));
  if (config.gcs.credentialsFile) config.gcs.credentialsFile = resolve(expandHome(config.gcs.credentialsFile));
  if (config.metadata.url && !/^[a-z]+:/i.test(config.metadata.url))
    config.metadata.url = resolve(expandHome(config.metadata.url));
  return { config, source };
}

/** The parsed YAML, or null when the (default, optional) file does not exist. */
async function readConfigFile(path: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT" && !required) return null;
    throw new ArtifactStoreError("E_CONFIG", `Cannot read config file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ArtifactStoreError("E_CONFIG", `Invalid config: ${path} is not valid YAML: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function expandHome(path: string): string {
  if (path === "~") return homedir();
  if (path.startsWith("~/")) return join(homedir(), path.slice(2));
  return path;
}

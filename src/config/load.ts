/**
 * Reads the YAML config file and the environment (Bun and Node). The edge entry validates
 * its bindings with `parseConfig` + `applyEnvOverrides` directly.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
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
  if (document !== null) resolveRelativePaths(document, dirname(path));
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

/**
 * A relative path written in the config file (base_path, gcs.credentials_file, a metadata.url
 * that is a file) means a path next to the file, wherever the command runs from; `~` still
 * means the home directory. Paths from variables and overrides keep the current directory.
 */
function resolveRelativePaths(document: unknown, folder: string): void {
  if (typeof document !== "object" || document === null) return;
  const record = document as Record<string, unknown>;
  const root =
    typeof record.artifact_store === "object" && record.artifact_store !== null ? record.artifact_store : record;
  const nearFile = (owner: unknown, key: string, isPath: (value: string) => boolean = () => true) => {
    if (typeof owner !== "object" || owner === null) return;
    const section = owner as Record<string, unknown>;
    const value = section[key];
    if (typeof value !== "string" || value === "" || value.startsWith("~") || isAbsolute(value) || !isPath(value))
      return;
    section[key] = resolve(folder, value);
  };
  const sections = root as Record<string, unknown>;
  nearFile(sections, "base_path");
  nearFile(sections.gcs, "credentials_file");
  nearFile(sections.metadata, "url", (value) => !/^[a-z][a-z0-9+.-]*:/i.test(value));
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
  // The YAML parser is loaded only when there is a file to parse (most servers run on defaults and env).
  const { parse: parseYaml } = await import("yaml");
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

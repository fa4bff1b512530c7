/**
 * The edge entry's configuration: the Worker's bindings read with the schema of the
 * `ARTIFACT_STORE_*` environment variables, and what Workers need on top (an object-store
 * backend, a remote metadata URL, no wrangler.toml placeholders left). Errors name the binding
 * to fix and never quote a configured value.
 */
import { type ArtifactStoreConfig, applyEnvOverrides, parseConfig } from "../config/schema.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";

/** The Worker's bindings: `ARTIFACT_STORE_*` config, credentials, and anything else (ignored). */
export type WorkerEnv = Record<string, unknown>;

/** Bindings read besides `ARTIFACT_STORE_*`. */
export const CREDENTIAL_BINDINGS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  /** A Google service-account key (the JSON file's text), as a secret. */
  "GCS_SERVICE_ACCOUNT_KEY",
  "STORAGE_EMULATOR_HOST",
  /** `debug`, `info` (default), `warn` or `error`. */
  "LOG_LEVEL",
] as const;

const REMOTE_METADATA_URL = /^(libsql|https?|wss?):\/\//i;

/**
 * The config the bindings describe, checked with the same schema as the YAML file and the
 * environment of the Bun and Node servers, plus what Workers need: an object-store backend and
 * a remote metadata URL. Non-string bindings (JSON `[vars]`) are read as their JSON.
 *
 * @example
 * const config = configFromBindings({ ARTIFACT_STORE_BACKEND_TYPE: "s3", ARTIFACT_STORE_S3__BUCKET: "ci", … });
 */
export function configFromBindings(env: WorkerEnv): ArtifactStoreConfig {
  const placeholders = Object.keys(env)
    .filter((name) => isSettingBinding(name) && PLACEHOLDER.test(bindingText(env[name])))
    .sort();
  if (placeholders.length > 0) {
    throw misconfigured(
      placeholders,
      `${placeholders.join(", ")} still ${placeholders.length === 1 ? "holds" : "hold"} a <placeholder> from wrangler.toml: replace it under [vars] (or override it in .dev.vars for wrangler dev)`,
    );
  }
  const variables: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("ARTIFACT_STORE_")) continue;
    if (typeof value === "string") variables[name] = value;
    else if (typeof value === "number" || typeof value === "boolean" || isJsonValue(value)) {
      variables[name] = JSON.stringify(value);
    }
  }
  let config: ArtifactStoreConfig;
  try {
    config = parseConfig(applyEnvOverrides({}, variables));
  } catch (error) {
    throw settingError(error);
  }
  if (config.backendType !== "s3" && config.backendType !== "gcs") {
    throw misconfigured(
      ["ARTIFACT_STORE_BACKEND_TYPE"],
      "ARTIFACT_STORE_BACKEND_TYPE must be s3 (AWS S3, R2, MinIO…) or gcs on Workers: the filesystem and memory backends are not available there (no filesystem, and memory would not outlive an isolate)",
    );
  }
  const url = config.metadata.url;
  if (!url || !REMOTE_METADATA_URL.test(url)) {
    throw misconfigured(
      ["ARTIFACT_STORE_METADATA__URL"],
      "ARTIFACT_STORE_METADATA__URL must be the libsql://, https:// or wss:// URL of a libSQL server (Turso, sqld; http:// or libsql://…?tls=0 for a local sqld): Workers have no filesystem for a local database. The server's token goes in the secret ARTIFACT_STORE_METADATA__AUTH_TOKEN",
    );
  }
  if (config.metadata.syncUrl) {
    throw misconfigured(
      ["ARTIFACT_STORE_METADATA__SYNC_URL"],
      "ARTIFACT_STORE_METADATA__SYNC_URL: metadata.sync_url (an embedded replica) needs a local file, which Workers do not have; remove it",
    );
  }
  return config;
}

/** `<ACCOUNT_ID>`, `<org>`, `<sha256 of the CI token>`: what wrangler.toml ships with. */
// Not a regular expression's named group (`(?<name>…)`, `\k<name>`), which config may hold.
const PLACEHOLDER = /(?<![?k\\])<[A-Za-z][\w '.-]{0,58}>/;

export function isSettingBinding(name: string): boolean {
  return name.startsWith("ARTIFACT_STORE_") || (CREDENTIAL_BINDINGS as readonly string[]).includes(name);
}

function bindingText(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "");
}

/**
 * A configuration error naming the bindings to fix. Its message never holds a configured value,
 * so the Worker can say it to the caller as it is.
 */
export function misconfigured(settings: readonly string[], message: string): ArtifactStoreError {
  return new ArtifactStoreError("E_CONFIG", message, { details: { settings } });
}

/**
 * A config-schema error (`artifact_store.s3.bucket must be …`) as the binding to fix, without the
 * value it quotes.
 */
function settingError(error: unknown): ArtifactStoreError {
  if (!(error instanceof ArtifactStoreError) || typeof error.details?.key !== "string") {
    return misconfigured([], "the ARTIFACT_STORE_* bindings are not a valid configuration");
  }
  const path = error.details.key.replace(/^artifact_store\./, "").replace(/\[.*$/, "");
  const setting = `ARTIFACT_STORE_${path.split(".").join("__").toUpperCase()}`;
  const expected = error.details.expected;
  return new ArtifactStoreError(
    "E_CONFIG",
    typeof expected === "string"
      ? `${setting} must be ${expected} (${error.details.key})`
      : `${setting} is not a setting (${error.details.key}): check its spelling`,
    { cause: error, details: { settings: [setting] } },
  );
}

/** What changes the store: config and credential bindings (other bindings are ignored). */
export function fingerprintOf(env: WorkerEnv): string {
  const relevant = Object.keys(env).filter(isSettingBinding).sort();
  return JSON.stringify(relevant.map((name) => [name, env[name]]));
}

function isJsonValue(value: unknown): boolean {
  if (Array.isArray(value)) return true;
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Configuration: the seed's `artifact_store:` keys plus the sections DESIGN.md adds, their
 * defaults, validation, and `ARTIFACT_STORE_*` overrides. Pure: no file or environment access,
 * so the edge entry validates its bindings with the same code (`src/config/load.ts` reads files).
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactTypeDefinition } from "../contracts/types.ts";
import {
  BUILT_IN_TYPES,
  DEFAULT_DISK_RESERVE_BYTES,
  DEFAULT_MIN_FREE_BYTES,
  DEFAULT_QUOTA_GIB,
  DEFAULT_STORE_SETTINGS as DEFAULTS,
  type StoreSettings,
} from "../core/settings.ts";
import { parseRedaction } from "./redaction.ts";
import { editDistance, fail, GIB, parseDuration, Section } from "./section.ts";

export { applyEnvOverrides, NOT_CONFIG_KEYS } from "./env.ts";
export { parseByteSize, parseDuration } from "./section.ts";

export type BackendType = "filesystem" | "s3" | "gcs" | "memory";
export type Scope = "read" | "write" | "admin";
export type Durability = "strict" | "relaxed";

/** A bearer token allowed to call the HTTP API. Only its SHA-256 is ever stored. */
export interface TokenConfig {
  name: string;
  /** Lowercase hex SHA-256 of the token (`printf %s "$TOKEN" | sha256sum`). */
  sha256: string;
  scopes: Scope[];
  /** Spec names the token may touch; absent means every spec. */
  specs?: string[];
}

export interface S3Config {
  bucket: string;
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

export interface GcsConfig {
  bucket: string;
  prefix: string;
  credentialsFile?: string;
  /** A ready OAuth2 access token instead of a service-account key. */
  accessToken?: string;
  /** API root, e.g. an emulator's `http://127.0.0.1:9199` (default `STORAGE_EMULATOR_HOST` or Google's). */
  endpoint?: string;
}

export interface MetadataConfig {
  /** libSQL URL or file path; default `<base_path>/.store/metadata.db`. */
  url?: string;
  authToken?: string;
  /** Embedded replica: sync the local file at `url` with this remote database. */
  syncUrl?: string;
  syncIntervalSeconds?: number;
}

export interface ServerConfig {
  host: string;
  port: number;
  tokens: TokenConfig[];
  /** Largest request body accepted, bytes. */
  bodyLimit: number;
  /** Seconds between retention sweeps; 0 disables the timer. */
  cleanupIntervalSeconds: number;
  /** Seconds between gc runs (interrupted uploads and deletes, orphans; 1 h grace); 0 disables the timer. */
  gcIntervalSeconds: number;
  /** Seconds in-flight requests get to finish on SIGTERM/SIGINT. */
  shutdownTimeoutSeconds: number;
  /** Origins allowed by CORS; empty (default) sends no CORS headers. */
  corsOrigins: string[];
}

/** The whole config: the store's own settings (declared with their defaults in `core/settings.ts`) plus the deployment's. */
export interface ArtifactStoreConfig extends StoreSettings {
  backendType: BackendType;
  basePath: string;
  /** Threads deflating large uploads in parallel; null = one per CPU (at most 4); 0 = on the uploading thread. */
  compressionThreads: number | null;
  durability: Durability;
  s3: S3Config;
  gcs: GcsConfig;
  metadata: MetadataConfig;
  server: ServerConfig;
}

export { BUILT_IN_TYPES } from "../core/settings.ts";

/** Every config key with its default, in the YAML's own spelling (documentation and `--help`). */
export const DEFAULT_CONFIG_YAML = `artifact_store:
  backend_type: filesystem      # filesystem | s3 | gcs | memory
  base_path: ~/.necrocode/artifacts
  compression_enabled: true
  compression_level: 6          # gzip 1 (fast) .. 9 (small)
  compression_threads: auto     # threads gzipping large uploads into one gzip file; auto = one per CPU (max 4); 0 = none
  verify_checksum: true
  versioning_enabled: false
  durability: strict            # strict: fsync every upload; relaxed: faster, may lose the last seconds on power loss
  max_artifact_size: 5GiB
  gzip_max_ratio: 1000          # refuse gzip uploads that expand more than this
  live_log_idle_expiry: 1d      # gc discards a live log nobody appended to for this long
  retention_policy:             # days; null keeps forever
    diff: 30
    log: 7
    test: 14
  types: {}                     # extra types, e.g. coverage: { file_name: coverage.json, mime_type: application/json, retention_days: 14 }
  storage_quota:
    max_size_gb: 100            # null for no quota
    warn_threshold: 0.8
    min_free_space: 256MiB      # filesystem: uploads refused below this much free space
    disk_reserve: 16MiB         # filesystem: headroom kept for deletes on a full disk
  redaction:                    # secrets in uploads (tokens, keys, passwords): see the README
    mode: mask                  # mask | flag | reject | off, for every type not listed below
    types: {}                   # per type, e.g. { test: flag }
    disabled_rules: []          # e.g. [generic-secret, url-credentials]
    values_from_env: []         # names of environment variables whose values are masked wherever they appear
    generic: { enabled: true, min_entropy: 3.5, min_length: 16 }   # password=/secret:/token= + a random-looking value
  s3: { bucket: "", prefix: "", region: us-east-1, endpoint: null, force_path_style: false }
  gcs: { bucket: "", prefix: "", credentials_file: null }
  metadata: { url: null, auth_token: null, sync_url: null }
  server:
    host: 127.0.0.1
    port: 8787
    tokens: []                  # [{ name, sha256, scopes: [read, write, admin], specs: [..] }]
    body_limit: 5GiB
    cleanup_interval: 1h        # 0 disables the scheduled retention sweep
    gc_interval: 1d             # 0 disables scheduled gc (what crashes left behind)
    shutdown_timeout: 30s
    cors_origins: []
`;

/**
 * Checks a raw config (the mapping under `artifact_store:`, or a document holding that key)
 * and fills in defaults. Throws `E_CONFIG` naming the key and the expected form.
 *
 * @example
 * const config = parseConfig({ artifact_store: { base_path: "/srv/artifacts", versioning_enabled: true } });
 */
export function parseConfig(document: unknown = {}): ArtifactStoreConfig {
  const root = rootSection(document);
  const key = (name: string) => `artifact_store.${name}`;

  const types = parseTypes(root.section("types"), root.section("retention_policy"));
  const storageQuota = parseQuota(root.section("storage_quota"));
  const s3 = parseS3(root.section("s3"));
  const gcs = parseGcs(root.section("gcs"));
  const metadata = parseMetadata(root.section("metadata"));
  const server = parseServer(root.section("server"));

  const config: ArtifactStoreConfig = {
    backendType: root.enumeration("backend_type", ["filesystem", "s3", "gcs", "memory"] as const, "filesystem"),
    basePath: root.string("base_path", "~/.necrocode/artifacts"),
    compressionEnabled: root.boolean("compression_enabled", DEFAULTS.compressionEnabled),
    compressionLevel: root.number("compression_level", DEFAULTS.compressionLevel, { min: 1, max: 9, integer: true }),
    compressionThreads: parseThreads(root),
    verifyChecksum: root.boolean("verify_checksum", DEFAULTS.verifyChecksum),
    versioningEnabled: root.boolean("versioning_enabled", DEFAULTS.versioningEnabled),
    types,
    storageQuota,
    maxArtifactBytes: root.bytes("max_artifact_size", DEFAULTS.maxArtifactBytes),
    gzipMaxRatio: root.number("gzip_max_ratio", DEFAULTS.gzipMaxRatio, { min: 1 }),
    liveLogIdleSeconds: root.seconds("live_log_idle_expiry", DEFAULTS.liveLogIdleSeconds),
    durability: root.enumeration("durability", ["strict", "relaxed"] as const, "strict"),
    redaction: parseRedaction(
      root.section("redaction"),
      types.map((type) => type.name),
    ),
    s3,
    gcs,
    metadata,
    server,
  };
  root.rejectUnknownKeys();
  if (config.backendType === "s3" && !config.s3.bucket)
    fail(key("s3.bucket"), "a bucket name when backend_type is s3", "");
  if (config.backendType === "gcs" && !config.gcs.bucket)
    fail(key("gcs.bucket"), "a bucket name when backend_type is gcs", "");
  return config;
}

/** The mapping under `artifact_store:` (or the document itself), refusing unknown top-level keys. */
function rootSection(document: unknown): Section {
  const top = Section.of(document, "");
  const hasRoot = typeof document === "object" && document !== null && "artifact_store" in document;
  const root = hasRoot ? top.section("artifact_store") : Section.of(document, "artifact_store");
  for (const [name] of top.entries()) {
    if (!hasRoot && name !== "artifact_store" && editDistance(name, "artifact_store") <= 2) {
      throw new ArtifactStoreError(
        "E_CONFIG",
        `Invalid config: unknown top-level key ${name} (did you mean artifact_store?)`,
      );
    }
  }
  if (hasRoot) {
    for (const [name] of top.entries()) {
      if (name !== "artifact_store") {
        throw new ArtifactStoreError(
          "E_CONFIG",
          `Invalid config: unknown top-level key ${name} (expected artifact_store)`,
        );
      }
    }
  }
  return root;
}

function parseQuota(quota: Section): ArtifactStoreConfig["storageQuota"] {
  const maxSizeGb = quota.get("max_size_gb");
  if (maxSizeGb !== undefined && maxSizeGb !== null && (typeof maxSizeGb !== "number" || !(maxSizeGb > 0))) {
    fail(quota.key("max_size_gb"), "a positive number of GiB, or null for no quota", maxSizeGb);
  }
  const storageQuota = {
    maxBytes: maxSizeGb === null ? null : Math.floor(((maxSizeGb as number | undefined) ?? DEFAULT_QUOTA_GIB) * GIB),
    warnThreshold: quota.number("warn_threshold", DEFAULTS.storageQuota.warnThreshold, { min: 0, max: 1 }),
    minFreeBytes: quota.bytes("min_free_space", DEFAULT_MIN_FREE_BYTES) ?? 0,
    reserveBytes: quota.bytes("disk_reserve", DEFAULT_DISK_RESERVE_BYTES) ?? 0,
  };
  quota.rejectUnknownKeys();
  return storageQuota;
}

function parseS3(s3Section: Section): S3Config {
  const s3: S3Config = {
    bucket: s3Section.string("bucket", ""),
    prefix: normalizePrefix(s3Section.string("prefix", ""), s3Section.key("prefix")),
    region: s3Section.string("region", "us-east-1"),
    forcePathStyle: s3Section.boolean("force_path_style", false),
    ...optional("endpoint", s3Section.optionalString("endpoint")),
    ...optional("accessKeyId", s3Section.optionalString("access_key_id")),
    ...optional("secretAccessKey", s3Section.optionalString("secret_access_key")),
    ...optional("sessionToken", s3Section.optionalString("session_token")),
  };
  s3Section.rejectUnknownKeys();
  return s3;
}

function parseGcs(gcsSection: Section): GcsConfig {
  const gcs: GcsConfig = {
    bucket: gcsSection.string("bucket", ""),
    prefix: normalizePrefix(gcsSection.string("prefix", ""), gcsSection.key("prefix")),
    ...optional("credentialsFile", gcsSection.optionalString("credentials_file")),
    ...optional("accessToken", gcsSection.optionalString("access_token")),
    ...optional("endpoint", gcsSection.optionalString("endpoint")),
  };
  gcsSection.rejectUnknownKeys();
  return gcs;
}

function parseMetadata(metadataSection: Section): MetadataConfig {
  const metadata: MetadataConfig = {
    ...optional("url", metadataSection.optionalString("url")),
    ...optional("authToken", metadataSection.optionalString("auth_token")),
    ...optional("syncUrl", metadataSection.optionalString("sync_url")),
  };
  const syncInterval = metadataSection.get("sync_interval");
  if (syncInterval !== undefined && syncInterval !== null) {
    const seconds = parseDuration(syncInterval);
    if (seconds === undefined)
      fail(metadataSection.key("sync_interval"), 'seconds or a duration such as "60s"', syncInterval);
    metadata.syncIntervalSeconds = seconds;
  }
  metadataSection.rejectUnknownKeys();
  return metadata;
}

function parseServer(serverSection: Section): ServerConfig {
  const server: ServerConfig = {
    host: serverSection.string("host", "127.0.0.1"),
    port: serverSection.number("port", 8787, { min: 0, max: 65535, integer: true }),
    tokens: parseTokens(serverSection.get("tokens"), serverSection.key("tokens")),
    bodyLimit: serverSection.bytes("body_limit", 5 * GIB) ?? Number.MAX_SAFE_INTEGER,
    cleanupIntervalSeconds: serverSection.seconds("cleanup_interval", 3600),
    gcIntervalSeconds: serverSection.seconds("gc_interval", 86_400),
    shutdownTimeoutSeconds: serverSection.seconds("shutdown_timeout", 30),
    corsOrigins: serverSection.stringList("cors_origins"),
  };
  serverSection.rejectUnknownKeys();
  return server;
}

function optional<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}

function normalizePrefix(prefix: string, key: string): string {
  if (prefix === "") return "";
  if (prefix.startsWith("/") || prefix.split("/").some((segment) => segment === "." || segment === "..")) {
    fail(key, 'a relative key prefix such as "artifacts/"', prefix);
  }
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

const TYPE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function parseTypes(typesSection: Section, retention: Section): ArtifactTypeDefinition[] {
  const types = BUILT_IN_TYPES.map((type) => ({ ...type }));
  for (const [name, value] of typesSection.entries()) {
    typesSection.get(name);
    const path = typesSection.key(name);
    if (!TYPE_NAME.test(name)) fail(path, "a type name of lowercase letters, digits, '_' or '-'", name);
    const definition = Section.of(value, path);
    const fileName = definition.optionalString("file_name");
    if (!fileName || !FILE_NAME.test(fileName) || fileName.endsWith(".metadata.json")) {
      fail(definition.key("file_name"), 'a plain file name such as "coverage.json"', fileName ?? null);
    }
    const retentionDays = definition.get("retention_days");
    const existing = types.find((type) => type.name === name);
    const entry: ArtifactTypeDefinition = {
      name,
      fileName,
      mimeType: definition.string("mime_type", "application/octet-stream"),
      retentionDays:
        retentionDays === undefined
          ? (existing?.retentionDays ?? null)
          : checkDays(retentionDays, definition.key("retention_days")),
    };
    definition.rejectUnknownKeys();
    if (existing) Object.assign(existing, entry);
    else types.push(entry);
  }
  for (const [name, value] of retention.entries()) {
    retention.get(name);
    const type = types.find((candidate) => candidate.name === name);
    if (!type) {
      fail(retention.key(name), `a known artifact type (${types.map((candidate) => candidate.name).join(", ")})`, name);
    }
    type.retentionDays = checkDays(value, retention.key(name));
  }
  const fileNames = new Set<string>();
  for (const type of types) {
    if (fileNames.has(type.fileName))
      fail(typesSection.key(type.name), "a file_name no other type uses", type.fileName);
    fileNames.add(type.fileName);
  }
  return types;
}

function checkDays(value: unknown, key: string): number | null {
  if (value === null) return null;
  if (typeof value !== "number" || !(value > 0)) fail(key, "a positive number of days, or null to keep forever", value);
  return value;
}

function parseTokens(value: unknown, key: string): TokenConfig[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(key, "a list of { name, sha256, scopes, specs? }", value);
  const names = new Set<string>();
  return value.map((item, index) => {
    const token = Section.of(item, `${key}[${index}]`);
    const name = token.optionalString("name") ?? `token-${index + 1}`;
    const sha256 = token.optionalString("sha256")?.toLowerCase();
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
      fail(token.key("sha256"), 'the token\'s SHA-256 in hex (printf %s "$TOKEN" | sha256sum)', sha256 ?? null);
    }
    const scopes = token.stringList("scopes");
    if (scopes.length === 0 || scopes.some((scope) => !["read", "write", "admin"].includes(scope))) {
      fail(token.key("scopes"), "a non-empty list of read, write, admin", scopes);
    }
    const specs = token.get("specs");
    if (specs !== undefined && (!Array.isArray(specs) || specs.some((spec) => typeof spec !== "string"))) {
      fail(token.key("specs"), "a list of spec names", specs);
    }
    token.rejectUnknownKeys();
    if (names.has(name)) fail(token.key("name"), "a name no other token uses", name);
    names.add(name);
    return { name, sha256, scopes: scopes as Scope[], ...(specs === undefined ? {} : { specs: specs as string[] }) };
  });
}

/** `compression_threads`: "auto" (or unset) for one per CPU, or a count; 0 keeps gzip on the uploading thread. */
function parseThreads(root: Section): number | null {
  const value = root.get("compression_threads");
  if (value === undefined || value === null || value === "auto") return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 64)
    fail(root.key("compression_threads"), '"auto" or an integer from 0 to 64', value);
  return value;
}

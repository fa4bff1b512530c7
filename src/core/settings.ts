/**
 * The settings the store acts on and their defaults: the one place a store setting is
 * declared. The config file (`src/config/schema.ts`) maps YAML keys and `ARTIFACT_STORE_*`
 * variables onto these; library users pass any subset to `createArtifactStore`.
 */
import type { ArtifactTypeDefinition } from "../contracts/types.ts";
import { DEFAULT_REDACTION, type RedactionConfig } from "./redaction/settings.ts";

const GIB = 1024 ** 3;

export interface StoreSettings {
  compressionEnabled: boolean;
  /** gzip level 1–9 (default 6). */
  compressionLevel: number;
  verifyChecksum: boolean;
  versioningEnabled: boolean;
  /** Every artifact type the store accepts, built-ins first, with retention days. */
  types: ArtifactTypeDefinition[];
  storageQuota: {
    maxBytes: number | null;
    warnThreshold: number;
    /** Content writes are refused (E_STORAGE_FULL) while the volume has less free space than this (fs only). */
    minFreeBytes?: number;
    /** Headroom kept in `<base_path>/.store/disk-reserve` for deletes on a full disk (fs only). */
    reserveBytes?: number;
  };
  /** Largest artifact (original bytes) accepted by the store, or null for no limit. */
  maxArtifactBytes: number | null;
  /** A gzip-encoded upload expanding more than this many times is refused as a gzip bomb. */
  gzipMaxRatio: number;
  /** An open live log nobody appended to for this many seconds is abandoned: gc discards it (default 1 day). */
  liveLogIdleSeconds: number;
  /** Secrets in uploaded content: masked, flagged or refused, per artifact type (see `src/core/redaction/`). */
  redaction: RedactionConfig;
}

/** The seed's three types with their default retention days. */
export const BUILT_IN_TYPES: readonly ArtifactTypeDefinition[] = [
  { name: "diff", fileName: "diff.txt", mimeType: "text/x-diff", retentionDays: 30 },
  { name: "log", fileName: "log.txt", mimeType: "text/plain", retentionDays: 7 },
  { name: "test", fileName: "test-result.json", mimeType: "application/json", retentionDays: 14 },
];

/** Free space below which uploads are refused, so deletes and cleanup always have room: 256 MiB. */
export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 ** 2;
/** Headroom preallocated for deletes on a full disk: 16 MiB. */
export const DEFAULT_DISK_RESERVE_BYTES = 16 * 1024 ** 2;

/** Default quota: 100 GiB, warning from 80 %. */
export const DEFAULT_QUOTA_GIB = 100;

export const DEFAULT_STORE_SETTINGS: Readonly<StoreSettings> = Object.freeze({
  compressionEnabled: true,
  compressionLevel: 6,
  verifyChecksum: true,
  versioningEnabled: false,
  types: BUILT_IN_TYPES.map((type) => ({ ...type })),
  storageQuota: {
    maxBytes: DEFAULT_QUOTA_GIB * GIB,
    warnThreshold: 0.8,
    minFreeBytes: DEFAULT_MIN_FREE_BYTES,
    reserveBytes: DEFAULT_DISK_RESERVE_BYTES,
  },
  maxArtifactBytes: 5 * GIB,
  gzipMaxRatio: 1000,
  liveLogIdleSeconds: 86_400,
  redaction: DEFAULT_REDACTION,
});

/** Fills what `partial` leaves out with the defaults (`maxArtifactBytes: null` stays "no limit"). */
export function resolveStoreSettings(partial: Partial<StoreSettings> = {}): StoreSettings {
  const defaults = DEFAULT_STORE_SETTINGS;
  return {
    compressionEnabled: partial.compressionEnabled ?? defaults.compressionEnabled,
    compressionLevel: partial.compressionLevel ?? defaults.compressionLevel,
    verifyChecksum: partial.verifyChecksum ?? defaults.verifyChecksum,
    versioningEnabled: partial.versioningEnabled ?? defaults.versioningEnabled,
    types: partial.types ?? defaults.types.map((type) => ({ ...type })),
    storageQuota: partial.storageQuota ?? { ...defaults.storageQuota },
    maxArtifactBytes: partial.maxArtifactBytes === undefined ? defaults.maxArtifactBytes : partial.maxArtifactBytes,
    gzipMaxRatio: partial.gzipMaxRatio ?? defaults.gzipMaxRatio,
    liveLogIdleSeconds: partial.liveLogIdleSeconds ?? defaults.liveLogIdleSeconds,
    redaction: partial.redaction ?? defaults.redaction,
  };
}

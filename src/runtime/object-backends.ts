/**
 * The config's `s3:` and `gcs:` sections as backend options: one mapping for the Bun/Node
 * entry (`local.ts`) and the edge entry (`worker.ts`), which differ only in where credentials
 * come from (a file and the SDK's default chain there, bindings here). Types only from the
 * backends, so `local.ts` still loads an SDK only when its backend is chosen.
 */
import type { GcsBackendOptions } from "../backends/gcs.ts";
import type { S3BackendOptions } from "../backends/s3.ts";
import type { GcsConfig, S3Config } from "../config/schema.ts";

/** `credentials` absent: the AWS SDK's default chain (AWS_* variables, profiles, roles). */
export function s3BackendOptions(s3: S3Config, credentials?: S3BackendOptions["credentials"]): S3BackendOptions {
  return {
    bucket: s3.bucket,
    prefix: s3.prefix,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

/** The keys in the `s3:` section, when it has both. */
export function s3ConfigCredentials(s3: S3Config): S3BackendOptions["credentials"] {
  if (!s3.accessKeyId || !s3.secretAccessKey) return undefined;
  return {
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    ...(s3.sessionToken ? { sessionToken: s3.sessionToken } : {}),
  };
}

/** `access`: an emulator's host, or a service-account key's JSON, found by the entry. */
export function gcsBackendOptions(
  gcs: GcsConfig,
  access: { emulatorHost?: string | undefined; credentials?: string | undefined },
): GcsBackendOptions {
  return {
    bucket: gcs.bucket,
    prefix: gcs.prefix,
    ...(access.emulatorHost ? { emulatorHost: access.emulatorHost } : {}),
    ...(gcs.endpoint ? { endpoint: gcs.endpoint } : {}),
    ...(gcs.accessToken ? { accessToken: gcs.accessToken } : {}),
    ...(access.credentials ? { credentials: access.credentials } : {}),
  };
}

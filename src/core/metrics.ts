import type { ErrorCode } from "../contracts/errors.ts";

/** Counters since the store was opened, for `/metrics` and `stats()`. */
export interface StoreMetricsSnapshot {
  uploads: number;
  uploadFailures: number;
  /** Content bytes received by successful uploads. */
  uploadedBytes: number;
  /** Bytes written to the backend by successful uploads. */
  storedBytesWritten: number;
  downloads: number;
  /** Bytes handed to readers. */
  downloadedBytes: number;
  checksumFailures: number;
  deletes: number;
  expiredDeleted: number;
  errors: Partial<Record<ErrorCode, number>>;
  /** Secrets found in committed versions (masked or flagged; a sealed live log counts once), by rule name. */
  secretsFound: Record<string, number>;
  /** Uploads and appends refused for a secret (`reject`), by rule name. */
  secretsRejected: Record<string, number>;
}

export interface StoreMetrics {
  count(
    name: Exclude<keyof StoreMetricsSnapshot, "errors" | "secretsFound" | "secretsRejected">,
    amount?: number,
  ): void;
  error(code: ErrorCode): void;
  /** Counts findings by rule. Rule names come from the configured rules only, so labels stay bounded. */
  secrets(kind: "secretsFound" | "secretsRejected", findings: readonly { rule: string; count: number }[]): void;
  snapshot(): StoreMetricsSnapshot;
}

export function createStoreMetrics(): StoreMetrics {
  const values: StoreMetricsSnapshot = {
    uploads: 0,
    uploadFailures: 0,
    uploadedBytes: 0,
    storedBytesWritten: 0,
    downloads: 0,
    downloadedBytes: 0,
    checksumFailures: 0,
    deletes: 0,
    expiredDeleted: 0,
    errors: {},
    secretsFound: {},
    secretsRejected: {},
  };
  return {
    count(name, amount = 1) {
      values[name] += amount;
    },
    error(code) {
      values.errors[code] = (values.errors[code] ?? 0) + 1;
    },
    secrets(kind, findings) {
      for (const { rule, count } of findings) values[kind][rule] = (values[kind][rule] ?? 0) + count;
    },
    snapshot() {
      return {
        ...values,
        errors: { ...values.errors },
        secretsFound: { ...values.secretsFound },
        secretsRejected: { ...values.secretsRejected },
      };
    },
  };
}

/**
 * Counters of the HTTP layer and their Prometheus text exposition (format 0.0.4), together with
 * the store's own counters and quota figures.
 */
import type { ErrorCode } from "../contracts/errors.ts";
import type { StoreMetricsSnapshot } from "../core/metrics.ts";

export interface HttpMetrics {
  recordRequest(method: string, route: string, status: number): void;
  recordError(code: ErrorCode): void;
  render(store: StoreMetricsSnapshot, quota: { usedBytes: number; maxBytes: number | null; artifacts: number }): string;
}

type Quota = Parameters<HttpMetrics["render"]>[1];

/** Writes one metric family: its HELP and TYPE lines, then one line per sample (`[labels, value]`). */
type WriteMetric = (name: string, type: "counter" | "gauge", help: string, samples: [string, number][]) => void;

export function createHttpMetrics(): HttpMetrics {
  const requests = new Map<string, number>();
  const errors = new Map<ErrorCode, number>();
  const started = Date.now();
  return {
    recordRequest(method, route, status) {
      const key = `${method}\u0000${route}\u0000${status}`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
    },
    recordError(code) {
      errors.set(code, (errors.get(code) ?? 0) + 1);
    },
    render(store, quota) {
      const lines: string[] = [];
      const metric: WriteMetric = (name, type, help, samples) => {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
        for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
      };
      writeStoreCounters(metric, store);
      writeHttpCounters(metric, errors, requests);
      writeGauges(metric, quota, started);
      return `${lines.join("\n")}\n`;
    },
  };
}

/** The store's own counters: uploads, downloads, bytes, verification failures, deletes, secrets. */
function writeStoreCounters(metric: WriteMetric, store: StoreMetricsSnapshot): void {
  metric("artifact_store_uploads_total", "counter", "Uploads committed.", [["", store.uploads]]);
  metric("artifact_store_upload_failures_total", "counter", "Uploads that stored nothing.", [
    ["", store.uploadFailures],
  ]);
  metric("artifact_store_downloads_total", "counter", "Downloads started.", [["", store.downloads]]);
  metric("artifact_store_bytes_in_total", "counter", "Content bytes received by committed uploads.", [
    ["", store.uploadedBytes],
  ]);
  metric("artifact_store_stored_bytes_written_total", "counter", "Bytes written to storage by committed uploads.", [
    ["", store.storedBytesWritten],
  ]);
  metric("artifact_store_bytes_out_total", "counter", "Bytes sent to readers.", [["", store.downloadedBytes]]);
  metric("artifact_store_checksum_failures_total", "counter", "Stored artifacts that failed verification.", [
    ["", store.checksumFailures],
  ]);
  metric("artifact_store_deletes_total", "counter", "Versions deleted on request.", [["", store.deletes]]);
  metric("artifact_store_expired_deleted_total", "counter", "Versions deleted by retention sweeps.", [
    ["", store.expiredDeleted],
  ]);
  metric(
    "artifact_store_secrets_found_total",
    "counter",
    "Secrets found in committed versions (masked or flagged; a sealed live log counts once), by redaction rule.",
    byRule(store.secretsFound),
  );
  metric(
    "artifact_store_secrets_rejected_total",
    "counter",
    "Uploads and live appends refused for holding a secret (redaction mode reject), by rule.",
    byRule(store.secretsRejected),
  );
}

function byRule(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts)
    .sort()
    .map(([rule, count]) => [`{rule="${escapeLabel(rule)}"}`, count]);
}

/** The HTTP layer's counters: error responses by code, requests by method, route and status. */
function writeHttpCounters(
  metric: WriteMetric,
  errors: ReadonlyMap<ErrorCode, number>,
  requests: ReadonlyMap<string, number>,
): void {
  metric(
    "artifact_store_errors_total",
    "counter",
    "Error responses by error code.",
    [...errors].sort().map(([code, count]) => [`{code="${code}"}`, count]),
  );
  metric(
    "artifact_store_http_requests_total",
    "counter",
    "HTTP requests by method, route and status.",
    [...requests].sort().map(([key, count]) => {
      const [method, route, status] = key.split("\u0000");
      return [`{method="${method}",route="${escapeLabel(route ?? "")}",status="${status}"}`, count];
    }),
  );
}

/** Figures of now: the quota's use and limit, the artifact count, the uptime. */
function writeGauges(metric: WriteMetric, quota: Quota, started: number): void {
  metric("artifact_store_quota_used_bytes", "gauge", "Bytes the quota counts (committed, pending, being deleted).", [
    ["", quota.usedBytes],
  ]);
  if (quota.maxBytes !== null) {
    metric("artifact_store_quota_max_bytes", "gauge", "Configured storage quota.", [["", quota.maxBytes]]);
    metric("artifact_store_quota_used_ratio", "gauge", "Share of the quota in use.", [
      ["", Number((quota.usedBytes / quota.maxBytes).toFixed(6))],
    ]);
  }
  metric("artifact_store_artifacts", "gauge", "Artifact versions in the metadata database.", [["", quota.artifacts]]);
  metric("artifact_store_uptime_seconds", "gauge", "Seconds since the server started.", [
    ["", Math.round((Date.now() - started) / 1000)],
  ]);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

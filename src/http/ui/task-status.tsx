/** @jsxImportSource hono/jsx */
/** A task's status at a glance: the latest version of each of its types and what their summaries say. */
import type { FC } from "hono/jsx";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import type { ArtifactStore } from "../../core/store.ts";

/** The latest committed version of each type of a task, types in name order. */
export async function latestPerType(
  store: ArtifactStore,
  specName: string,
  taskId: string,
): Promise<ArtifactMetadata[]> {
  const versions = await store.search({ specName, taskId, limit: 200 });
  const latest = new Map<string, ArtifactMetadata>();
  for (const version of versions) {
    const seen = latest.get(version.type);
    if (!seen || seen.version < version.version) latest.set(version.type, version);
  }
  return [...latest.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/** "failing", "passing" or "unknown", from the latest test report and log. */
export function taskVerdict(latest: ArtifactMetadata[]): "failing" | "passing" | "unknown" {
  let verdict: "failing" | "passing" | "unknown" = "unknown";
  for (const artifact of latest) {
    const summary = artifact.summary;
    if (summary?.kind === "test") {
      if (summary.failed > 0 || summary.parseError) return "failing";
      if (summary.total > 0) verdict = "passing";
    } else if (summary?.kind === "log" && summary.errors > 0) return "failing";
  }
  return verdict;
}

/** One compact line per type: tests passed/failed/skipped, log errors/warnings, files ±. */
export const TaskStatus: FC<{ latest: ArtifactMetadata[] }> = ({ latest }) => {
  const verdict = taskVerdict(latest);
  return (
    <span class="status-cell">
      <span class={`badge ${verdict === "failing" ? "badge-bad" : verdict === "passing" ? "badge-good" : ""}`}>
        {verdict === "failing" ? "✗ failing" : verdict === "passing" ? "✓ passing" : "no verdict"}
      </span>
      {latest.map((artifact) => {
        const summary = artifact.summary;
        if (summary?.kind === "test")
          return (
            <span class="badge" title={`${artifact.type} v${artifact.version}`}>
              tests {summary.passed}✓ {summary.failed}✗ {summary.skipped}○
            </span>
          );
        if (summary?.kind === "log")
          return (
            <span
              class={`badge ${summary.errors > 0 ? "badge-bad" : ""}`}
              title={`${artifact.type} v${artifact.version}`}
            >
              {artifact.type}: {summary.errors} errors, {summary.warnings} warnings
            </span>
          );
        if (summary?.kind === "diff")
          return (
            <span class="badge" title={`${artifact.type} v${artifact.version}`}>
              {summary.files} files +{summary.added} −{summary.removed}
            </span>
          );
        return null;
      })}
    </span>
  );
};

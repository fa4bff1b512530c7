/** @jsxImportSource hono/jsx */
/**
 * A task's page: its artifacts on one page. Status at a glance (tests passed/failed/skipped, log
 * errors and warnings, files and lines changed), the first failures and the first log error with
 * the lines around it, links into each viewer and to the comparison of its attempts, then every
 * version.
 */
import type { FC } from "hono/jsx";
import type { DiffFileEntry, LogSummary, TestCaseEntry } from "../../contracts/structure.ts";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import { assertValidName } from "../../core/names.ts";
import type { ArtifactStore } from "../../core/store.ts";
import { authorize } from "../auth.ts";
import { render, taskTrail, type UiKit } from "./frame.tsx";
import { artifactPath, Bytes, Page } from "./layout.tsx";
import { compareHref } from "./page-compare.tsx";
import { ArtifactTable, LiveLogList } from "./pages-browse.tsx";
import { latestPerType, TaskStatus, taskVerdict } from "./task-status.tsx";
import { type LogLine, LogLines, scanLines, splitLines } from "./view-log.tsx";
import { messageHeadline } from "./view-test.tsx";

const FIRST_FAILURES = 5;
const CONTEXT_BEFORE = 3;
const CONTEXT_AFTER = 4;
const FILES_SHOWN = 10;

/** Bytes read before and after the first error's offset for its context. */
const CONTEXT_BYTES_BEFORE = 4096;
const CONTEXT_BYTES_AFTER = 8192;

/**
 * The lines around the first error of a log version: one Range read around the byte offset the
 * extraction recorded, or (for a version extracted before offsets were recorded) a read of the
 * log up to there.
 */
async function linesAround(store: ArtifactStore, artifact: ArtifactMetadata, summary: LogSummary): Promise<LogLine[]> {
  const line = summary.firstErrorLine as number;
  const offset = summary.firstErrorOffset;
  if (offset === null || offset === undefined) {
    const lines: LogLine[] = [];
    const opened = await store.open({ ...artifact, version: artifact.version });
    await scanLines(opened.body, (text, number) => {
      if (number >= line - CONTEXT_BEFORE) lines.push({ number, text });
      return number < line + CONTEXT_AFTER;
    });
    return lines;
  }
  const start = Math.max(0, offset - CONTEXT_BYTES_BEFORE);
  const opened = await store.open(
    { ...artifact, version: artifact.version },
    { range: { offset: start, length: offset - start + CONTEXT_BYTES_AFTER } },
  );
  const bytes = new Uint8Array(await new Response(opened.body).arrayBuffer());
  const decoder = new TextDecoder();
  const before = splitLines(decoder.decode(bytes.subarray(0, offset - start)), { dropFirst: start > 0 });
  const after = splitLines(decoder.decode(bytes.subarray(offset - start)), {
    dropLast: offset + CONTEXT_BYTES_AFTER < artifact.originalSize,
  });
  const shownBefore = before.slice(-CONTEXT_BEFORE);
  return [
    ...shownBefore.map((text, index) => ({ number: line - shownBefore.length + index, text })),
    ...after.slice(0, CONTEXT_AFTER + 1).map((text, index) => ({ number: line + index, text })),
  ];
}

interface Glance {
  artifact: ArtifactMetadata;
  /** An earlier version of the same type, to compare with. */
  previous: number | null;
  failures?: TestCaseEntry[];
  errorContext?: LogLine[];
  files?: DiffFileEntry[];
}

async function glanceAt(
  store: ArtifactStore,
  artifact: ArtifactMetadata,
  versions: ArtifactMetadata[],
): Promise<Glance> {
  const earlier = versions.filter((version) => version.type === artifact.type && version.version < artifact.version);
  const glance: Glance = {
    artifact,
    previous: earlier.length > 0 ? Math.max(...earlier.map((version) => version.version)) : null,
  };
  const summary = artifact.summary;
  if (summary?.kind === "test" && summary.failed > 0) {
    const failed = await store.testCases(artifact, { status: "failed", limit: FIRST_FAILURES });
    glance.failures = failed.items;
  } else if (summary?.kind === "diff") {
    glance.files = await store.diffFiles(artifact, { limit: FILES_SHOWN });
  } else if (summary?.kind === "log" && summary.firstErrorLine !== null) {
    glance.errorContext = await linesAround(store, artifact, summary);
  }
  return glance;
}

export function registerTaskPage({ app, store, page, signedIn }: UiKit): void {
  app.get(
    "/ui/s/:spec/:task",
    page(async (c) => {
      const specName = assertValidName("specName", c.req.param("spec"));
      const taskId = assertValidName("taskId", c.req.param("task"));
      authorize(c.get("principal"), "read", specName);
      const [result, live, latest] = await Promise.all([
        store.searchPage({ specName, taskId, limit: 500 }),
        store.liveLogs({ specName, taskId }),
        latestPerType(store, specName, taskId),
      ]);
      const glances = await Promise.all(latest.map((artifact) => glanceAt(store, artifact, result.items)));
      const now = Date.now();
      const verdict = taskVerdict(latest);
      return render(
        c,
        <Page
          title={`${specName} / ${taskId}`}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          trail={taskTrail(specName, taskId)}
        >
          <p id="task-status">
            <span
              class={`verdict ${verdict === "failing" ? "verdict-bad" : verdict === "passing" ? "verdict-good" : ""}`}
            >
              {verdict === "failing" ? "✗ Failing" : verdict === "passing" ? "✓ Passing" : "No test report or log yet"}
            </span>{" "}
            <TaskStatus latest={latest} />
          </p>
          <LiveLogList logs={live} now={now} />
          {glances.length > 0 ? (
            <div class="glance" id="glance">
              {glances.map((glance) => (
                <GlanceCard glance={glance} />
              ))}
            </div>
          ) : null}
          {latest.some((artifact) => artifact.summary?.kind === "test" || artifact.summary?.kind === "diff") ? (
            <CompareTasksForm specName={specName} taskId={taskId} latest={latest} />
          ) : null}
          {result.items.length === 0 ? (
            <p>No artifacts for this task.</p>
          ) : (
            <ArtifactTable items={result.items} now={now} caption="Artifacts, every version, newest first" />
          )}
        </Page>,
      );
    }),
  );
}

const GlanceCard: FC<{ glance: Glance }> = ({ glance }) => {
  const { artifact, previous } = glance;
  const summary = artifact.summary;
  const open = artifactPath(artifact.specName, artifact.taskId, artifact.type, artifact.version);
  const compare =
    previous !== null && (summary?.kind === "test" || summary?.kind === "diff")
      ? compareHref(
          artifact.specName,
          artifact.type,
          `${artifact.taskId}@${previous}`,
          `${artifact.taskId}@${artifact.version}`,
        )
      : null;
  return (
    <section aria-labelledby={`glance-${artifact.type}`} id={`glance-card-${artifact.type}`}>
      <h2 id={`glance-${artifact.type}`}>
        <a href={open}>
          {artifact.type} v{artifact.version}
        </a>
      </h2>
      {summary?.kind === "test" ? (
        <>
          <p>
            {summary.total} tests: <span class="badge badge-good">{summary.passed} passed</span>{" "}
            <span class={`badge ${summary.failed > 0 ? "badge-bad" : ""}`}>{summary.failed} failed</span>{" "}
            <span class="badge">{summary.skipped} skipped</span>
            {summary.flaky ? <span class="badge flaky"> {summary.flaky} flaky</span> : null}
          </p>
          {glance.failures && glance.failures.length > 0 ? (
            <>
              <h3>First failures</h3>
              <ul class="first-failures">
                {glance.failures.map((test) => (
                  <li>
                    <details>
                      <summary>
                        <strong>{test.name}</strong> <span class="muted">{test.suite}</span>
                        {test.message ? <div class="muted">{messageHeadline(test.message)}</div> : null}
                      </summary>
                      {test.message ? <pre>{test.message}</pre> : null}
                    </details>
                  </li>
                ))}
              </ul>
              <p>
                <a href={`${open}&status=failed`}>All {summary.failed} failures</a>
              </p>
            </>
          ) : null}
        </>
      ) : summary?.kind === "log" ? (
        <>
          <p>
            {summary.lines.toLocaleString("en")} lines:{" "}
            <span class={`badge ${summary.errors > 0 ? "badge-bad" : ""}`}>{summary.errors} errors</span>{" "}
            <span class={`badge ${summary.warnings > 0 ? "badge-warn" : ""}`}>{summary.warnings} warnings</span>
          </p>
          {glance.errorContext && summary.firstErrorLine !== null ? (
            <>
              <h3>First error, line {summary.firstErrorLine}</h3>
              <div class="context">
                <LogLines lines={glance.errorContext} label={`Lines around the first error of ${artifact.type}`} />
              </div>
              <p>
                <a href={`${open}&line=${summary.firstErrorLine}#L${summary.firstErrorLine}`}>
                  Open the log at this error
                </a>
              </p>
            </>
          ) : null}
        </>
      ) : summary?.kind === "diff" ? (
        <>
          <p>
            {summary.files} files: <span class="badge badge-good">+{summary.added}</span>{" "}
            <span class="badge badge-bad">−{summary.removed}</span>
          </p>
          {summary.commits?.slice(0, 3).map((commit) => (
            <p class="muted">
              {commit.subject} — {commit.author ?? ""}
            </p>
          ))}
          {glance.files && glance.files.length > 0 ? (
            <ul class="first-files">
              {glance.files.map((file, index) => (
                <li>
                  <a href={`${open}#file-${index + 1}`}>{file.path}</a>{" "}
                  <span class="muted">
                    {file.status === "modified" ? "" : `${file.status} `}+{file.added} −{file.removed}
                  </span>
                </li>
              ))}
              {summary.files > glance.files.length ? (
                <li class="muted">and {summary.files - glance.files.length} more</li>
              ) : null}
            </ul>
          ) : null}
        </>
      ) : (
        <p>
          <Bytes value={artifact.originalSize} />
        </p>
      )}
      <p>
        <a href={open}>Open {artifact.type}</a>
        {compare ? (
          <>
            {" · "}
            <a href={compare} class="compare-link">
              Compare v{previous} → v{artifact.version}
            </a>
          </>
        ) : null}
      </p>
    </section>
  );
};

const CompareTasksForm: FC<{ specName: string; taskId: string; latest: ArtifactMetadata[] }> = ({
  specName,
  taskId,
  latest,
}) => (
  <form method="get" action="/ui/compare" class="toolbar" aria-label="Compare with another task">
    <input type="hidden" name="spec" value={specName} />
    <input type="hidden" name="after" value={taskId} />
    <label for="compare-type">Compare</label>
    <select id="compare-type" name="type">
      {latest
        .filter((artifact) => artifact.summary?.kind === "test" || artifact.summary?.kind === "diff")
        // Test reports first: what a second attempt most often is compared for.
        .sort((a, b) => (a.summary?.kind === "test" ? 0 : 1) - (b.summary?.kind === "test" ? 0 : 1))
        .map((artifact) => (
          <option value={artifact.type}>{artifact.type}</option>
        ))}
    </select>
    <label for="compare-before">with task</label>
    <input id="compare-before" name="before" placeholder="task id or task@version" required size={18} />
    <button type="submit">Compare</button>
  </form>
);

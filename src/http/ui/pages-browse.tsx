/** @jsxImportSource hono/jsx */
/** Specs → tasks → artifacts, and search results. */
import type { Child, FC } from "hono/jsx";
import type { SpecOverview, TaskOverview } from "../../contracts/metadata-repository.ts";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import type { LiveLogStatus } from "../../core/live-log.ts";
import { Age, artifactPath, Bytes } from "./layout.tsx";
import { TaskStatus } from "./task-status.tsx";

/** The columns a spec's row and a task's row share: versions, stored bytes, last upload. */
const UsageHeads: FC = () => (
  <>
    <th scope="col" class="num">
      Versions
    </th>
    <th scope="col" class="num">
      Stored
    </th>
    <th scope="col">Last upload</th>
  </>
);

const UsageCells: FC<{ usage: { artifacts: number; storedBytes: number; lastCreatedAt: number }; now: number }> = ({
  usage,
  now,
}) => (
  <>
    <td class="num">{usage.artifacts}</td>
    <td class="num">
      <Bytes value={usage.storedBytes} />
    </td>
    <td>
      <Age at={usage.lastCreatedAt} now={now} />
    </td>
  </>
);

export const SpecList: FC<{ specs: SpecOverview[]; now: number }> = ({ specs, now }) =>
  specs.length === 0 ? (
    <p>No artifacts yet.</p>
  ) : (
    <table>
      <caption>Specs</caption>
      <thead>
        <tr>
          <th scope="col">Spec</th>
          <th scope="col" class="num">
            Tasks
          </th>
          <UsageHeads />
        </tr>
      </thead>
      <tbody>
        {specs.map((spec) => (
          <tr>
            <td>
              <a href={`/ui/s/${encodeURIComponent(spec.specName)}`}>{spec.specName}</a>
            </td>
            <td class="num">{spec.tasks}</td>
            <UsageCells usage={spec} now={now} />
          </tr>
        ))}
      </tbody>
    </table>
  );

export const TaskList: FC<{
  specName: string;
  tasks: TaskOverview[];
  now: number;
  /** The latest version of each type per task: a status column. */
  statuses?: Map<string, ArtifactMetadata[]>;
}> = ({ specName, tasks, now, statuses }) => (
  <table id="task-list">
    <caption>Tasks of {specName}, most recent first</caption>
    <thead>
      <tr>
        <th scope="col">Task</th>
        {statuses ? <th scope="col">Status</th> : null}
        <th scope="col">Types</th>
        <UsageHeads />
      </tr>
    </thead>
    <tbody>
      {tasks.map((task) => (
        <tr>
          <td>
            <a href={artifactPath(specName, task.taskId)}>{task.taskId}</a>
          </td>
          {statuses ? (
            <td>
              <TaskStatus latest={statuses.get(task.taskId) ?? []} />
            </td>
          ) : null}
          <td>{task.types.join(", ")}</td>
          <UsageCells usage={task} now={now} />
        </tr>
      ))}
    </tbody>
  </table>
);

/** What the summary says, in a few badges. */
export const SummaryBadges: FC<{ artifact: ArtifactMetadata }> = ({ artifact }) => {
  const summary = artifact.summary;
  if (!summary) return <span class="muted">–</span>;
  const badges: Child[] = [];
  if (summary.kind === "diff") {
    badges.push(
      <span class="badge">
        {summary.files} file{summary.files === 1 ? "" : "s"}
      </span>,
      <span class="badge badge-good">+{summary.added}</span>,
      <span class="badge badge-bad">−{summary.removed}</span>,
    );
  } else if (summary.kind === "log") {
    badges.push(<span class="badge">{summary.lines} lines</span>);
    if (summary.errors > 0) badges.push(<span class="badge badge-bad">{summary.errors} errors</span>);
    if (summary.warnings > 0) badges.push(<span class="badge badge-warn">{summary.warnings} warnings</span>);
  } else {
    badges.push(<span class="badge">{summary.total} tests</span>);
    badges.push(
      summary.failed > 0 ? (
        <span class="badge badge-bad">{summary.failed} failed</span>
      ) : (
        <span class="badge badge-good">{summary.passed} passed</span>
      ),
    );
    if (summary.skipped > 0) badges.push(<span class="badge">{summary.skipped} skipped</span>);
  }
  if (summary.parseError) badges.push(<span class="badge badge-warn">unreadable: {summary.parseError}</span>);
  if (summary.truncated) badges.push(<span class="badge badge-warn">partly read</span>);
  return <span>{badges}</span>;
};

export const ArtifactTable: FC<{ items: ArtifactMetadata[]; now: number; caption: string; showTask?: boolean }> = ({
  items,
  now,
  caption,
  showTask,
}) => (
  <table>
    <caption>{caption}</caption>
    <thead>
      <tr>
        {showTask ? <th scope="col">Spec / task</th> : null}
        <th scope="col">Type</th>
        <th scope="col" class="num">
          Version
        </th>
        <th scope="col">Summary</th>
        <th scope="col" class="num">
          Size
        </th>
        <th scope="col">Tags</th>
        <th scope="col">Uploaded</th>
        <th scope="col">Expires</th>
      </tr>
    </thead>
    <tbody>
      {items.map((item) => (
        <tr>
          {showTask ? (
            <td>
              <a href={artifactPath(item.specName, item.taskId)}>
                {item.specName} / {item.taskId}
              </a>
            </td>
          ) : null}
          <td>
            <a href={artifactPath(item.specName, item.taskId, item.type, item.version)}>{item.type}</a>
          </td>
          <td class="num">v{item.version}</td>
          <td>
            <SummaryBadges artifact={item} />
          </td>
          <td class="num">
            <Bytes value={item.originalSize} />{" "}
            <span class="muted">
              (stored <Bytes value={item.size} />)
            </span>
          </td>
          <td class="tags">
            {item.tags.map((tag) => (
              <span>{tag}</span>
            ))}
            {item.pinned ? <span>pinned</span> : null}
          </td>
          <td>
            <Age at={item.createdAt} now={now} />
          </td>
          <td>{item.expiresAt ? <Age at={item.expiresAt} now={now} /> : <span class="muted">never</span>}</td>
        </tr>
      ))}
    </tbody>
  </table>
);

export const LiveLogList: FC<{ logs: LiveLogStatus[]; now: number }> = ({ logs, now }) =>
  logs.length === 0 ? null : (
    <table>
      <caption>Live logs (still being written)</caption>
      <thead>
        <tr>
          <th scope="col">Log</th>
          <th scope="col" class="num">
            Size
          </th>
          <th scope="col">State</th>
          <th scope="col">Last append</th>
        </tr>
      </thead>
      <tbody>
        {logs.map((log) => (
          <tr>
            <td>
              <a href={`${artifactPath(log.specName, log.taskId, log.type)}/live`}>
                {log.specName} / {log.taskId} / {log.type}
              </a>
            </td>
            <td class="num">
              <Bytes value={log.size} />
            </td>
            <td>{log.state}</td>
            <td>
              <Age at={log.updatedAt} now={now} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );

export const SearchForm: FC<{ values: Record<string, string> }> = ({ values }) => (
  <form method="get" action="/ui/search" class="toolbar" aria-label="Search by content">
    <label for="s-spec">Spec</label>
    <input id="s-spec" name="spec" value={values.spec ?? ""} size={12} />
    <label for="s-touched">Diffs touching path</label>
    <input id="s-touched" name="touched" value={values.touched ?? ""} placeholder="src/" size={16} />
    <label for="s-failed">Failed test</label>
    <input id="s-failed" name="failed_test" value={values.failed_test ?? ""} size={16} />
    <label>
      <input type="checkbox" name="has_errors" value="1" checked={values.has_errors === "1"} /> Logs with errors
    </label>
    <label>
      <input type="checkbox" name="has_failures" value="1" checked={values.has_failures === "1"} /> Reports with
      failures
    </label>
    <button type="submit">Search</button>
  </form>
);

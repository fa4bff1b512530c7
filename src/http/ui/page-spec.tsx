/** @jsxImportSource hono/jsx */
/** A spec's tasks, most recently active first, each with its status at a glance. */
import type { ArtifactMetadata } from "../../contracts/types.ts";
import { assertValidName } from "../../core/names.ts";
import { authorize } from "../auth.ts";
import { pageParameter, render, type UiKit } from "./frame.tsx";
import { Page } from "./layout.tsx";
import { LiveLogList, TaskList } from "./pages-browse.tsx";
import { latestPerType } from "./task-status.tsx";

const TASKS_PER_PAGE = 100;

export function registerSpecPage({ app, store, page, signedIn }: UiKit): void {
  app.get(
    "/ui/s/:spec",
    page(async (c) => {
      const specName = assertValidName("specName", c.req.param("spec"));
      authorize(c.get("principal"), "read", specName);
      const pageNumber = pageParameter(c.req.query("page"));
      const tasks = await store.browseTasks(specName, {
        limit: TASKS_PER_PAGE,
        offset: (pageNumber - 1) * TASKS_PER_PAGE,
      });
      const [live, latest] = await Promise.all([
        store.liveLogs({ specName }),
        Promise.all(tasks.items.map((task) => latestPerType(store, specName, task.taskId))),
      ]);
      const statuses = new Map<string, ArtifactMetadata[]>(
        tasks.items.map((task, index) => [task.taskId, latest[index] ?? []]),
      );
      const pages = Math.max(1, Math.ceil(tasks.total / TASKS_PER_PAGE));
      const now = Date.now();
      return render(
        c,
        <Page
          title={specName}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          trail={[{ label: "Specs", href: "/ui" }, { label: specName }]}
        >
          <LiveLogList logs={live} now={now} />
          {tasks.total === 0 ? (
            <p>No artifacts in this spec.</p>
          ) : (
            <TaskList specName={specName} tasks={tasks.items} now={now} statuses={statuses} />
          )}
          {pages > 1 ? (
            <nav class="pager" aria-label="Pages of tasks">
              {pageNumber > 1 ? <a href={`?page=${pageNumber - 1}`}>Previous page</a> : null}
              <span>
                page {pageNumber} of {pages}
              </span>
              {pageNumber < pages ? <a href={`?page=${pageNumber + 1}`}>Next page</a> : null}
            </nav>
          ) : null}
        </Page>,
      );
    }),
  );
}

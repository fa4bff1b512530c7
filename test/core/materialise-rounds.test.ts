/**
 * The materialiser makes a pass's writes durable in one fsync round (task-inline.ts
 * `createSharedRound`): every task of the pass writes its files, then one round syncs them all
 * and the inline bytes go in one commit — not one round per task, each re-syncing the shared
 * spec folder. A task still writing holds the others back only briefly, and no caller is ever
 * answered by a round that started before it asked.
 */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createSharedRound } from "../../src/core/task-inline.ts";
import { freshStorePerTest } from "../helpers/store.ts";

const open = freshStorePerTest();

/** A flush that records when it started and resolves (or fails) when told. */
function controlledFlush() {
  const started: { finish(error?: Error): void }[] = [];
  return {
    started,
    flush: () =>
      new Promise<void>((resolve, reject) => {
        started.push({ finish: (error) => (error ? reject(error) : resolve()) });
      }),
  };
}

const settledState = async (promise: Promise<unknown>) =>
  Promise.race([
    promise.then(
      () => "durable",
      (error: Error) => error.message,
    ),
    new Promise((resolve) => setTimeout(() => resolve("waiting"), 5)),
  ]);

test("the round starts once every task of the pass has written or ended, and answers all of them", async () => {
  const { started, flush } = controlledFlush();
  const round = createSharedRound(3, flush, 60_000);
  const [a, b, c] = [round.member(), round.member(), round.member()];
  const aDurable = a.durable();
  const bDurable = b.durable();
  expect(started).toHaveLength(0); // c is still writing: its files belong in the same round
  c.done(); // c had nothing inline
  expect(started).toHaveLength(1);
  expect(await settledState(aDurable)).toBe("waiting"); // answered only once the round is over
  started[0]?.finish();
  expect([await settledState(aDurable), await settledState(bDurable)]).toEqual(["durable", "durable"]);
});

test("a task still writing holds the round back only for the wait; it gets a round of its own that starts after it asks", async () => {
  const { started, flush } = controlledFlush();
  const round = createSharedRound(2, flush, 10);
  const [quick, slow] = [round.member(), round.member()];
  const quickDurable = quick.durable();
  await new Promise((resolve) => setTimeout(resolve, 30));
  expect(started).toHaveLength(1);
  started[0]?.finish();
  expect(await settledState(quickDurable)).toBe("durable");
  const slowDurable = slow.durable();
  expect(started).toHaveLength(2); // the first round started before slow's files were written
  expect(await settledState(slowDurable)).toBe("waiting");
  started[1]?.finish();
  expect(await settledState(slowDurable)).toBe("durable");
});

test("tasks that finish one after another, each within the wait of the last, share one round however long they take together", async () => {
  const { started, flush } = controlledFlush();
  const round = createSharedRound(3, flush, 40);
  const [a, b, c] = [round.member(), round.member(), round.member()];
  const aDurable = a.durable();
  await new Promise((resolve) => setTimeout(resolve, 25));
  const bDurable = b.durable();
  await new Promise((resolve) => setTimeout(resolve, 25));
  expect(started).toHaveLength(0); // 50 ms since the first, 25 since the last: still waiting for c
  const cDurable = c.durable();
  expect(started).toHaveLength(1);
  started[0]?.finish();
  expect([await settledState(aDurable), await settledState(bDurable), await settledState(cDurable)]).toEqual([
    "durable",
    "durable",
    "durable",
  ]);
});

test("however steadily tasks finish, the first one to have written waits for its round no longer than the cap", async () => {
  const { started, flush } = controlledFlush();
  const round = createSharedRound(4, flush, 40, 60);
  const [a, b, c, d] = [round.member(), round.member(), round.member(), round.member()];
  const pause = () => new Promise((resolve) => setTimeout(resolve, 25));
  const durable = [a.durable()];
  await pause();
  durable.push(b.durable());
  await pause();
  durable.push(c.durable()); // 50 ms after a: the wait would now run to 90 ms, the cap ends it at 60
  await pause();
  expect(started).toHaveLength(1);
  durable.push(d.durable()); // the last member: its own round at once
  expect(started).toHaveLength(2);
  for (const each of started) each.finish();
  expect(await Promise.all(durable.map(settledState))).toEqual(["durable", "durable", "durable", "durable"]);
});

test("a failed round fails every task that waited for it, so none drops its inline bytes", async () => {
  const { started, flush } = controlledFlush();
  const round = createSharedRound(2, flush, 60_000);
  const waits = [round.member().durable(), round.member().durable()];
  started[0]?.finish(Object.assign(new Error("EIO: fsync failed"), { code: "EIO" }));
  expect(await Promise.all(waits.map(settledState))).toEqual(["EIO: fsync failed", "EIO: fsync failed"]);
});

test("a pass of many tasks is made durable by one flush of the backend, and every task is on disk", async () => {
  let flushes = 0;
  const { store, root, metadata } = await open(
    {},
    (backend) => ({
      ...backend,
      syncDeferred: async () => {
        flushes++;
        await backend.syncDeferred?.();
      },
    }),
    { inlineSmallUploads: { delayMs: 600_000 } },
  );
  const tasks = Array.from({ length: 24 }, (_, index) => `1.${index}`);
  await Promise.all(
    tasks.map((taskId) => store.upload({ specName: "chat-app", taskId, type: "log", content: `log of ${taskId}\n` })),
  );
  expect(await metadata.inlineTasks?.(100)).toHaveLength(24);
  flushes = 0;
  await store.gc(); // drains: one pass takes all 24 tasks
  expect(flushes).toBe(1);
  expect(await metadata.inlineTasks?.(100)).toEqual([]);
  for (const taskId of tasks) {
    expect(existsSync(join(root, "chat-app", taskId, "log.txt.gz"))).toBe(true);
    const listed = JSON.parse(await readFile(join(root, "chat-app", taskId, "metadata.json"), "utf8"));
    expect(listed.artifacts.map((entry: { version: number }) => entry.version)).toEqual([1]);
  }
});

/**
 * A task's turn across processes: two repositories on one database file stand for two servers
 * on one database. One holds a task's lease, the other is refused until it is given back or
 * expires; the task files' turns of two stores on that database never overlap.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { consoleWarningsLogger } from "../../src/core/context.ts";
import { createTaskFiles } from "../../src/core/task-files.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { makeTempDir } from "../helpers/store.ts";

async function twoProcesses() {
  const dir = await makeTempDir("task-leases");
  const url = join(dir.path, "metadata.db");
  const first = await openLocalMetadata({ url });
  const second = await openLocalMetadata({ url });
  return {
    first,
    second,
    async close() {
      await first.close();
      await second.close();
      await dir.cleanup();
    },
  };
}

test("a task's lease is one owner's until given back or expired; other tasks are free", async () => {
  const { first, second, close } = await twoProcesses();
  expect(await first.takeTaskLease("chat-app", "1.1", "server-a", 10_000)).toBe(true);
  expect(await second.takeTaskLease("chat-app", "1.1", "server-b", 10_000)).toBe(false);
  expect(await second.takeTaskLease("chat-app", "1.2", "server-b", 10_000)).toBe(true);
  // The holder extends its own lease.
  expect(await first.takeTaskLease("chat-app", "1.1", "server-a", 10_000)).toBe(true);
  // Only the holder gives it back.
  await second.releaseTaskLease("chat-app", "1.1", "server-b");
  expect(await second.takeTaskLease("chat-app", "1.1", "server-b", 10_000)).toBe(false);
  await first.releaseTaskLease("chat-app", "1.1", "server-a");
  expect(await second.takeTaskLease("chat-app", "1.1", "server-b", 10_000)).toBe(true);
  // A holder that died: its lease is taken over once it has expired.
  expect(await first.takeTaskLease("chat-app", "2.1", "dead-server", 1)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await second.takeTaskLease("chat-app", "2.1", "server-b", 10_000)).toBe(true);
  await close();
});

test("two stores on one database take turns on a task: a delete or publish in one waits for the other's", async () => {
  const { first, second, close } = await twoProcesses();
  const files = [first, second].map((metadata) =>
    createTaskFiles({ backend: createMemoryBackend(), metadata, logger: consoleWarningsLogger, now: Date.now }),
  );
  const events: string[] = [];
  let finishFirst = () => {};
  const firstHolds = new Promise<void>((resolve) => {
    finishFirst = resolve;
  });
  let firstStarted = () => {};
  const started = new Promise<void>((resolve) => {
    firstStarted = resolve;
  });
  const a = files[0]?.withTask("chat-app", "1.1", async () => {
    events.push("a starts");
    firstStarted();
    await firstHolds;
    events.push("a ends");
  });
  await started;
  const b = files[1]?.withTask("chat-app", "1.1", async () => {
    events.push("b starts");
  });
  // Another task is not held up.
  await files[1]?.withTask("chat-app", "1.2", async () => {
    events.push("other task");
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  finishFirst();
  await Promise.all([a, b]);
  expect(events).toEqual(["a starts", "other task", "a ends", "b starts"]);
  await close();
});

/**
 * A task's turn across processes: two repositories on one database file stand for two servers
 * on one database. One holds a task's lease, the other is refused until it is given back or
 * expires (at once when its holder is a process of this host that has ended); the task files'
 * turns of two stores on that database never overlap.
 */
import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { consoleWarningsLogger } from "../../src/core/context.ts";
import { createTaskFiles, TURN_STREAK_MS } from "../../src/core/task-files.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { createProcessIdentity, processStat } from "../../src/runtime/process-identity.ts";
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

test("leases asked for at the same moment (a materialising pass takes hundreds) are each answered as if alone", async () => {
  const { first, second, close } = await twoProcesses();
  expect(await second.takeTaskLease("chat-app", "held", "server-b", 10_000)).toBe(true);
  // In one turn: free tasks, the other server's task, and one task asked for twice by two owners.
  const answers = await Promise.all([
    ...Array.from({ length: 50 }, (_, index) => first.takeTaskLease("chat-app", `free-${index}`, "server-a", 10_000)),
    first.takeTaskLease("chat-app", "held", "server-a", 10_000),
    first.takeTaskLease("chat-app", "both", "server-a", 10_000),
    first.takeTaskLease("chat-app", "both", "server-c", 10_000),
  ]);
  expect(answers).toEqual([...Array.from({ length: 50 }, () => true), false, true, false]);
  expect(await second.taskLeaseHolder("chat-app", "free-49")).toBe("server-a");
  expect(await second.taskLeaseHolder("chat-app", "held")).toBe("server-b");
  expect(await second.taskLeaseHolder("chat-app", "both")).toBe("server-a");
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

test("a store with a long queue of turns on a task leaves a gap, so another store waiting for the task gets a turn before the queue ends", async () => {
  const { first, second, close } = await twoProcesses();
  const files = [first, second].map((metadata) =>
    createTaskFiles({ backend: createMemoryBackend(), metadata, logger: consoleWarningsLogger, now: Date.now }),
  );
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  // The first store queues turns on one task for about three streaks.
  const turns = Math.ceil((3 * TURN_STREAK_MS) / 20);
  let firstDone = 0;
  const queue = Array.from({ length: turns }, () =>
    files[0]?.withTask("chat-app", "1.1", async () => {
      await sleep(20);
      firstDone++;
    }),
  );
  await sleep(50);
  let doneWhenSecondRan = -1;
  const waited = Date.now();
  await files[1]?.withTask("chat-app", "1.1", async () => {
    doneWhenSecondRan = firstDone;
  });
  const secondWaitedMs = Date.now() - waited;
  await Promise.all(queue);
  // Before, the second store waited until the first's whole queue had run.
  expect(doneWhenSecondRan).toBeLessThan(turns);
  expect(secondWaitedMs).toBeLessThan(2 * TURN_STREAK_MS + 1_000);
  await close();
});

/** A real process on this host that names itself as the store's runtime does, until it is killed. */
async function otherProcess() {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const { createProcessIdentity } = await import(${JSON.stringify(join(import.meta.dir, "../../src/runtime/process-identity.ts"))});
       console.log(createProcessIdentity().ownerId());
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const owner = await new Promise<string>((resolve) =>
    child.stdout?.once("data", (chunk) => resolve(String(chunk).trim())),
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    owner,
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

test("a process on the same host takes over at once the lease of a holder that was SIGKILLed; a live holder's lease it waits for", async () => {
  const { first, second, close } = await twoProcesses();
  const identity = createProcessIdentity();
  const files = createTaskFiles({
    backend: createMemoryBackend(),
    metadata: second,
    logger: consoleWarningsLogger,
    now: Date.now,
    identity,
  });
  const holder = await otherProcess();
  // The holder's lease would last a minute (the wait for a held lease gives up after one).
  expect(await first.takeTaskLease("chat-app", "1.1", holder.owner, 60_000)).toBe(true);
  expect(identity.ended(holder.owner)).toBe(false);
  let ran = false;
  const turn = files.withTask("chat-app", "1.1", async () => {
    ran = true;
    return first.taskLeaseHolder("chat-app", "1.1");
  });
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(ran).toBe(false);

  await holder.kill();
  expect(identity.ended(holder.owner)).toBe(true);
  const heldBy = await turn;
  expect(heldBy).not.toBe(holder.owner);
  expect(heldBy?.startsWith("proc1|")).toBe(true);
  // Given back at the end of the turn.
  expect(await first.taskLeaseHolder("chat-app", "1.1")).toBe(null);
  await close();
});

test("a live holder whose /proc entry cannot be read (/proc mounted hidepid, another user's process) keeps its lease", async () => {
  // As with hidepid: this process's own entry reads, every other process's is hidden.
  const hiding = createProcessIdentity({ stat: (pid) => (pid === "self" ? processStat("self") : null) });
  const holder = await otherProcess();
  let endedWhileAlive: boolean;
  try {
    endedWhileAlive = hiding.ended(holder.owner);
  } finally {
    await holder.kill();
  }
  expect(endedWhileAlive).toBe(false);
  expect(hiding.ended(holder.owner)).toBe(true);
});

test("an owner id of another host, another boot, or a pid now used by a later process", () => {
  const identity = createProcessIdentity();
  const mine = identity.ownerId().split("|");
  const variant = (index: number, value: string) => mine.map((part, at) => (at === index ? value : part)).join("|");
  // This process itself, and a random id (another runtime's, or none): never said to have ended.
  expect(identity.ended(mine.join("|"))).toBe(false);
  expect(identity.ended(crypto.randomUUID())).toBe(false);
  // Another host (or boot, or pid namespace): unknown, so its lease is waited out.
  expect(identity.ended(variant(1, "elsewhere"))).toBe(false);
  expect(identity.ended(variant(2, "another-boot"))).toBe(false);
  // This pid with another start time: the process that held it has ended (the pid was reused).
  expect(identity.ended(variant(5, "1"))).toBe(true);
});

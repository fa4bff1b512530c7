/**
 * Deferred fsyncs (fs-deferred-syncs.ts): what the materialiser and the sidecars rely on before
 * they call their writes durable. A failed fsync must reach the next flush, even when the round
 * that saw it was started by the timer; a path deleted meanwhile is no failure.
 */
import { expect, test } from "bun:test";
import { createDeferredSyncs } from "../../src/backends/fs-deferred-syncs.ts";

/** A syncer whose fsync of `failing` fails with `code`; every path it syncs is recorded. */
function syncerFailing(failing: string, code: string) {
  const synced: string[] = [];
  return {
    synced,
    async sync(path: string) {
      if (path === failing) throw Object.assign(new Error(`${code}: fsync failed`), { code, syscall: "fsync" });
      synced.push(path);
    },
  };
}

test("an fsync that failed in a round the timer started makes the next flush reject, and every later one", async () => {
  const syncer = syncerFailing("/root/t/log.txt.gz", "EIO");
  const deferred = createDeferredSyncs(syncer, 5);
  deferred.add("/root/t/log.txt.gz");
  deferred.add("/root/t");
  await new Promise((resolve) => setTimeout(resolve, 50)); // the timer's round ran and failed
  expect(syncer.synced).toEqual(["/root/t"]);
  await expect(deferred.flush()).rejects.toMatchObject({ code: "EIO" });
  // And to every later flush: its caller's writes may have been in that round, and the kernel
  // may answer a later fsync of the same file with success though its pages were lost.
  await expect(deferred.flush()).rejects.toMatchObject({ code: "EIO" });
});

test("concurrent flushes (the materialiser's tasks of one pass) all reject when a round they wait for failed", async () => {
  const syncer = syncerFailing("/root/a/log.txt.gz", "EIO");
  const deferred = createDeferredSyncs(syncer);
  deferred.add("/root/a/log.txt.gz"); // task a's file
  deferred.add("/root/b/log.txt.gz"); // task b's file
  const flushes = [deferred.flush(), deferred.flush()].map((flush) =>
    flush.then(
      () => "durable",
      (error: { code?: string }) => error.code,
    ),
  );
  // Whichever flush is task a's, it must not resolve: a would drop bytes whose file is not durable.
  expect(await Promise.all(flushes)).toEqual(["EIO", "EIO"]);
});

test("a failed fsync in the flush's own round rejects it; a path deleted meanwhile does not", async () => {
  const failing = syncerFailing("/root/t/metadata.json", "EIO");
  const deferred = createDeferredSyncs(failing);
  deferred.add("/root/t/metadata.json");
  await expect(deferred.flush()).rejects.toMatchObject({ code: "EIO" });

  const gone = createDeferredSyncs(syncerFailing("/root/removed/metadata.json", "ENOENT"));
  gone.add("/root/removed/metadata.json");
  await gone.flush();
});

test("flushes keep no memory of the rounds before them (the materialiser flushes once per task turn)", async () => {
  const deferred = createDeferredSyncs({ async sync() {} });
  const heapAfter = async (flushes: number) => {
    for (let index = 0; index < flushes; index++) {
      deferred.add("/root/t/log.txt.gz");
      deferred.add("/root/t");
      await deferred.flush();
    }
    Bun.gc(true);
    return process.memoryUsage().heapUsed;
  };
  const before = await heapAfter(1000);
  // ~100 bytes a flush were kept before (each round's value nested in the next): 19 MiB here.
  const growth = (await heapAfter(200_000)) - before;
  expect(growth).toBeLessThan(4 * 1024 * 1024);
});

test("a path that could not be opened for its fsync (EMFILE) is tried again; flushes reject until it is synced", async () => {
  const synced: string[] = [];
  let refusals = 2;
  const deferred = createDeferredSyncs({
    async sync(path: string) {
      if (path === "/root/t/log.txt.gz" && refusals-- > 0)
        throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE", syscall: "open" });
      synced.push(path);
    },
  });
  deferred.add("/root/t/log.txt.gz");
  await expect(deferred.flush()).rejects.toMatchObject({ code: "EMFILE" });
  await expect(deferred.flush()).rejects.toMatchObject({ code: "EMFILE" }); // nothing new added: still tried
  await deferred.flush(); // opened and synced at last: nothing was lost
  expect(synced).toEqual(["/root/t/log.txt.gz"]);
  await deferred.flush();
});

test("flushes asked for while a round runs share the next one, which syncs each path once and starts after it", async () => {
  const synced: string[] = [];
  const gates: (() => void)[] = [];
  const deferred = createDeferredSyncs({
    sync: (path: string) =>
      new Promise<void>((resolve) => {
        gates.push(() => {
          synced.push(path);
          resolve();
        });
      }),
  });
  deferred.add("/root/a/log.txt.gz");
  deferred.add("/root/spec");
  const first = deferred.flush(); // task a's round starts at once
  expect(gates).toHaveLength(2);
  // Tasks b and c end their writes while it runs; both touch the spec folder again.
  deferred.add("/root/b/log.txt.gz");
  deferred.add("/root/spec");
  const second = deferred.flush();
  deferred.add("/root/c/log.txt.gz");
  deferred.add("/root/spec");
  const third = deferred.flush();
  expect(gates).toHaveLength(2); // nothing of b's or c's is synced by a round that began before they asked
  for (const open of gates.splice(0)) open();
  await first;
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(gates).toHaveLength(3); // one round for b and c: the spec folder once
  for (const open of gates.splice(0)) open();
  await Promise.all([second, third]);
  expect(synced.slice(2).sort()).toEqual(["/root/b/log.txt.gz", "/root/c/log.txt.gz", "/root/spec"]);
});

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
      if (path === failing) throw Object.assign(new Error(`${code}: fsync failed`), { code });
      synced.push(path);
    },
  };
}

test("an fsync that failed in a round the timer started makes the next flush reject, once", async () => {
  const syncer = syncerFailing("/root/t/log.txt.gz", "EIO");
  const deferred = createDeferredSyncs(syncer, 5);
  deferred.add("/root/t/log.txt.gz");
  deferred.add("/root/t");
  await new Promise((resolve) => setTimeout(resolve, 50)); // the timer's round ran and failed
  expect(syncer.synced).toEqual(["/root/t"]);
  await expect(deferred.flush()).rejects.toMatchObject({ code: "EIO" });
  await deferred.flush(); // reported once: nothing failed since
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

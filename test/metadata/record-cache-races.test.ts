/**
 * The row cache's ordering rule (record-cache.ts), with the queries answered by hand so a lookup
 * can be held open: an answer read before this process remembered its own newer commit of the
 * series must not overwrite that row. Today's local client answers a lookup within one turn, so
 * only a slower client (or a future async one) could interleave like this.
 */
import { expect, test } from "bun:test";
import type { ArtifactRow } from "../../src/contracts/metadata-repository.ts";
import { cacheCommittedReads } from "../../src/metadata/record-cache.ts";

const ref = { specName: "s", taskId: "t", type: "log" } as const;

test("a lookup that started before this process committed a version does not hide that version from later reads", async () => {
  let answer: ((value: { record: ArtifactRow | null; quiet: boolean }) => void) | undefined;
  let lookups = 0;
  const reads = cacheCommittedReads(
    {
      readRow: () => {
        lookups++;
        return new Promise((resolve) => {
          answer = resolve;
        });
      },
      readVersion: async () => ({ record: null, quiet: true }),
      confirmRead: async () => true,
      changesSince: async () => [],
    },
    () => "stamp",
  );
  await reads.start();

  // A download looks the series up and its query is still out (it saw no version)...
  const early = reads.findRow(ref);
  // ...when an upload of this process commits version 1 (its own log entry, 1) and remembers it.
  const committed = { ...ref, id: 7, version: 1, storageKey: "s/t/log/1" } as unknown as ArtifactRow;
  reads.remember(committed, 1);
  answer?.({ record: null, quiet: false });
  expect(await early).toBeNull();

  // The next download is answered from what was remembered: version 1, with no lookup.
  const later = await reads.findRow(ref);
  expect(later?.version).toBe(1);
  expect(lookups).toBe(1);
});

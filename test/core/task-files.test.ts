/**
 * `metadata-index.json`'s rewrites: a burst of changes costs one rewrite, and on a store where a
 * rewrite is slow they come further apart, so they never take more than a small share of the time.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { consoleWarningsLogger } from "../../src/core/context.ts";
import { createTaskFiles, INDEX_COST_FACTOR } from "../../src/core/task-files.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { makeTempDir } from "../helpers/store.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("metadata-index.json: changes every few ms give one rewrite per delay, and slow rewrites space themselves out", async () => {
  const dir = await makeTempDir("task-files");
  const metadata = await openLocalMetadata({ url: join(dir.path, "metadata.db") });
  let rewrites = 0;
  let slowMs = 0;
  const counted = {
    ...metadata,
    async indexSummary() {
      rewrites++;
      await sleep(slowMs);
      return metadata.indexSummary();
    },
  };
  const backend = createMemoryBackend();
  const files = createTaskFiles({
    backend,
    metadata: counted,
    logger: consoleWarningsLogger,
    now: Date.now,
    indexDelayMs: 50,
  });
  let changes = 0;
  const changeFor = async (ms: number) => {
    for (const until = Date.now() + ms; Date.now() < until; changes++) {
      files.indexChanged();
      await sleep(5);
    }
  };

  // Quick rewrites: one per 50 ms delay, not one per change.
  await changeFor(600);
  await files.flush();
  expect(rewrites).toBeGreaterThanOrEqual(2);
  expect(rewrites).toBeLessThanOrEqual(Math.ceil(600 / 50) + 1);
  expect(rewrites).toBeLessThan(changes / 4);
  expect(await backend.head("metadata-index.json")).not.toBeNull();

  // A rewrite that takes 20 ms: the next comes INDEX_COST_FACTOR × 20 ms later (2 s), not after 50 ms.
  slowMs = 20;
  rewrites = 0;
  files.indexChanged();
  // The first slow rewrite (after the delay the last quick one set, well under a second).
  for (const until = Date.now() + 2000; rewrites === 0 && Date.now() < until; ) await sleep(10);
  await sleep(slowMs + 30);
  expect(rewrites).toBe(1);
  await changeFor(700);
  expect(rewrites).toBe(1);
  expect(INDEX_COST_FACTOR * slowMs).toBeGreaterThan(850);
  // Closing (flush) still writes what is pending at once.
  await files.flush();
  expect(rewrites).toBe(2);
  await metadata.close();
  await dir.cleanup();
});

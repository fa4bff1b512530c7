/**
 * `metadata-index.json`'s rewrites: a burst of changes costs one rewrite, and on a store where a
 * rewrite is slow they come further apart, so they never take more than a small share of the time.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { consoleWarningsLogger } from "../../src/core/context.ts";
import { createTaskFiles, INDEX_COST_FACTOR, INDEX_MAX_DELAY_MS } from "../../src/core/task-files.ts";
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

test("metadata-index.json: one slow or failed rewrite never holds the index back past its longest delay", async () => {
  const dir = await makeTempDir("task-files-cap");
  const metadata = await openLocalMetadata({ url: join(dir.path, "metadata.db") });
  // The summary is read once, so a rewrite here takes only the time the test gives it.
  const summary = await metadata.indexSummary();
  let rewrites = 0;
  let slowMs = 0;
  let fail = false;
  const counted = {
    ...metadata,
    async indexSummary() {
      rewrites++;
      if (slowMs > 0) await sleep(slowMs);
      if (fail) throw new Error("database is busy");
      return summary;
    },
  };
  const open = (indexMaxDelayMs: number) =>
    createTaskFiles({
      backend: createMemoryBackend(),
      metadata: counted,
      logger: { ...consoleWarningsLogger, warn() {} },
      now: Date.now,
      indexDelayMs: 20,
      indexMaxDelayMs,
    });
  const waitFor = async (count: number, ms: number) => {
    for (const until = Date.now() + ms; rewrites < count && Date.now() < until; ) await sleep(5);
    return rewrites;
  };
  const nextRewriteAfter = async (files: ReturnType<typeof open>) => {
    const asked = Date.now();
    files.indexChanged();
    const target = rewrites + 1;
    expect(await waitFor(target, 3000)).toBe(target);
    return Date.now() - asked;
  };

  // A rewrite stalled for 60 ms would put the next INDEX_COST_FACTOR × 60 ms (6 s) away; the cap says 200 ms.
  const capped = open(200);
  slowMs = 60;
  await nextRewriteAfter(capped);
  await sleep(slowMs + 20);
  slowMs = 0;
  const late = await nextRewriteAfter(capped);
  expect(late).toBeGreaterThanOrEqual(190);
  expect(late).toBeLessThan(1000);
  expect(INDEX_MAX_DELAY_MS).toBeLessThanOrEqual(60_000);
  await capped.flush();

  // A failed rewrite, however long it waited, does not space the next one out (no cap in the way here).
  const uncapped = open(60_000);
  await nextRewriteAfter(uncapped);
  await sleep(20);
  fail = true;
  slowMs = 150;
  await nextRewriteAfter(uncapped);
  await sleep(slowMs + 20);
  fail = false;
  slowMs = 0;
  expect(await nextRewriteAfter(uncapped)).toBeLessThan(1000);
  await uncapped.flush();
  await metadata.close();
  await dir.cleanup();
});

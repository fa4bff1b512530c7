/**
 * CPU time of each reviewer page for a 10 MiB log and a 64-file diff: what a Workers request
 * spends on the page (JavaScript, decompression, rendering), measured with process.cpuUsage
 * around `app.request` on an in-memory backend and a local libSQL file, median of the runs.
 * The edge runs the same code; its I/O wait (S3, sqld) is not CPU time.
 *
 * Run: bun bench/viewer-pages.ts [--runs 15] [--log-mib 10]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createMemoryBackend } from "../src/backends/memory.ts";
import { createArtifactStore } from "../src/core/store.ts";
import { createApp } from "../src/http/app.ts";
import { openLocalMetadata } from "../src/metadata/local.ts";
import { createNativeEngines } from "../src/runtime/engines.ts";
import { bigPatch, ciLog, junit } from "../test/helpers/reviewer-fixtures.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "15" }, "log-mib": { type: "string", default: "10" } },
});
const runs = Number(values.runs);
const logBytes = Number(values["log-mib"]) * 1024 * 1024;

const dir = await mkdtemp(join(tmpdir(), "bench-viewer-"));
try {
  const metadata = await openLocalMetadata({ url: join(dir, "metadata.db") });
  const store = createArtifactStore({
    backend: createMemoryBackend(),
    metadata,
    codecs: createNativeEngines(),
    config: { versioningEnabled: true },
  });
  const app = createApp({ store });
  // ~55 bytes a filler line: enough of them for the log size asked.
  const log = await ciLog(Math.ceil(logBytes / 55));
  const cases = Array.from(
    { length: 400 },
    (_, index) => `case${index}:${index % 23 === 0 ? "f" : index % 31 === 0 ? "s" : "p"}`,
  );
  await store.upload({ specName: "rooms", taskId: "t1", type: "log", content: log });
  await store.upload({ specName: "rooms", taskId: "t1", type: "diff", content: bigPatch() });
  await store.upload({ specName: "rooms", taskId: "t0", type: "test", content: junit(cases) });
  await store.upload({
    specName: "rooms",
    taskId: "t1",
    type: "test",
    content: junit(cases.map((entry, index) => (index % 17 === 0 ? entry.replace(":p", ":f") : entry))),
  });
  const stat = await store.stat({ specName: "rooms", taskId: "t1", type: "log" });
  const summary = stat?.summary?.kind === "log" ? stat.summary : null;
  const nearEnd = Math.max(1, (summary?.lines ?? 1000) - 50);
  console.log(
    `log: ${(log.length / 1024 / 1024).toFixed(1)} MiB, ${summary?.lines} lines, first error at line ${summary?.firstErrorLine}`,
  );

  const pages: [string, string][] = [
    ["task page (status, first failures, first log error in context)", "/ui/s/rooms/t1"],
    ["task list with status", "/ui/s/rooms"],
    ["log: tail (opens at the end)", "/ui/s/rooms/t1/log"],
    ["log: head", "/ui/s/rooms/t1/log?view=head"],
    ["log: window at a line near the end", `/ui/s/rooms/t1/log?line=${nearEnd}`],
    ["log: jump to the first error (a Range read)", `/ui/s/rooms/t1/log?line=${summary?.firstErrorLine ?? 1}`],
    ["log: search the whole log", "/ui/s/rooms/t1/log?q=exit%20code"],
    ["diff (64 files): page 1 of 4", "/ui/s/rooms/t1/diff"],
    ["diff (64 files): page 4 of 4", "/ui/s/rooms/t1/diff?page=4"],
    ["tests (400): failures first", "/ui/s/rooms/t1/test"],
    ["compare tests (page)", "/ui/compare?spec=rooms&type=test&before=t0&after=t1"],
    ["compare tests (API)", "/v1/compare?spec=rooms&type=test&before=t0&after=t1"],
  ];
  console.log(`CPU ms per request (median of ${runs}; user+system), and response size`);
  for (const [name, path] of pages) {
    const samples: number[] = [];
    let bytes = 0;
    for (let run = 0; run < runs; run++) {
      const before = process.cpuUsage();
      const response = await app.request(path);
      const body = await response.arrayBuffer();
      const used = process.cpuUsage(before);
      if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
      bytes = body.byteLength;
      samples.push((used.user + used.system) / 1000);
    }
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)] ?? Number.NaN;
    console.log(`${median.toFixed(1).padStart(8)} ms  ${(bytes / 1024).toFixed(0).padStart(6)} KiB  ${name}`);
  }
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}

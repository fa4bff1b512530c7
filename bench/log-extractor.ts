/**
 * The log structure extractor (src/core/structure/log.ts) on 64 MiB of the bench's log text,
 * fed in 256 KiB chunks as an upload feeds it, next to single-thread native gzip (level 6) of
 * the same bytes in the same run: the extractor runs on the uploading thread, so it must stay
 * well above what the upload is compared with. Prints MB/s (10^6 B) per repetition and the
 * summary's counts (which must not change between versions of the extractor).
 *
 * Usage: bun bench/log-extractor.ts [--mib 64] [--reps 3]
 */

import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { createLogExtractor } from "../src/core/structure/log.ts";
import { logBytes } from "./lib/data.ts";

const { values } = parseArgs({
  options: { mib: { type: "string", default: "64" }, reps: { type: "string", default: "3" } },
});
const size = Number(values.mib) * 1024 * 1024;
const content = logBytes(size);
const chunk = 256 * 1024;
const mbps = (seconds: number) => (size / 1e6 / seconds).toFixed(0);

for (let rep = 0; rep < Number(values.reps); rep++) {
  let started = performance.now();
  const extractor = createLogExtractor();
  for (let offset = 0; offset < size; offset += chunk) extractor.write(content.subarray(offset, offset + chunk));
  const { summary } = extractor.finish();
  const extract = (performance.now() - started) / 1000;
  started = performance.now();
  gzipSync(content, { level: 6 });
  const gzip = (performance.now() - started) / 1000;
  if (summary.kind !== "log") throw new Error("not a log summary");
  console.log(
    `log extractor ${mbps(extract)} MB/s · gzip L6 one-shot ${mbps(gzip)} MB/s · ratio ${(gzip / extract).toFixed(1)}× · ` +
      `lines ${summary.lines}, errors ${summary.errors}, warnings ${summary.warnings}, first error line ${summary.firstErrorLine}`,
  );
}

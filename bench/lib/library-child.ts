/**
 * Library-direct throughput on Bun, in its own process: upload of the content (streamed from
 * memory in 256 KiB chunks, as a file or pipe would), download as stored gzip (passthrough)
 * and decoded, and a plain read of the stored file for comparison. Prints one JSON line.
 *
 * Usage: bun library-child.ts --request '<json LibraryRequest>'
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { createNativeEngines } from "../../src/runtime/engines.ts";
import { openArtifactStore } from "../../src/runtime/local.ts";
import { chunkedStream } from "./data.ts";
import { median } from "./stats.ts";

export interface LibraryRequest {
  basePath: string;
  contentFile: string;
  repetitions: number;
}

export interface LibraryResult {
  engine: string;
  originalBytes: number;
  storedBytes: number;
  seconds: { upload: number; downloadGzip: number; downloadDecoded: number; storedFileRead: number };
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  return bytes;
}

async function timedRuns(repetitions: number, action: () => Promise<unknown>): Promise<number> {
  const runs: number[] = [];
  for (let index = 0; index < repetitions; index++) {
    const started = performance.now();
    await action();
    runs.push((performance.now() - started) / 1000);
  }
  return median(runs);
}

async function main(request: LibraryRequest): Promise<LibraryResult> {
  const content = new Uint8Array(await readFile(request.contentFile));
  const store = await openArtifactStore({
    env: {},
    overrides: { base_path: request.basePath, versioning_enabled: true, storage_quota: { max_size_gb: null } },
  });
  const ref = { specName: "bench", taskId: "library", type: "log" };
  let storedBytes = 0;
  let storedPath = "";
  const upload = await timedRuns(request.repetitions, async () => {
    const result = await store.upload({ ...ref, content: chunkedStream(content) });
    if (result.originalSize !== content.length) throw new Error(`uploaded ${result.originalSize} bytes`);
    storedBytes = result.size;
    storedPath = fileURLToPath(result.uri);
  });
  const downloadGzip = await timedRuns(request.repetitions, async () => {
    const opened = await store.open(ref, { acceptEncoding: "gzip" });
    if (opened.contentEncoding !== "gzip") throw new Error("expected gzip passthrough");
    const bytes = await drain(opened.body);
    if (bytes !== storedBytes) throw new Error(`passthrough sent ${bytes} of ${storedBytes} bytes`);
  });
  const downloadDecoded = await timedRuns(request.repetitions, async () => {
    const bytes = await drain((await store.open(ref)).body);
    if (bytes !== content.length) throw new Error(`download sent ${bytes} of ${content.length} bytes`);
  });
  const storedFileRead = await timedRuns(request.repetitions, async () => drain(Bun.file(storedPath).stream()));
  await store.close();
  return {
    // What openArtifactStore injects when given no codecs.
    engine: createNativeEngines().name,
    originalBytes: content.length,
    storedBytes,
    seconds: { upload, downloadGzip, downloadDecoded, storedFileRead },
  };
}

if (process.argv[2] === "--request") {
  console.log(JSON.stringify(await main(JSON.parse(process.argv[3] ?? "{}") as LibraryRequest)));
}

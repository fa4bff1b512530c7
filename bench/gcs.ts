/**
 * Upload and download throughput of a 64 MiB artifact through the store on the GCS backend,
 * against Google's Cloud Storage emulator (firebase-tools), started here on 127.0.0.1 in a
 * child `node` process.
 *
 *   bun bench/gcs.ts
 *
 * Two payloads: a CI log (compresses about 10:1) and random bytes (does not compress).
 * "store" rows go through the whole pipeline (SHA-256, gzip, backend; gunzip and verify on
 * the way back); "backend" rows move the stored object alone, to show the emulator's share.
 * The emulator takes a resumable upload only as one PUT, so the backend runs with a chunk
 * larger than the object: the figures measure the emulator on loopback, not Google.
 */
import { createClient } from "@libsql/client";
import { createGcsBackend } from "../src/backends/gcs.ts";
import { streamFromBytes } from "../src/codec/streams.ts";
import { createArtifactStore } from "../src/core/store.ts";
import { createLibsqlMetadata } from "../src/metadata/libsql.ts";
import { createNativeEngines } from "../src/runtime/engines.ts";
import { startGcsEmulator } from "../test/helpers/gcs-emulator.ts";
import { makeLog, randomBytes } from "../test/helpers/store.ts";

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

function logBytes(size: number): Uint8Array {
  const text = new TextEncoder().encode(makeLog(Math.ceil(size / 40)));
  if (text.length < size) throw new Error("the generated log is shorter than asked");
  return text.subarray(0, size);
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.length;
  return bytes;
}

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = performance.now();
  const result = await run();
  return { result, seconds: (performance.now() - started) / 1000 };
}

const rate = (bytes: number, seconds: number) => `${(bytes / MiB / seconds).toFixed(1).padStart(7)} MB/s`;

// A separate process: the emulator hashes every upload in JavaScript, which must not share our thread.
const emulator = await startGcsEmulator({ separateProcess: true });
try {
  await emulator.ensureBucket("bench");
  const backend = createGcsBackend({
    bucket: "bench",
    prefix: "bench/",
    // The backend as the server configures it: 8 MiB chunks, each session one streamed PUT.
    emulatorHost: emulator.host,
  });
  const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
  const store = createArtifactStore({
    backend,
    metadata,
    codecs: createNativeEngines(),
    config: { versioningEnabled: true },
  });
  const payloads = [
    { name: "log (compressible)", bytes: logBytes(SIZE) },
    { name: "random bytes", bytes: randomBytes(SIZE) },
  ];

  // Warm-up: JIT, connections, the emulator's first-request setup.
  await store.upload({ specName: "warmup", taskId: "t", type: "log", content: randomBytes(4 * MiB) });

  console.log(
    `GCS backend on the Cloud Storage emulator (firebase-tools 15.34.2, own node process), ${SIZE / MiB} MiB artifact`,
  );
  console.log(
    `${"payload".padEnd(20)} ${"path".padEnd(8)} ${"stored".padStart(9)} ${"upload".padStart(12)} ${"download".padStart(12)}`,
  );
  for (const [index, payload] of payloads.entries()) {
    const upload = await timed(() =>
      store.upload({
        specName: "bench",
        taskId: `t${index}`,
        type: "log",
        content: streamFromBytes(payload.bytes, MiB),
      }),
    );
    const download = await timed(async () => drain((await store.open(upload.result.uri)).body));
    if (download.result !== SIZE) throw new Error(`downloaded ${download.result} bytes, expected ${SIZE}`);
    const stored = `${(upload.result.size / MiB).toFixed(1)} MiB`;
    console.log(
      `${payload.name.padEnd(20)} ${"store".padEnd(8)} ${stored.padStart(9)} ${rate(SIZE, upload.seconds).padStart(12)} ${rate(SIZE, download.seconds).padStart(12)}`,
    );

    const key = `raw/${index}`;
    const put = await timed(() => backend.put(key, streamFromBytes(payload.bytes, MiB)));
    const get = await timed(async () => drain((await backend.get(key))?.body ?? new Blob([]).stream()));
    if (get.result !== SIZE) throw new Error(`backend returned ${get.result} bytes, expected ${SIZE}`);
    console.log(
      `${payload.name.padEnd(20)} ${"backend".padEnd(8)} ${`${SIZE / MiB}.0 MiB`.padStart(9)} ${rate(SIZE, put.seconds).padStart(12)} ${rate(SIZE, get.seconds).padStart(12)}`,
    );
  }
  console.log("MB/s = MiB of artifact content per second (store rows: original bytes, before gzip).");
  await store.close();
} finally {
  await emulator.stop();
}

/**
 * Upload and download throughput of a 64 MiB artifact through the store on the S3 backend,
 * against each S3-compatible test server on loopback (started here by the test helper).
 * Two kinds of content: a compressible CI log and incompressible random bytes. The
 * "backend only" rows time `put`/`get` of the same bytes without the store's gzip and
 * SHA-256, to show how much of the time is the S3 path itself.
 *
 * Run: `bun bench/s3.ts` (MB = 10^6 bytes; median of three runs each).
 */
import { createClient } from "@libsql/client";
import { createS3Backend, type S3Backend } from "../src/backends/s3.ts";
import { streamFromBytes } from "../src/codec/streams.ts";
import { createArtifactStore } from "../src/core/store.ts";
import { createLibsqlMetadata } from "../src/metadata/libsql.ts";
import { createNativeEngines } from "../src/runtime/engines.ts";
import { type S3ServerKind, startS3Server } from "../test/helpers/s3-servers.ts";
import { makeLog, randomBytes } from "../test/helpers/store.ts";

const SIZE = 64 * 1024 * 1024;
const RUNS = 3;

function logBytes(size: number): Uint8Array {
  const text = new TextEncoder().encode(makeLog(Math.ceil(size / 40)));
  if (text.length < size) throw new Error("log generator produced too little text");
  return text.subarray(0, size);
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let received = 0;
  for await (const chunk of stream) received += chunk.length;
  return received;
}

async function seconds(action: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await action();
  return (performance.now() - start) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const megabytesPerSecond = (seconds: number) => (SIZE / 1e6 / seconds).toFixed(1);

async function benchServer(kind: S3ServerKind, contents: Record<string, Uint8Array>): Promise<string[]> {
  const server = await startS3Server(kind);
  const rows: string[] = [];
  try {
    await server.createBucket("bench");
    const backend: S3Backend = createS3Backend({
      bucket: "bench",
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
    const store = createArtifactStore({
      backend,
      metadata,
      codecs: createNativeEngines(),
      config: { versioningEnabled: true },
    });
    for (const [label, bytes] of Object.entries(contents)) {
      const storeUp: number[] = [];
      const storeDown: number[] = [];
      const rawUp: number[] = [];
      const rawDown: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        let uri = "";
        storeUp.push(
          await seconds(async () => {
            ({ uri } = await store.upload({
              specName: "bench",
              taskId: label.replaceAll(" ", "-"),
              type: "log",
              content: streamFromBytes(bytes),
            }));
          }),
        );
        storeDown.push(
          await seconds(async () => {
            const received = await drain((await store.open(uri)).body);
            if (received !== SIZE) throw new Error(`downloaded ${received} bytes, expected ${SIZE}`);
          }),
        );
        const key = `raw/${label.replaceAll(" ", "-")}/${run}`;
        rawUp.push(await seconds(() => backend.put(key, streamFromBytes(bytes))));
        rawDown.push(await seconds(async () => drain((await backend.get(key))?.body ?? new ReadableStream())));
        await store.delete(uri);
        await backend.delete(key);
      }
      rows.push(
        `| ${kind} | ${label} | store | ${megabytesPerSecond(median(storeUp))} | ${megabytesPerSecond(median(storeDown))} |`,
        `| ${kind} | ${label} | backend only | ${megabytesPerSecond(median(rawUp))} | ${megabytesPerSecond(median(rawDown))} |`,
      );
    }
    await store.close();
  } finally {
    await server.dispose();
  }
  return rows;
}

const contents = { "compressible log": logBytes(SIZE), "random bytes": randomBytes(SIZE) };
const rows = [
  `64 MiB artifact, S3 backend (8 MiB parts), ${RUNS} runs each, median; Bun ${Bun.version}`,
  "| server | content | path | upload MB/s | download MB/s |",
  "|---|---|---|---|---|",
];
for (const kind of ["fauxqs", "s3rver"] as const) rows.push(...(await benchServer(kind, contents)));
console.log(rows.join("\n"));

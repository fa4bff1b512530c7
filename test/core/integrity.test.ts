import { describe, expect, test } from "bun:test";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { collectBytes } from "../../src/codec/streams.ts";
import { storageFullError } from "../../src/contracts/errors.ts";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import { freshStorePerTest, makeLog, randomBytes, sha256Hex } from "../helpers/store.ts";

const open = freshStorePerTest();

async function flipOneByte(uri: string, position: (length: number) => number): Promise<void> {
  const path = new URL(uri);
  const bytes = await readFile(path);
  const at = position(bytes.length);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  await writeFile(path, bytes);
}

describe("verify, then publish", () => {
  test("a mismatched expected checksum publishes nothing and leaves no reservation", async () => {
    const { store, backend } = await open();
    const wrong = "0".repeat(64);
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: makeLog(100), expectedChecksum: wrong })
      .catch((caught) => caught);
    expect(error.code).toBe("E_CHECKSUM_MISMATCH");
    expect(error.message).toContain(wrong);
    expect((await backend.list()).objects).toEqual([]);
    // Small content is checked before the backend is touched at all: no staging folder either.
    expect(await readdir(backend.stagingDir).catch(() => [])).toEqual([]);
    // Streamed content is checked as it streams; the failed check stops the publish.
    const streamed = await store
      .upload({
        specName: "s",
        taskId: "t",
        type: "log",
        content: new Blob([makeLog(100)]).stream(),
        expectedChecksum: wrong,
      })
      .catch((caught) => caught);
    expect(streamed.code).toBe("E_CHECKSUM_MISMATCH");
    expect((await backend.list()).objects).toEqual([]);
    expect(await readdir(backend.stagingDir)).toEqual([]);
    expect(await store.search({})).toEqual([]);
    expect((await store.stats()).quota.usedBytes).toBe(0);
  });

  test("a matching expected checksum (any hex case) is accepted", async () => {
    const { store } = await open();
    const log = makeLog(100);
    const checksum = (await sha256Hex(log)).toUpperCase();
    const result = await store.upload({
      specName: "s",
      taskId: "t",
      type: "log",
      content: log,
      expectedChecksum: checksum,
    });
    expect(result.originalChecksum).toBe(checksum.toLowerCase());
  });

  test("a content stream that fails mid-way publishes nothing and leaves no staging file", async () => {
    const { store, backend } = await open();
    let sent = 0;
    const content = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 5) controller.enqueue(randomBytes(256 * 1024));
        else controller.error(new Error("connection reset by peer"));
      },
    });
    const error = await store.upload({ specName: "s", taskId: "t", type: "log", content }).catch((caught) => caught);
    expect(error.code).toBe("E_INVALID_INPUT");
    expect(error.message).toContain("connection reset by peer");
    expect((await backend.list()).objects).toEqual([]);
    expect(await readdir(backend.stagingDir)).toEqual([]);
    expect((await store.stats()).pendingUploads).toBe(0);
  });

  test("aborting the signal mid-stream publishes nothing", async () => {
    const { store, backend } = await open();
    const controller = new AbortController();
    let sent = 0;
    const content = new ReadableStream<Uint8Array>({
      async pull(stream) {
        if (++sent === 4) controller.abort(new Error("user pressed ctrl-c"));
        stream.enqueue(randomBytes(128 * 1024));
        await new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "log", content, signal: controller.signal })
      .catch((caught) => caught);
    expect(error.code).toBe("E_INVALID_INPUT");
    expect(error.message).toContain("aborted");
    expect((await backend.list()).objects).toEqual([]);
    expect(await readdir(backend.stagingDir)).toEqual([]);
  });

  test("an upload whose backend write fails leaves no row and no object", async () => {
    const { store } = await open({}, (backend) => failingPuts(backend, 1024 * 1024));
    const error = await store
      .upload({ specName: "s", taskId: "t", type: "log", content: randomBytes(2_000_000) })
      .catch((caught) => caught);
    expect(error.code).toBe("E_STORAGE_FULL");
    expect(await store.search({})).toEqual([]);
    expect((await store.stats()).pendingUploads).toBe(0);
  });
});

describe("download verifies while streaming", () => {
  test("one flipped byte inside the stored gzip is caught, the stream errors and the version is flagged corrupt", async () => {
    const { store, logs } = await open();
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: makeLog(20_000) });
    await flipOneByte(result.uri, (length) => Math.floor(length / 2));
    const error = await store.download(result.uri).catch((caught) => caught);
    expect(error.code).toBe("E_CORRUPT");
    expect((await store.stat(result.uri))?.integrity).toBe("corrupt");
    expect(store.metrics().checksumFailures).toBe(1);
    expect(logs.some((entry) => entry.level === "error" && entry.fields?.uri === result.uri)).toBe(true);
    // Fails closed from now on, even without verification.
    const again = await store.download(result.uri, { verifyChecksum: false }).catch((caught) => caught);
    expect(again.code).toBe("E_CORRUPT");
  });

  test("a flipped byte in an uncompressed artifact is caught by the checksum alone", async () => {
    const { store } = await open({ compressionEnabled: false });
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: randomBytes(100_000) });
    await flipOneByte(result.uri, () => 12_345);
    const opened = await store.open(result.uri);
    const error = await collectBytes(opened.body).catch((caught) => caught);
    expect(error.code).toBe("E_CORRUPT");
    expect(error.message).toContain("checksum");
  });

  test("gzip passthrough verifies the stored checksum without decompressing", async () => {
    const { store } = await open();
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: makeLog(5000) });
    // Flip a byte of the gzip trailer's size field: gunzip would notice, a raw byte copy would not.
    await flipOneByte(result.uri, (length) => length - 1);
    expect((await store.prepareOpen(result.uri, { acceptEncoding: "gzip" })).contentEncoding).toBe("gzip");
    // A small version is read whole and fails before a byte is handed out; a larger one while streaming.
    const error = await store
      .open(result.uri, { acceptEncoding: "gzip" })
      .then((opened) => collectBytes(opened.body))
      .catch((caught) => caught);
    expect(error.code).toBe("E_CORRUPT");
    expect((await store.stat(result.uri))?.integrity).toBe("corrupt");
  });

  test("with verification off a flipped byte of uncompressed content is not checked", async () => {
    const { store } = await open({ compressionEnabled: false, verifyChecksum: false });
    const content = new TextEncoder().encode("abcdefgh");
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content });
    await flipOneByte(result.uri, () => 0);
    expect(new TextDecoder().decode(await store.download(result.uri))).toBe("`bcdefgh");
    expect((await store.stat(result.uri))?.integrity).toBe("ok");
    // Asking for verification per call still catches it.
    expect((await store.download(result.uri, { verifyChecksum: true }).catch((error) => error)).code).toBe("E_CORRUPT");
  });

  test("a stored object that disappeared is reported corrupt, not a silent empty body", async () => {
    const { store, backend } = await open();
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: "gone soon" });
    await backend.delete("s/t/log.txt.gz");
    expect((await store.download(result.uri).catch((error) => error)).code).toBe("E_CORRUPT");
  });
});

describe("backpressure and bounded memory", () => {
  test("upload reads content only as fast as storage takes it", async () => {
    const chunkSize = 64 * 1024;
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    const { store } = await open({}, (backend) => slowPuts(backend, (bytes) => (consumed += bytes)));
    const content = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (produced >= 400) return controller.close();
        produced++;
        maxAhead = Math.max(maxAhead, produced * chunkSize - consumed);
        controller.enqueue(randomBytes(chunkSize));
      },
    });
    await store.upload({ specName: "s", taskId: "t", type: "log", content });
    // 25 MiB went through; the producer never ran more than a few chunks ahead of storage.
    expect(produced).toBe(400);
    expect(maxAhead).toBeLessThan(16 * chunkSize);
  });

  test("download produces bytes only as fast as the reader reads", async () => {
    const { store } = await open({ compressionEnabled: false });
    const size = 16 * 1024 * 1024;
    const result = await store.upload({ specName: "s", taskId: "t", type: "log", content: randomBytes(size) });
    const opened = await store.open(result.uri);
    const reader = opened.body.getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The reader took one chunk and paused: the store must not have read the whole file meanwhile.
    expect(store.metrics().downloadedBytes).toBeLessThan(4 * 1024 * 1024);
    await reader.cancel();
  });
});

/** Wraps a backend so that blob puts fail after `okBytes` bytes, as when the disk fills up. */
function failingPuts(backend: StorageBackend, okBytes: number): StorageBackend {
  return {
    ...backend,
    put(key, body, options) {
      let seen = 0;
      const failing = body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            seen += chunk.length;
            if (seen > okBytes) throw storageFullError("fs", "writing a blob failed", { cause: { code: "ENOSPC" } });
            controller.enqueue(chunk);
          },
        }),
      );
      return backend.put(key, failing, options);
    },
  };
}

/** Wraps a backend so that blob puts consume slowly and report what they consumed. */
function slowPuts(backend: StorageBackend, onConsumed: (bytes: number) => void): StorageBackend {
  return {
    ...backend,
    put(key, body, options) {
      const slow = body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, controller) {
            await new Promise((resolve) => setTimeout(resolve, 0));
            onConsumed(chunk.length);
            controller.enqueue(chunk);
          },
        }),
      );
      return backend.put(key, slow, options);
    },
  };
}

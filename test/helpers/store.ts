import { afterEach } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFsBackend, type FsBackend } from "../../src/backends/fs.ts";
import type { MetadataRepository } from "../../src/contracts/metadata-repository.ts";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import type { Logger } from "../../src/contracts/types.ts";
import type { StoreSettings } from "../../src/core/settings.ts";
import { type ArtifactStore, type CreateArtifactStoreOptions, createArtifactStore } from "../../src/core/store.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";

export { makeLog, randomBytes } from "./content.ts";

/** A fresh directory under the system temp dir, removed by `cleanup`. */
export async function makeTempDir(label = "artifact-store-test"): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `${label}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export interface TestStore {
  store: ArtifactStore;
  backend: FsBackend;
  metadata: MetadataRepository;
  root: string;
  logs: { level: string; message: string; fields?: Record<string, unknown> }[];
  /** Moves the store's clock. */
  clock: { now: number };
  cleanup(): Promise<void>;
}

/** A store on a real temp directory and a real libSQL file. */
export async function makeFsStore(
  config: Partial<StoreSettings> = {},
  backendOverride?: (backend: FsBackend) => StorageBackend,
  options: Pick<CreateArtifactStoreOptions, "inlineSmallUploads"> = {},
): Promise<TestStore> {
  const dir = await makeTempDir();
  const backend = createFsBackend({ root: dir.path });
  const metadata = await openLocalMetadata({ url: join(dir.path, ".store", "metadata.db") });
  const logs: TestStore["logs"] = [];
  const clock = { now: Date.now() };
  let closed = false;
  const store = createArtifactStore({
    backend: backendOverride ? backendOverride(backend) : backend,
    metadata,
    config,
    logger: recordingLogger(logs),
    now: () => clock.now,
    ...options,
  });
  return {
    store,
    backend,
    metadata,
    root: dir.path,
    logs,
    clock,
    async cleanup() {
      if (closed) return;
      closed = true;
      await store.close().catch(() => {}); // a test may have closed it already
      await dir.cleanup();
    },
  };
}

/**
 * Registers an afterEach that cleans up the store the test opened: `const open = freshStorePerTest();`
 * then `const fixture = await open(config)` inside a test.
 */
export function freshStorePerTest(): (...args: Parameters<typeof makeFsStore>) => Promise<TestStore> {
  let current: TestStore | undefined;
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return async (...args) => {
    current = await makeFsStore(...args);
    return current;
  };
}

export function recordingLogger(logs: TestStore["logs"]): Logger {
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    logs.push({ level, message, ...(fields ? { fields } : {}) });
  };
  return { debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") };
}

export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A stream that yields `chunks` then fails with `error`. */
export function failingStream(chunks: Uint8Array[], error: Error): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream({
    pull(controller) {
      const chunk = chunks[index++];
      if (chunk) controller.enqueue(chunk);
      else controller.error(error);
    },
  });
}

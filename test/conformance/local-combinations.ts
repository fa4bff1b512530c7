/**
 * Combinations for runtimes with a filesystem (Bun, Node, Deno): fs blobs in a temp directory
 * with metadata in a local libSQL file, and fs blobs with an embedded replica that syncs from
 * the harness's sqld (reads local, writes forwarded to the primary). Uses `node:` modules,
 * so the workerd runner never imports this file.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { createFsBackend } from "../../src/backends/fs.ts";
import type { openLocalMetadata } from "../../src/metadata/local.ts";
import { type ConformanceContext, dropAllTables, type StoreCombination, silentLogger } from "./context.ts";

/** What the fs combinations need beyond the pure library, as the runtime imported it. */
export interface LocalLibrary {
  createFsBackend: typeof createFsBackend;
  openLocalMetadata: typeof openLocalMetadata;
}

export function fsFileCombination(context: ConformanceContext, local: LocalLibrary): StoreCombination {
  return fsCombination(context, local, "fs + libSQL file", (directory) =>
    local.openLocalMetadata({ url: join(directory, ".store", "metadata.db") }),
  );
}

/**
 * The embedded replica: a local file kept in sync with sqld over HTTP. The primary's tables
 * are dropped first, so every store starts from an empty database too. The replica file is
 * kept from store to store (in the combination's own directory, removed by `dispose`): a fresh
 * replica would replay the primary's whole history on its first sync, which grows with every
 * case run before it.
 */
export function fsReplicaCombination(context: ConformanceContext, local: LocalLibrary): StoreCombination {
  const { sqld } = context.services;
  let replicaDirectory: Promise<string> | undefined;
  const combination = fsCombination(context, local, "fs + embedded replica of sqld", async () => {
    const primary = context.library.createWebClient({ url: sqld.url, authToken: sqld.authToken });
    try {
      await dropAllTables(primary);
    } finally {
      primary.close();
    }
    replicaDirectory ??= mkdtemp(join(tmpdir(), `conformance-${context.runtime}-replica-`));
    return local.openLocalMetadata({
      url: join(await replicaDirectory, "replica.db"),
      syncUrl: sqld.url,
      authToken: sqld.authToken,
    });
  });
  return {
    ...combination,
    async dispose() {
      if (replicaDirectory) await rm(await replicaDirectory, { recursive: true, force: true });
    },
  };
}

function fsCombination(
  context: ConformanceContext,
  local: LocalLibrary,
  name: string,
  openMetadata: (directory: string) => ReturnType<LocalLibrary["openLocalMetadata"]>,
): StoreCombination {
  return {
    name,
    async open(options = {}) {
      const directory = await mkdtemp(join(tmpdir(), `conformance-${context.runtime}-`));
      try {
        const backend = local.createFsBackend({ root: directory });
        const metadata = await openMetadata(directory);
        const store = context.library.createArtifactStore({
          backend,
          metadata,
          codecs: context.engines,
          config: options.settings ?? {},
          logger: silentLogger,
          ...(options.now ? { now: options.now } : {}),
        });
        return {
          store,
          backend,
          async close() {
            try {
              await store.close();
            } finally {
              await rm(directory, { recursive: true, force: true });
            }
          },
        };
      } catch (error) {
        await rm(directory, { recursive: true, force: true });
        throw error;
      }
    },
  };
}

/**
 * Opens metadata databases on Bun and Node: local `file:` databases (WAL mode, busy timeout),
 * embedded replicas (`syncUrl`), and remote URLs through the same native client.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { type Client, createClient } from "@libsql/client";
import { toArtifactStoreError } from "../core/errors.ts";
import { createLibsqlMetadata } from "./libsql.ts";
import type { MetadataRepository } from "./metadata-repository.ts";

export interface LocalMetadataOptions {
  /** A file path, or a `file:`, `libsql:`, `http(s):` or `ws(s):` URL. */
  url: string;
  authToken?: string;
  /** Embedded replica: keep a local copy of this remote database (`url` must be a file). */
  syncUrl?: string;
  /** Seconds between background syncs of an embedded replica. */
  syncIntervalSeconds?: number;
  /** `"strict"` (default) syncs every commit to disk; `"relaxed"` lets SQLite batch syncs (WAL, synchronous=NORMAL). */
  durability?: "strict" | "relaxed";
}

/** Opens a libSQL client for a file path or URL, creating the file's directory when needed. */
export async function openLibsqlClient(options: LocalMetadataOptions): Promise<Client> {
  const isRemote = /^(libsql|https?|wss?):/i.test(options.url);
  let url = options.url;
  if (!isRemote && !url.startsWith("file:") && url !== ":memory:") {
    await mkdir(dirname(url), { recursive: true });
    url = pathToFileURL(url).href;
  }
  try {
    const client = createClient({
      url,
      ...(options.authToken ? { authToken: options.authToken } : {}),
      ...(options.syncUrl ? { syncUrl: options.syncUrl } : {}),
      ...(options.syncIntervalSeconds ? { syncInterval: options.syncIntervalSeconds } : {}),
      // One connection: the native driver is synchronous, so more buy nothing, and
      // per-connection pragmas below then hold for every statement.
      concurrency: 1,
      timeout: 10_000,
    });
    if (!isRemote && url !== ":memory:") {
      if (!options.syncUrl) await client.execute("PRAGMA journal_mode = WAL");
      await client.execute(`PRAGMA synchronous = ${options.durability === "relaxed" ? "NORMAL" : "FULL"}`);
    }
    return client;
  } catch (error) {
    throw toArtifactStoreError(error, "E_BACKEND", `[metadata] cannot open ${redact(options.url)}`);
  }
}

/**
 * A metadata repository on a local libSQL file (or any URL the native client supports).
 *
 * @example
 * const metadata = await openLocalMetadata({ url: "/var/lib/artifacts/.store/metadata.db" });
 */
export async function openLocalMetadata(options: LocalMetadataOptions): Promise<MetadataRepository> {
  const client = await openLibsqlClient(options);
  if (options.syncUrl) await client.sync();
  try {
    return await createLibsqlMetadata({ client });
  } catch (error) {
    client.close();
    throw error;
  }
}

function redact(url: string): string {
  return url.replace(/(authToken=)[^&]+/i, "$1***");
}

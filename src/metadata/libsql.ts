/**
 * MetadataRepository on drizzle-orm over any @libsql/client `Client`: a local file, an
 * embedded replica, a sqld server or Turso. The client is injected, so this module stays
 * free of runtime-specific imports; `src/metadata/local.ts` opens `file:` databases.
 */
import type { Client } from "@libsql/client";
import { drizzle } from "drizzle-orm/libsql/web";
import type { MetadataRepository } from "../contracts/metadata-repository.ts";
import { retryingWhenBusy } from "./busy-retry.ts";
import { createBrowseQueries } from "./libsql-browse.ts";
import { createEditQueries } from "./libsql-edits.ts";
import { createInlineQueries } from "./libsql-inline.ts";
import { createLiveLogQueries } from "./libsql-live.ts";
import { createLookupQueries } from "./libsql-lookup.ts";
import { createPendingQueries } from "./libsql-pending.ts";
import { createPublishQueries } from "./libsql-publish.ts";
import { createRemovalQueries } from "./libsql-removal.ts";
import { createRepairQueries } from "./libsql-repair.ts";
import { createSearchQuery } from "./libsql-search.ts";
import { createStructureQueries } from "./libsql-structure.ts";
import { createTaskQueries } from "./libsql-tasks.ts";
import { createUsageQueries } from "./libsql-usage.ts";
import { applyMigrations } from "./migrate.ts";
import { migrations } from "./migrations.ts";
import { cacheCommittedReads } from "./record-cache.ts";
import { createWriteBatcher } from "./write-batcher.ts";

export interface LibsqlMetadataOptions {
  client: Client;
  /** Apply pending migrations before the first query (default true). */
  migrate?: boolean;
  /** Runs after every write transaction, before its callers hear of it (the local opener fsyncs the WAL). */
  afterCommit?: () => Promise<void>;
  /**
   * Join concurrent callers' writes into one transaction (default true). The Workers entry turns
   * it off: there one request's I/O must not carry another request's statements.
   */
  groupCommits?: boolean;
}

/**
 * @example
 * import { createClient } from "@libsql/client/web";
 * const metadata = await createLibsqlMetadata({ client: createClient({ url: "http://127.0.0.1:8080" }) });
 */
export async function createLibsqlMetadata(options: LibsqlMetadataOptions): Promise<MetadataRepository> {
  // Every statement and batch waits out another process's lock (two servers on one database).
  const client = retryingWhenBusy(options.client);
  if (options.migrate ?? true) await applyMigrations(client, migrations);
  const db = drizzle(client);

  const writes = createWriteBatcher(db, options.afterCommit, options.groupCommits ?? true);
  // Task leases need no fsync and must not wait for one: their own batcher (see libsql-tasks.ts).
  const leases = createWriteBatcher(db, undefined, options.groupCommits ?? true);
  const { findById, readVersion, readRow, changesSince, ...lookups } = createLookupQueries(db);
  const publish = createPublishQueries(db, writes);
  // A local file's client tells when anything was committed: the rows downloads read are kept
  // until the change log names their series (see record-cache.ts).
  const stamped = client as Client & { changeStamp?: () => string };
  const cache = stamped.changeStamp
    ? cacheCommittedReads({ readVersion, readRow, confirmRead: publish.confirmRead, changesSince }, () =>
        (stamped.changeStamp as () => string)(),
      )
    : undefined;
  await cache?.start();
  const edits = createEditQueries(db, writes, findById);
  const reads = cache ? { findVersion: cache.findVersion, findRow: cache.findRow, confirmRead: cache.confirmRead } : {};

  return {
    ...createPendingQueries(db, writes),
    ...publish,
    ...createTaskQueries(db, leases),
    ...lookups,
    ...edits,
    ...createRemovalQueries(db, writes),
    ...createRepairQueries(db, writes),
    ...createStructureQueries(db, writes),
    ...createBrowseQueries(db),
    ...createLiveLogQueries(db, writes),
    ...createSearchQuery(db),
    ...createUsageQueries(db),
    ...reads,
    // Last-access times are not logged (they change no read): the rows kept here are told.
    ...(cache
      ? {
          async touch(ids: number[], at: number) {
            await edits.touch(ids, at);
            cache.touched(ids, at);
          },
        }
      : {}),
    // Bytes inline in the database only where the database is a local file (its WAL fsync is the
    // upload's one fsync); remote databases keep every byte in the backend.
    ...(cache ? createInlineQueries(db, writes, cache.remember) : {}),

    async close() {
      client.close();
    },
  };
}

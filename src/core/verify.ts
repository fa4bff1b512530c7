/** `verify`: scrubs every stored checksum, flags what fails, clears flags of what passes again. */
import { toHex } from "../codec/engines.ts";
import { observeStream } from "../codec/streams.ts";
import type { ArtifactRecord } from "../contracts/metadata-repository.ts";
import { forEachConcurrently } from "../lib/concurrency.ts";
import type { StoreContext } from "./context.ts";
import { flagCorrupt } from "./records.ts";
import { getStored } from "./task-inline.ts";

/** Versions read from the database per page. */
const BATCH = 500;

export interface VerifyOptions {
  /** Also decompress and check the content's checksum (default: stored bytes only). */
  deep?: boolean;
  /** Versions checked at once (default 4). */
  concurrency?: number;
  onProgress?: (progress: { checked: number; total: number; bytes: number; corrupt: number }) => void;
}

export interface VerifyReport {
  checked: number;
  /** Stored bytes read. */
  bytes: number;
  corrupt: { uri: string; reason: string }[];
  /** Versions flagged corrupt earlier that verify again (restored from elsewhere): flag cleared. */
  recovered: string[];
  durationMs: number;
}

export async function verifyStore(ctx: StoreContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now();
  const total = (await ctx.metadata.usage()).committedCount;
  const report: VerifyReport = { checked: 0, bytes: 0, corrupt: [], recovered: [], durationMs: 0 };
  for (let after = 0; ; ) {
    const batch = await ctx.metadata.listCommittedAfter(after, BATCH);
    if (batch.length === 0) break;
    after = (batch.at(-1) as ArtifactRecord).id;
    await forEachConcurrently(batch, options.concurrency ?? 4, async (record) => {
      const problem = await checkRecord(ctx, record, options.deep ?? false, (bytes) => (report.bytes += bytes));
      report.checked++;
      if (problem) {
        report.corrupt.push({ uri: record.uri, reason: problem });
        if (record.integrity !== "corrupt") await flagCorrupt(ctx, record, problem);
      } else if (record.integrity === "corrupt") {
        await ctx.metadata.setIntegrity(record.id, "ok");
        report.recovered.push(record.uri);
        ctx.logger.info("artifact verifies again; corrupt flag cleared", { uri: record.uri });
      }
      options.onProgress?.({ checked: report.checked, total, bytes: report.bytes, corrupt: report.corrupt.length });
    });
  }
  report.durationMs = Date.now() - started;
  return report;
}

/** Reads one version and returns what is wrong with it, or null. */
async function checkRecord(
  ctx: StoreContext,
  record: ArtifactRecord,
  deep: boolean,
  onBytes: (bytes: number) => void,
): Promise<string | null> {
  let object: Awaited<ReturnType<typeof ctx.backend.get>>;
  try {
    object = await getStored(ctx.backend, ctx.metadata, record);
  } catch (error) {
    return `stored object could not be read: ${String(error)}`;
  }
  if (!object) {
    // Deleted, superseded or moved while the scrub ran: nothing to flag.
    if (!(await stillAt(ctx, record))) return null;
    return `stored object ${record.storageKey} is missing`;
  }
  const storedHash = ctx.codecs.createSha256();
  const originalHash = ctx.codecs.createSha256();
  let storedSize = 0;
  let originalSize = 0;
  let stream = object.body.pipeThrough(
    observeStream({
      onChunk(chunk) {
        storedSize += chunk.length;
        onBytes(chunk.length);
        storedHash.update(chunk);
      },
    }),
  );
  if (deep) {
    if (record.compressed) stream = stream.pipeThrough(ctx.codecs.createGunzip());
    stream = stream.pipeThrough(
      observeStream({
        onChunk(chunk) {
          originalSize += chunk.length;
          originalHash.update(chunk);
        },
      }),
    );
  }
  try {
    for await (const _chunk of stream) {
      // draining: the observers do the work
    }
  } catch (error) {
    return `stored bytes could not be decoded: ${error instanceof Error ? error.message : String(error)}`;
  }
  const storedChecksum = toHex(storedHash.digest());
  // The seed path may have been replaced by a new version while it was read: not damage.
  if ((storedSize !== record.size || storedChecksum !== record.checksum) && !(await stillAt(ctx, record))) return null;
  if (storedSize !== record.size || storedChecksum !== record.checksum) {
    return `stored bytes: ${storedSize} with SHA-256 ${storedChecksum}, expected ${record.size} with ${record.checksum}`;
  }
  if (deep) {
    const originalChecksum = toHex(originalHash.digest());
    if (originalSize !== record.originalSize || originalChecksum !== record.originalChecksum) {
      return `content: ${originalSize} bytes with SHA-256 ${originalChecksum}, expected ${record.originalSize} with ${record.originalChecksum}`;
    }
  }
  return null;
}

/** Whether the version's row still names the key it was read from, with nothing publishing over it. */
async function stillAt(ctx: StoreContext, record: ArtifactRecord): Promise<boolean> {
  return ctx.metadata.confirmRead(record);
}

/**
 * Versions committed inline (a small first version's bytes in the database with its row, see
 * `MetadataRepository.commitInline`) are materialised here: written at their keys, the task's
 * `metadata.json` rewritten once, both made durable, then the inline bytes dropped in one
 * transaction. It runs in a task's turn (`TaskFiles.withTask`), first thing: every turn of a
 * task (a replacement's publish, a delete, a PATCH's rewrite, the retention sweep, a background
 * pass) finds its files as the database says. The rows are read in the turn, so the bytes go to
 * the key each row names then: a replacement that ran while they could not be written (a full
 * disk) re-keyed or removed their row, and they follow it. A crash anywhere leaves the bytes
 * inline; the next turn of the task writes them again (the same bytes at the same key).
 */
import { streamFromBytes } from "../codec/streams.ts";
import type { ArtifactRecord, MetadataRepository } from "../contracts/metadata-repository.ts";
import { type ByteRange, resolveRange, type StorageBackend, type StoredObject } from "../contracts/storage-backend.ts";
import type { Logger } from "../contracts/types.ts";
import type { UnwrittenInline } from "./unwritten-inline.ts";

/** The turn `work` runs in: the lease's owner, for a commit that gives the lease back itself. */
export interface TaskTurn {
  /** This process's lease owner id (see `FinishPublishInput.releaseLease`). */
  readonly owner: string;
  /** The lease went back with a commit: the turn's end gives nothing back. */
  released(): void;
}

/**
 * Versions committed inline are materialised by a background pass at most this long after their
 * commit, or as soon as the pass before ends (one pass at a time; each takes every task that
 * waits, up to {@link MATERIALISE_BATCH}).
 */
export const MATERIALISE_DELAY_MS = 2;
/** Tasks one materialising pass takes (their turns run concurrently, so their commits are grouped). */
const MATERIALISE_BATCH = 256;

/**
 * How long a pass's fsync round waits for tasks still writing once no other task of the pass has
 * finished (or ended) for this long: the round starts without them. Tasks that finish one after
 * another all share the round, however long the pass takes (creates on a disk that is slow to
 * allocate inodes: up to 0.7 ms each here after a mass delete); a task whose turn waits behind
 * another process's lease, or a long turn of its own, holds back no one longer than this after
 * the last one to finish, nor longer than {@link SHARED_ROUND_MAX_WAIT_MS} after the first.
 */
export const SHARED_ROUND_WAIT_MS = 20;
/**
 * The longest a task that has written its files waits for a round (each holds its task's lease
 * until its round ends): tasks finishing just under {@link SHARED_ROUND_WAIT_MS} apart do not
 * hold the first one back for the whole pass.
 */
export const SHARED_ROUND_MAX_WAIT_MS = 250;

type Task = { specName: string; taskId: string };

/** Makes a task's writes durable: the fsync round its pass shares (see {@link createSharedRound}). */
export type DurableRound = () => Promise<void>;

/**
 * The background passes of `TaskFiles` (`materialiseSoon`, `drainInline`): `takeTurn` takes a
 * task's turn, which materialises its inline versions first thing, making them durable through
 * `durable` (one fsync round and then one drop transaction for the tasks of a pass).
 */
export function createMaterialiser(
  takeTurn: (specName: string, taskId: string, durable: DurableRound) => Promise<unknown>,
  metadata: MetadataRepository,
  logger: Logger,
  flush: () => Promise<void>,
  delayMs = MATERIALISE_DELAY_MS,
) {
  /** Tasks waiting for a background pass, and the pass running now. */
  const waiting = new Map<string, Task>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  /** Takes each task's turn; resolves with how many turns succeeded. */
  const pass = async (tasks: Task[]): Promise<number> => {
    const round = createSharedRound(tasks.length, flush);
    const outcomes = await Promise.all(
      tasks.map(({ specName, taskId }) => {
        const member = round.member();
        return takeTurn(specName, taskId, member.durable)
          .finally(member.done)
          .then(
            () => 1,
            (error: unknown) => {
              logger.warn("could not materialise a task's inline versions; the next turn of the task retries", {
                task: `${specName}/${taskId}`,
                error: String(error),
              });
              return 0;
            },
          );
      }),
    );
    return outcomes.reduce<number>((sum, outcome) => sum + outcome, 0);
  };
  const schedule = () => {
    timer = setTimeout(() => {
      timer = undefined;
      const tasks = [...waiting.values()].slice(0, MATERIALISE_BATCH);
      for (const task of tasks) waiting.delete(`${task.specName}/${task.taskId}`);
      running = pass(tasks).then(() => {
        running = undefined;
        if (waiting.size > 0) schedule();
      });
    }, delayMs);
    // A pending pass does not keep a process alive; the next open, gc or close() drains.
    (timer as { unref?: () => void }).unref?.();
  };
  return {
    materialiseSoon(specName: string, taskId: string): void {
      waiting.set(`${specName}/${taskId}`, { specName, taskId });
      if (timer === undefined && !running) schedule();
    },

    async drainInline(): Promise<void> {
      if (!metadata.inlineTasks) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      waiting.clear();
      for (let passes = 0; passes < 1000; passes++) {
        const tasks = await metadata.inlineTasks(MATERIALISE_BATCH);
        if (tasks.length === 0) return;
        // A pass that fails for every task leaves them for the next drain (open, gc, close).
        if ((await pass(tasks)) === 0) return;
      }
    },
  };
}

/**
 * Writes the task's inline versions at their keys and drops their inline bytes; false when there
 * were none. With `turn` (a turn that does nothing else) the lease goes back in the drop's commit.
 * `durable` makes the writes durable (default: the backend's own flush of deferred writes).
 */
export async function materialiseTask(
  parts: {
    backend: StorageBackend;
    metadata: MetadataRepository;
    writeTask: (specName: string, taskId: string, records: ArtifactRecord[]) => Promise<void>;
    /** This process's list of versions it committed inline: the ones written here leave it. */
    unwritten?: UnwrittenInline;
  },
  specName: string,
  taskId: string,
  turn?: TaskTurn,
  durable?: DurableRound,
): Promise<boolean> {
  const { backend, metadata, writeTask } = parts;
  if (!metadata.listInline || !metadata.dropInline) return false;
  // The task's rows and the bytes still inline, in one read.
  const task = await metadata.listInline({ specName, taskId });
  if (task.length === 0) return false;
  // Replacing: what is at the key can only be an earlier materialisation of these same bytes
  // (the upload refused a key that held anything, and every other write to the task waits for this).
  // Written without an fsync each, then made durable together with `metadata.json` (and whatever
  // else was deferred) before the inline bytes go: one round of concurrent fsyncs per pass.
  const deferred = backend.syncDeferred ? "deferred" : "immediate";
  const written = task.flatMap(({ record, bytes }) => (bytes ? [{ record, bytes }] : []));
  await Promise.all(
    written.map(({ record, bytes }) =>
      backend.put(record.storageKey, streamFromBytes(bytes), {
        contentType: record.compressed ? "application/gzip" : record.mimeType,
        contentLength: bytes.length,
        durability: deferred,
      }),
    ),
  );
  await writeTask(
    specName,
    taskId,
    task.map(({ record }) => record),
  );
  await (durable ? durable() : backend.syncDeferred?.());
  await metadata.dropInline(
    written.map(({ record }) => record.id),
    turn ? { specName, taskId, owner: turn.owner } : undefined,
  );
  turn?.released();
  parts.unwritten?.delete(written.map(({ record }) => record.id));
  return true;
}

/**
 * One fsync round for the `size` tasks of a pass: each member calls `durable` once its files are
 * written (or `done` when it ends without), and the round (`flush`) starts once every member has,
 * or, when some are still writing, once none has for {@link SHARED_ROUND_WAIT_MS} (at most
 * {@link SHARED_ROUND_MAX_WAIT_MS} after the first caller waiting for it); later
 * callers share the next round, started the same way. Each caller is answered by a round that
 * started after it called, so its writes are in it.
 */
export function createSharedRound(
  size: number,
  flush: () => Promise<void>,
  waitMs = SHARED_ROUND_WAIT_MS,
  maxWaitMs = SHARED_ROUND_MAX_WAIT_MS,
) {
  /** Members that have neither asked for the round nor ended. */
  let writing = size;
  let waiting: Array<(round: Promise<void>) => void> = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** When the first caller waiting for the next round asked. */
  let firstAsked = 0;
  const start = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const callers = waiting;
    waiting = [];
    firstAsked = 0;
    const round = flush();
    for (const answer of callers) answer(round);
  };
  const settle = () => {
    if (waiting.length === 0) return;
    if (writing === 0) return start();
    const now = Date.now();
    if (firstAsked === 0) firstAsked = now;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(start, Math.max(0, Math.min(waitMs, firstAsked + maxWaitMs - now)));
  };
  return {
    member() {
      let counted = true;
      const leave = () => {
        if (!counted) return false;
        counted = false;
        writing--;
        return true;
      };
      return {
        durable: (): Promise<void> => {
          const answered = new Promise<void>((answer) => waiting.push(answer));
          leave();
          settle();
          return answered;
        },
        done: () => {
          if (leave()) settle();
        },
      };
    },
  };
}

/**
 * A version's stored object: from the backend, else (committed inline, not yet materialised)
 * from the database. Bytes dropped between the two looks were materialised meanwhile: the
 * backend has them now. `unwritten` (a version this process committed inline and has not
 * written out) looks in the database first, and at the backend only when the bytes are gone,
 * calling it then (written out by another process, or removed: later reads go to the backend first).
 */
export async function getStored(
  backend: StorageBackend,
  metadata: MetadataRepository,
  record: { id: number; storageKey: string },
  options: { range?: ByteRange; signal?: AbortSignal; unwritten?: () => void } = {},
): Promise<StoredObject | null> {
  if (options.unwritten && metadata.readInline) {
    const bytes = await metadata.readInline(record.id);
    if (bytes) return inlineObject(record.storageKey, bytes, options.range);
    options.unwritten();
  }
  const object = await backend.get(record.storageKey, options);
  if (object || !metadata.readInline) return object;
  const bytes = await metadata.readInline(record.id);
  if (!bytes) return backend.get(record.storageKey, options);
  return inlineObject(record.storageKey, bytes, options.range);
}

/** Inline bytes as the backend would give the object: a range resolved by the same rule (E_RANGE outside it). */
function inlineObject(key: string, bytes: Uint8Array, range: ByteRange | undefined) {
  if (!range) return { key, size: bytes.length, bytes, body: streamFromBytes(bytes) };
  const { start, end } = resolveRange(range, bytes.length, "inline");
  return { key, size: bytes.length, range: { start, end }, body: streamFromBytes(bytes.subarray(start, end + 1)) };
}

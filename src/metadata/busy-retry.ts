/**
 * Every metadata statement waits out another process's lock: a statement or batch that fails
 * `SQLITE_BUSY`/`SQLITE_LOCKED` (another server on the same sqld or file holds the database) is
 * run again after a growing pause, for up to {@link BUSY_WAIT_MS}, instead of becoming a 500.
 * A statement that failed busy did not apply, and a batch that failed rolled back whole, so
 * running it again is safe. Any other error — a lost answer from a remote server above all,
 * where it is unknown whether the statement applied — is passed on at once.
 */
import type { Client, ResultSet } from "@libsql/client";
import { sleep } from "../lib/time.ts";
import type { ValuesClient } from "./libsql-prepared.ts";

/** How long a statement may wait in all for the database's lock before its busy error is passed on. */
export const BUSY_WAIT_MS = 30_000;
const FIRST_PAUSE_MS = 5;
const LONGEST_PAUSE_MS = 250;

/** SQLite said another connection holds the lock (`SQLITE_BUSY…` or `SQLITE_LOCKED…`, extended codes included). */
export function isBusyError(error: unknown): boolean {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    const { code, extendedCode } = current as { code?: unknown; extendedCode?: unknown };
    for (const candidate of [code, extendedCode]) {
      if (typeof candidate === "string" && /^SQLITE_(BUSY|LOCKED)(_|$)/.test(candidate)) return true;
    }
  }
  return false;
}

export interface BusyRetryOptions {
  /** Total milliseconds to keep trying (default {@link BUSY_WAIT_MS}). */
  waitMs?: number;
}

/**
 * Runs `attempt`, again after a pause (doubling, with jitter) each time it fails busy, until
 * `waitMs` has passed. The first try costs one `catch`: the waiting is entered only on a failure.
 */
export function retryWhileBusy<T>(attempt: () => Promise<T>, options: BusyRetryOptions = {}): Promise<T> {
  return attempt().catch(async (error: unknown) => {
    if (!isBusyError(error)) throw error;
    const deadline = Date.now() + (options.waitMs ?? BUSY_WAIT_MS);
    for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
      const wait = pause / 2 + Math.random() * pause;
      if (Date.now() + wait > deadline) throw error;
      await sleep(wait);
      try {
        return await attempt();
      } catch (again) {
        if (!isBusyError(again)) throw again;
        error = again;
      }
    }
  });
}

/**
 * The same client, whose `execute` and `batch` wait out busy errors (see above). Everything else
 * (`close`, `closed`, a file client's `changeStamp`, …) is the client's own.
 *
 * @example
 * const db = drizzle(retryingWhenBusy(createClient({ url: "http://127.0.0.1:8080" })));
 */
export function retryingWhenBusy(client: Client, options: BusyRetryOptions = {}): Client {
  const run = client.execute.bind(client) as (...args: unknown[]) => Promise<ResultSet>;
  const execute = ((...args: unknown[]) => retryWhileBusy(() => run(...args), options)) as Client["execute"];
  const batch: Client["batch"] = (...args) => retryWhileBusy(() => client.batch(...args), options);
  const values = (client as Client & Partial<ValuesClient>).executeValues?.bind(client);
  const executeValues: ValuesClient["executeValues"] | undefined =
    values && ((statement) => retryWhileBusy(() => values(statement), options));
  const first = (client as Client & Partial<ValuesClient>).executeFirstValues?.bind(client);
  const executeFirstValues: ValuesClient["executeFirstValues"] | undefined =
    first && ((statement) => retryWhileBusy(() => first(statement), options));
  return new Proxy(client, {
    get(target, property) {
      if (property === "execute") return execute;
      if (property === "batch") return batch;
      if (property === "executeValues") return executeValues;
      if (property === "executeFirstValues") return executeFirstValues;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * What the trust battery (test/trust/*.test.ts) shares: the soak switch, the figures each
 * check prints, a seeded random source, views of what is really in storage, the CLI, and raw
 * HTTP for requests `fetch` would refuse or normalize.
 *
 * `TEST_SOAK=1` scales every check up (more kills, longer runs, more inputs), still
 * bounded in time. `TEST_TRUST_SEED=<n>` replays a run's random choices.
 */
import { spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { connect } from "node:net";
import { join, relative, sep } from "node:path";
import { bunBinary, repoRoot } from "../helpers/server-process.ts";

/** True under `npm run test:soak`. */
export const SOAK = process.env.TEST_SOAK === "1";

/** `defaultCount` in `npm test`, `soakCount` under `npm run test:soak`. */
export function scaled(defaultCount: number, soakCount: number): number {
  return SOAK ? soakCount : defaultCount;
}

/** Prints one figure of the battery, e.g. `[trust] crash: 120 kills on fs, 0 inconsistencies`. */
export function figure(text: string): void {
  console.log(`[trust] ${text}`);
}

/** The seed of this run: `TEST_TRUST_SEED`, or a fresh one (printed, so a failure can be replayed). */
export function runSeed(label: string): number {
  const fromEnv = Number(process.env.TEST_TRUST_SEED);
  const seed = Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
  figure(`${label}: seed ${seed} (replay with TEST_TRUST_SEED=${seed})`);
  return seed;
}

/** A small seeded generator (mulberry32) with the helpers the tests need. */
export function seededRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [min, max]. */
    between: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    chance: (probability: number) => next() < probability,
  };
}
export type Random = ReturnType<typeof seededRandom>;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; fails with `what` after `timeoutMs` (a wait, not a timing assertion). */
export async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(25);
  }
}

/** Every file under `root` as a store key (`spec/task/vN/file`), leaving out the store's own `.store/`. */
export async function listStoredKeys(root: string): Promise<string[]> {
  const keys: string[] = [];
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory).catch(() => [] as string[])) {
      const path = join(directory, entry);
      if (directory === root && entry === ".store") continue;
      const info = await stat(path).catch(() => null);
      if (info?.isDirectory()) await walk(path);
      else if (info) keys.push(relative(root, path).split(sep).join("/"));
    }
  };
  await walk(root);
  return keys.sort();
}

/** Files in the fs backend's staging directory, and uploads left under `.store/uploads/`. */
export async function listStagingFiles(root: string): Promise<string[]> {
  const uploads = await listStoredKeys(join(root, ".store", "uploads"));
  const staging = await readdir(join(root, ".store", "staging")).catch(() => [] as string[]);
  return [...staging, ...uploads.map((key) => `uploads/${key}`)].sort();
}

/** What search returns per version (the fields the battery compares). */
export interface SearchItem {
  uri: string;
  specName: string;
  taskId: string;
  type: string;
  version: number;
  size: number;
  checksum: string;
  originalSize: number;
  originalChecksum: string;
  compressed: boolean;
  mimeType: string;
  tags: string[];
  metadata: Record<string, unknown>;
  pinned: boolean;
  integrity: string;
  createdAt: string;
  expiresAt: string | null;
}

/** Every committed version the server's search returns, following every page. */
export async function searchAll(url: string, query = "", token?: string): Promise<SearchItem[]> {
  const items: SearchItem[] = [];
  let cursor: string | null = null;
  do {
    const parameters = new URLSearchParams(query);
    parameters.set("limit", "1000");
    if (cursor) parameters.set("cursor", cursor);
    const response = await fetch(`${url}/v1/artifacts?${parameters}`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    if (response.status !== 200) throw new Error(`search answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as { items: SearchItem[]; nextCursor: string | null };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

const FILE_NAMES: Record<string, string> = { diff: "diff.txt", log: "log.txt", test: "test-result.json" };

/**
 * The keys the seed's tree holds for these versions: the newest version of each artifact at
 * `spec/task/<file>[.gz]`, older ones at `spec/task/versions/v<N>/<file>[.gz]`, and one
 * `spec/task/metadata.json` per task. (`metadata-index.json` is left out: it is the store's summary.)
 */
export function expectedStoredKeys(items: StoredItem[]): string[] {
  const keys = new Set<string>();
  for (const item of items) {
    keys.add(storedKeyOf(item, items));
    keys.add(`${item.specName}/${item.taskId}/metadata.json`);
  }
  return [...keys].sort();
}

type StoredItem = Pick<SearchItem, "specName" | "taskId" | "version" | "type" | "compressed">;

/**
 * Where the seed's tree keeps one of these versions: the newest of its artifact at
 * `spec/task/<file>[.gz]`, an older one at `spec/task/versions/v<N>/<file>[.gz]`.
 */
export function storedKeyOf(item: StoredItem, items: StoredItem[]): string {
  const sameSeries = (other: StoredItem) =>
    other.specName === item.specName && other.taskId === item.taskId && other.type === item.type;
  const newest = Math.max(item.version, ...items.filter(sameSeries).map((other) => other.version));
  const file = `${FILE_NAMES[item.type] ?? item.type}${item.compressed ? ".gz" : ""}`;
  return newest === item.version
    ? `${item.specName}/${item.taskId}/${file}`
    : `${item.specName}/${item.taskId}/versions/v${item.version}/${file}`;
}

/**
 * What each task's `metadata.json` says, compared with what search says: the problems found
 * (a version listed in one and not the other, or described differently).
 */
export function compareTaskFiles(
  items: SearchItem[],
  files: Map<string, { artifacts: { type: string; version: number; checksum: string; size: number }[] }>,
): string[] {
  const problems: string[] = [];
  const describe = (spec: string, task: string, type: string, version: number, checksum: string, size: number) =>
    `${spec}/${task}/${type} v${version} ${checksum.slice(0, 12)} ${size}`;
  const fromSearch = new Set(
    items.map((item) => describe(item.specName, item.taskId, item.type, item.version, item.checksum, item.size)),
  );
  const fromFiles = new Set<string>();
  for (const [key, file] of files) {
    const [spec = "", task = ""] = key.split("/");
    for (const entry of file.artifacts)
      fromFiles.add(describe(spec, task, entry.type, entry.version, entry.checksum, entry.size));
  }
  for (const entry of fromSearch) if (!fromFiles.has(entry)) problems.push(`metadata.json lacks ${entry}`);
  for (const entry of fromFiles)
    if (!fromSearch.has(entry)) problems.push(`metadata.json lists ${entry}, search does not`);
  return problems;
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `artifact-store` from source on Bun (no build needed). Asynchronous on purpose: the
 * in-process S3 server (fauxqs) must keep answering while the CLI runs.
 */
export function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const child = spawn(bunBinary, [join(repoRoot, "src/runtime/cli.ts"), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}

export interface RawResponse {
  /** 0 when the server closed the connection without an answer. */
  status: number;
  head: string;
  body: string;
}

/**
 * Sends `request` exactly as given over a fresh TCP connection and reads until the server
 * closes it (send `Connection: close`). For request targets and headers that `fetch` and
 * node:http would normalize or refuse.
 */
export function rawHttp(baseUrl: string, request: string | Uint8Array, timeoutMs = 15_000): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${String(request).slice(0, 80)}`));
    }, timeoutMs);
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => {}); // a reset after the answer is fine; an answer-less close gives status 0
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const head = split === -1 ? text : text.slice(0, split);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: split === -1 ? "" : text.slice(split + 4) });
    });
    socket.write(request);
  });
}

/** True when `body` is the API's JSON error shape `{ error: { code: "E_…", message } }`. */
export function isErrorShape(body: unknown): boolean {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === "string" && /^E_[A-Z_]+$/.test(error.code) && typeof error.message === "string";
}

/** A body of `bytes` sent in `chunkSize` pieces, pausing `pauseMs` between them; `sent` counts what was read. */
export function pacedBody(bytes: Uint8Array, chunkSize: number, pauseMs: number) {
  const progress = { sent: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (progress.sent >= bytes.length) return controller.close();
        if (progress.sent > 0 && pauseMs > 0) await sleep(pauseMs);
        const chunk = bytes.subarray(progress.sent, Math.min(bytes.length, progress.sent + chunkSize));
        progress.sent += chunk.length;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, progress };
}

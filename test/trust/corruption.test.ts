/**
 * Corruption: damage planted directly in the files of a populated store (the kinds a disk,
 * a bad copy or a careless operator produce) is found by `verify` — over HTTP, by the CLI
 * against the server, and by the CLI on the local store — every damaged version is flagged,
 * its downloads fail closed over HTTP, the untouched ones still verify and download, and a
 * version restored from a good copy is served again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeLog, makeTempDir, randomBytes, sha256Hex } from "../helpers/store.ts";
import { figure, isErrorShape, runCli, type SearchItem, scaled, searchAll, storedKeyOf } from "./support.ts";

/** How each kind damages one stored file (`swap` damages two: see below). */
const DAMAGE_KINDS: { kind: string; damage(bytes: Buffer): Buffer | null }[] = [
  {
    kind: "byte flipped in the middle",
    damage: (bytes) => {
      const copy = Buffer.from(bytes);
      copy[copy.length >> 1] = (copy[copy.length >> 1] as number) ^ 0x5a;
      return copy;
    },
  },
  {
    kind: "last byte flipped (gzip trailer)",
    damage: (bytes) => {
      const copy = Buffer.from(bytes);
      copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0x01;
      return copy;
    },
  },
  { kind: "truncated to half", damage: (bytes) => bytes.subarray(0, bytes.length >> 1) },
  { kind: "garbage appended", damage: (bytes) => Buffer.concat([bytes, Buffer.from("\n-- garbage --\n")]) },
  { kind: "zero-filled", damage: (bytes) => Buffer.alloc(bytes.length) },
  { kind: "blob deleted", damage: () => null },
];
/** Two versions of one artifact whose files were swapped: both are complete, valid gzip, and wrong. */
const SWAP_KIND = "files of two versions swapped";

const ARTIFACT_KEYS = scaled(40, 200);
const VICTIMS_PER_KIND = scaled(2, 10);

interface Planted {
  uri: string;
  kind: string;
  phase: "api" | "cli";
}

describe("corruption is caught by verify and fails closed", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let basePath: string;
  let env: Record<string, string>;
  let server: ServerProcess;
  /** SHA-256 of the content sent, by URI. */
  const sent = new Map<string, string>();
  let items: SearchItem[] = [];
  const planted: Planted[] = [];
  /** A victim's good bytes, to restore it at the end. */
  let backup: { uri: string; path: string; bytes: Buffer } | undefined;

  beforeAll(async () => {
    dir = await makeTempDir("trust-corruption");
    basePath = join(dir.path, "store");
    env = { HOME: dir.path, ARTIFACT_STORE_VERSIONING_ENABLED: "true", ARTIFACT_STORE_BASE_PATH: basePath };
    server = await startServerProcess({ runtime: "bun", basePath, env });
    // Every key gets two versions (so some can be swapped), of varied sizes and kinds of content.
    for (let index = 0; index < ARTIFACT_KEYS; index++) {
      const type = (["log", "diff", "test"] as const)[index % 3];
      for (const round of [1, 2]) {
        const content =
          index % 4 === 0
            ? randomBytes(1000 + index * 997)
            : new TextEncoder().encode(makeLog(20 + ((index * 37 + round) % 400), index * 10 + round));
        const response = await fetch(`${server.url}/v1/artifacts/scrub-${index % 3}/task-${index}/${type}`, {
          method: "PUT",
          body: content,
        });
        expect(response.status).toBe(201);
        const stored = (await response.json()) as SearchItem;
        sent.set(stored.uri, await sha256Hex(content));
      }
    }
    items = await searchAll(server.url);
  });
  afterAll(async () => {
    await server?.stop();
    await dir?.cleanup();
  });

  /** The file holding a version's bytes (the seed path for the current one, `versions/v<N>/` for older ones). */
  const fileOf = (item: SearchItem) => join(basePath, storedKeyOf(item, items));

  /** Plants every kind on fresh victims (`VICTIMS_PER_KIND` of each); returns what was planted. */
  async function plant(phase: Planted["phase"]): Promise<Planted[]> {
    const used = new Set(planted.map((entry) => entry.uri));
    const byKey = new Map<string, SearchItem[]>();
    for (const item of items) {
      const key = `${item.specName}/${item.taskId}/${item.type}`;
      byKey.set(key, [...(byKey.get(key) ?? []), item]);
    }
    // Whole keys are taken at a time, so a swap's partner is never another kind's victim.
    const freeKeys = [...byKey.values()].filter((versions) => versions.every((item) => !used.has(item.uri)));
    const fresh: Planted[] = [];
    for (const { kind, damage } of DAMAGE_KINDS) {
      for (let count = 0; count < VICTIMS_PER_KIND; count++) {
        const victim = (freeKeys.shift() as SearchItem[])[0] as SearchItem;
        const path = fileOf(victim);
        const good = await readFile(path);
        if (!backup && kind === "byte flipped in the middle") backup = { uri: victim.uri, path, bytes: good };
        const damaged = damage(good);
        if (damaged === null) await rm(path);
        else await writeFile(path, damaged);
        fresh.push({ uri: victim.uri, kind, phase });
      }
    }
    for (let count = 0; count < VICTIMS_PER_KIND; count++) {
      const [first, second] = freeKeys.shift() as [SearchItem, SearchItem];
      const firstBytes = await readFile(fileOf(first));
      const secondBytes = await readFile(fileOf(second));
      await writeFile(fileOf(first), secondBytes);
      await writeFile(fileOf(second), firstBytes);
      fresh.push({ uri: first.uri, kind: SWAP_KIND, phase }, { uri: second.uri, kind: SWAP_KIND, phase });
    }
    planted.push(...fresh);
    return fresh;
  }

  const untouched = () => items.filter((item) => !planted.some((entry) => entry.uri === item.uri));

  /** Every way to ask for a flagged version over HTTP answers 500 E_CORRUPT before sending any content. */
  async function expectFailsClosed(item: SearchItem): Promise<void> {
    const url = `${server.url}/v1/artifacts/${item.specName}/${item.taskId}/${item.type}?version=${item.version}`;
    const attempts: RequestInit[] = [
      { headers: { "Accept-Encoding": "identity" } },
      { headers: { "Accept-Encoding": "gzip" } },
      { headers: { Range: "bytes=0-10" } },
      { method: "HEAD" },
    ];
    for (const init of attempts) {
      const response = await fetch(url, init);
      expect({ uri: item.uri, init, status: response.status }).toEqual({ uri: item.uri, init, status: 500 });
      if (init.method !== "HEAD") {
        const body = await response.json();
        expect(isErrorShape(body)).toBe(true);
        expect(body.error.code).toBe("E_CORRUPT");
      }
    }
  }

  async function expectServedIntact(item: SearchItem): Promise<void> {
    const response = await fetch(
      `${server.url}/v1/artifacts/${item.specName}/${item.taskId}/${item.type}?version=${item.version}`,
      { headers: { "Accept-Encoding": "identity" } },
    );
    expect(response.status).toBe(200);
    expect(await sha256Hex(new Uint8Array(await response.arrayBuffer()))).toBe(sent.get(item.uri) as string);
  }

  test("verify over HTTP finds every planted corruption, flags it, and raises no false alarm", async () => {
    const fresh = await plant("api");
    const response = await fetch(`${server.url}/v1/maintenance/verify`, { method: "POST" });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { checked: number; corrupt: { uri: string; reason: string }[] };
    expect(report.checked).toBe(items.length);
    expect(report.corrupt.map((entry) => entry.uri).sort()).toEqual(fresh.map((entry) => entry.uri).sort());
    const flagged = await searchAll(server.url, "integrity=corrupt");
    expect(flagged.map((item) => item.uri).sort()).toEqual(fresh.map((entry) => entry.uri).sort());
    figure(
      `corruption (verify over HTTP): ${fresh.length} planted (${DAMAGE_KINDS.length + 1} kinds) in ${items.length} versions, ` +
        `${report.corrupt.length} caught and flagged, ${report.corrupt.length - fresh.length} false alarms`,
    );
  });

  test("a flagged version's every download fails closed (500 E_CORRUPT); untouched versions still download intact", async () => {
    const victims = items.filter((item) => planted.some((entry) => entry.uri === item.uri));
    for (const item of victims) await expectFailsClosed(item);
    for (const item of untouched()) await expectServedIntact(item);
    figure(
      `corruption: ${victims.length} flagged versions refused on GET (identity, gzip, Range) and HEAD; ${untouched().length} untouched served intact`,
    );
  });

  test("damage not yet found is never served as a clean download: the transfer fails instead", async () => {
    const fresh = await plant("cli");
    let cleanWrong = 0;
    for (const entry of fresh) {
      const item = items.find((candidate) => candidate.uri === entry.uri) as SearchItem;
      const outcome = await fetch(
        `${server.url}/v1/artifacts/${item.specName}/${item.taskId}/${item.type}?version=${item.version}`,
        { headers: { "Accept-Encoding": "identity" } },
      )
        .then(async (response) => ({ status: response.status, bytes: new Uint8Array(await response.arrayBuffer()) }))
        .catch(() => ({ status: -1, bytes: new Uint8Array(0) }));
      if (outcome.status === 200 && (await sha256Hex(outcome.bytes)) !== sent.get(item.uri)) cleanWrong++;
      expect({ uri: item.uri, kind: entry.kind, servedIntact: outcome.status === 200 }).toEqual({
        uri: item.uri,
        kind: entry.kind,
        servedIntact: false,
      });
    }
    figure(
      `corruption: ${fresh.length} fresh corruptions downloaded before any scrub: ${cleanWrong} served as a clean 200`,
    );
  });

  test("the CLI's verify, against the server and on the local store (--deep), lists every corrupt version and exits 4", async () => {
    const everyPlanted = planted.map((entry) => entry.uri).sort();
    const remote = await runCli(["verify", "--json", "--server", server.url], { HOME: dir.path });
    expect(remote.status).toBe(4);
    const remoteReport = JSON.parse(remote.stdout) as { checked: number; corrupt: { uri: string }[] };
    expect(remoteReport.corrupt.map((entry) => entry.uri).sort()).toEqual(everyPlanted);

    await server.stop();
    const local = await runCli(["verify", "--deep", "--json"], env);
    expect(local.status).toBe(4);
    const localReport = JSON.parse(local.stdout) as { checked: number; corrupt: { uri: string }[] };
    expect(localReport.checked).toBe(items.length);
    expect(localReport.corrupt.map((entry) => entry.uri).sort()).toEqual(everyPlanted);
    server = await startServerProcess({ runtime: "bun", basePath, env });
    for (const item of items.filter((candidate) => everyPlanted.includes(candidate.uri))) await expectFailsClosed(item);
    for (const item of untouched()) await expectServedIntact(item);
    figure(
      `corruption: ${planted.length} planted in total, caught by CLI verify --server: ${remoteReport.corrupt.length}, ` +
        `by CLI verify --deep on the local store: ${localReport.corrupt.length}; untouched ${untouched().length} still verify`,
    );
  });

  test("a version restored from a good copy verifies again: its flag is cleared and it is served", async () => {
    const restored = backup as { uri: string; path: string; bytes: Buffer };
    await writeFile(restored.path, restored.bytes);
    const report = (await (await fetch(`${server.url}/v1/maintenance/verify`, { method: "POST" })).json()) as {
      corrupt: { uri: string }[];
      recovered: string[];
    };
    expect(report.recovered).toEqual([restored.uri]);
    expect(report.corrupt.length).toBe(planted.length - 1);
    await expectServedIntact(items.find((item) => item.uri === restored.uri) as SearchItem);
  });
});

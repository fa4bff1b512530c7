/**
 * Concurrency: 64 clients hammer the real Bun server over HTTP for a bounded time —
 * uploads, downloads and deletes on a few keys they all share and on keys of their own —
 * with versioning on and off, under a storage quota small enough to be hit, on the
 * filesystem and on S3 (fauxqs).
 *
 * Expected answers, and only these: 201 for uploads, or 507 E_QUOTA_EXCEEDED when the quota
 * is full; 200 or 404 for downloads and deletes, where a 404 is only right when the version
 * was not there when the request started (deleted, superseded, or not committed yet) — it is
 * checked against the end state. Every other answer, every failed transfer of a version that
 * still exists, and every download whose bytes differ from what was uploaded for that version
 * is an anomaly. At the end: version numbers are unique and every number is accounted for
 * (present, deleted by a client, superseded without versioning, or used by a refused
 * upload), the quota was never overshot in any sample, and storage, rows and stats agree.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type S3TestServer, startS3Server } from "../helpers/s3-servers.ts";
import { startServerProcess } from "../helpers/server-process.ts";
import { makeTempDir, randomBytes, sha256Hex } from "../helpers/store.ts";
import {
  compareTaskFiles,
  expectedStoredKeys,
  figure,
  listStagingFiles,
  listStoredKeys,
  pacedBody,
  type Random,
  runSeed,
  type SearchItem,
  scaled,
  searchAll,
  seededRandom,
  sleep,
} from "./support.ts";

const CLIENTS = 64;
const RUN_MS = scaled(8_000, 45_000);
const QUOTA_BYTES = 16 * 1024 * 1024;
const HOT_KEYS = ["hot/1/log", "hot/2/log", "hot/3/diff", "hot/4/test"];

interface KeyLedger {
  /** Version → what its upload sent, and when (on the run's sequence clock) the 201 arrived. */
  acknowledged: Map<number, { checksum: string; at: number }>;
  /** Versions a client deleted (DELETE ?version=N answered 200). */
  deleted: Set<number>;
  refusedUploads: number;
}

/** Answers checked against the end state once every operation is done. */
type Observation =
  | { kind: "download"; key: string; version: number; checksum: string }
  | { kind: "not-found"; key: string; version?: number; startedAt: number; what: string }
  | { kind: "cut-off"; key: string; version: number; what: string };

interface RunFigures {
  uploads: number;
  downloads: number;
  deletes: number;
  quotaRefusals: number;
  notFound: number;
  cutOffTransfers: number;
  statsSamples: number;
  highestUsage: number;
}

async function runClients(url: string, random: Random) {
  const ledgers = new Map<string, KeyLedger>();
  const ledgerOf = (key: string): KeyLedger => {
    let ledger = ledgers.get(key);
    if (!ledger) {
      ledger = { acknowledged: new Map(), deleted: new Set(), refusedUploads: 0 };
      ledgers.set(key, ledger);
    }
    return ledger;
  };
  const anomalies: string[] = [];
  const observations: Observation[] = [];
  const figures: RunFigures = {
    uploads: 0,
    downloads: 0,
    deletes: 0,
    quotaRefusals: 0,
    notFound: 0,
    cutOffTransfers: 0,
    statsSamples: 0,
    highestUsage: 0,
  };
  let clock = 0;
  const deadline = Date.now() + RUN_MS;

  const upload = async (key: string) => {
    const content = randomBytes(random.between(1, 256 * 1024));
    const checksum = await sha256Hex(content);
    const streamed = random.chance(0.25);
    const response = await fetch(`${url}/v1/artifacts/${key}`, {
      method: "PUT",
      body: streamed ? pacedBody(content, 16 * 1024, 0).stream : content,
      duplex: "half",
    } as RequestInit);
    const body = await response.text();
    figures.uploads++;
    if (response.status === 507 && body.includes("E_QUOTA_EXCEEDED")) {
      figures.quotaRefusals++;
      ledgerOf(key).refusedUploads++;
      return "full";
    }
    if (response.status !== 201) {
      anomalies.push(`PUT ${key}: ${response.status} ${body.slice(0, 200)}`);
      return "failed";
    }
    const version = (JSON.parse(body) as { version: number }).version;
    const ledger = ledgerOf(key);
    if (ledger.acknowledged.has(version)) anomalies.push(`PUT ${key}: version ${version} given out twice`);
    ledger.acknowledged.set(version, { checksum, at: clock++ });
    return "stored";
  };

  const download = async (key: string) => {
    const known = [...ledgerOf(key).acknowledged.keys()];
    const version = known.length > 0 && random.chance(0.5) ? random.pick(known) : undefined;
    const startedAt = clock++;
    const what = `GET ${key}${version === undefined ? "" : `?version=${version}`}`;
    const response = await fetch(`${url}/v1/artifacts/${key}${version === undefined ? "" : `?version=${version}`}`, {
      headers: { "Accept-Encoding": "identity" },
    });
    figures.downloads++;
    if (response.status === 404) {
      await response.body?.cancel();
      figures.notFound++;
      observations.push({ kind: "not-found", key, ...(version === undefined ? {} : { version }), startedAt, what });
      return;
    }
    if (response.status !== 200) {
      anomalies.push(`${what}: ${response.status} ${(await response.text()).slice(0, 200)}`);
      return;
    }
    const served = Number(response.headers.get("x-artifact-version"));
    try {
      const bytes = new Uint8Array(await response.arrayBuffer());
      observations.push({ kind: "download", key, version: served, checksum: await sha256Hex(bytes) });
    } catch (error) {
      figures.cutOffTransfers++;
      observations.push({ kind: "cut-off", key, version: served, what: `${what}: ${error}` });
    }
  };

  const remove = async (key: string) => {
    const ledger = ledgerOf(key);
    const candidates = [...ledger.acknowledged.keys()].filter((version) => !ledger.deleted.has(version));
    if (candidates.length === 0) return;
    const version = random.pick(candidates);
    const startedAt = clock++;
    const what = `DELETE ${key}?version=${version}`;
    const response = await fetch(`${url}/v1/artifacts/${key}?version=${version}`, { method: "DELETE" });
    const body = await response.text();
    figures.deletes++;
    if (response.status === 200) ledger.deleted.add(version);
    else if (response.status === 404) {
      figures.notFound++;
      observations.push({ kind: "not-found", key, version, startedAt, what });
    } else anomalies.push(`${what}: ${response.status} ${body.slice(0, 200)}`);
  };

  const client = async (index: number) => {
    const ownKey = `own/client-${index}/diff`;
    while (Date.now() < deadline) {
      const key = random.chance(0.5) ? random.pick(HOT_KEYS) : ownKey;
      const roll = random.next();
      try {
        if (roll < 0.45) {
          // A full store: make room in one's own key, as a real client would.
          if ((await upload(key)) === "full") await remove(ownKey);
        } else if (roll < 0.8) await download(key);
        else await remove(key);
      } catch (error) {
        anomalies.push(`client ${index} on ${key}: ${error}`);
      }
    }
  };

  const sampleStats = async () => {
    while (Date.now() < deadline) {
      const stats = (await (await fetch(`${url}/v1/stats`)).json()) as { quota: { usedBytes: number } };
      figures.statsSamples++;
      figures.highestUsage = Math.max(figures.highestUsage, stats.quota.usedBytes);
      if (stats.quota.usedBytes > QUOTA_BYTES) anomalies.push(`quota overshot: ${stats.quota.usedBytes} bytes used`);
      await sleep(50);
    }
  };

  await Promise.all([...Array.from({ length: CLIENTS }, (_, index) => client(index)), sampleStats()]);
  return { ledgers, anomalies, observations, figures };
}

/** Checks the end state against everything the clients were told. */
function reconcile(
  items: SearchItem[],
  run: Awaited<ReturnType<typeof runClients>>,
  versioning: boolean,
): { anomalies: string[]; accounted: Record<string, number> } {
  const anomalies: string[] = [];
  const accounted = { present: 0, deleted: 0, superseded: 0, refused: 0 };
  const final = new Map<string, Map<number, SearchItem>>();
  for (const item of items) {
    const key = `${item.specName}/${item.taskId}/${item.type}`;
    if (!final.has(key)) final.set(key, new Map());
    final.get(key)?.set(item.version, item);
  }
  for (const [key, ledger] of run.ledgers) {
    const present = final.get(key) ?? new Map<number, SearchItem>();
    const highest = Math.max(0, ...ledger.acknowledged.keys(), ...present.keys());
    let gaps = 0;
    for (let version = 1; version <= highest; version++) {
      const acknowledged = ledger.acknowledged.get(version);
      const item = present.get(version);
      if (item) {
        if (!acknowledged) anomalies.push(`${key} v${version} exists but no upload was told it was stored`);
        else if (item.originalChecksum !== acknowledged.checksum)
          anomalies.push(`${key} v${version} holds other content than was uploaded`);
        if (ledger.deleted.has(version)) anomalies.push(`${key} v${version} was deleted (200) but is still there`);
        accounted.present++;
      } else if (acknowledged && ledger.deleted.has(version)) accounted.deleted++;
      else if (acknowledged && !versioning && [...present.keys()].some((newer) => newer > version))
        accounted.superseded++;
      else if (acknowledged && !versioning && [...ledger.acknowledged.keys()].some((newer) => newer > version))
        accounted.superseded++; // its successor was deleted later
      else if (acknowledged) anomalies.push(`${key} v${version} was stored (201) and is gone without a delete`);
      else gaps++;
    }
    if (gaps > ledger.refusedUploads)
      anomalies.push(`${key}: ${gaps} version numbers unaccounted for, only ${ledger.refusedUploads} uploads refused`);
    accounted.refused += gaps;
  }
  for (const key of final.keys()) if (!run.ledgers.has(key)) anomalies.push(`unknown key ${key} in search`);

  for (const observation of run.observations) {
    const ledger = run.ledgers.get(observation.key);
    const present = final.get(observation.key) ?? new Map<number, SearchItem>();
    if (observation.kind === "download") {
      const expected = ledger?.acknowledged.get(observation.version)?.checksum;
      if (observation.checksum !== expected)
        anomalies.push(`GET ${observation.key} v${observation.version} served bytes that were not uploaded as it`);
    } else if (observation.kind === "cut-off") {
      if (present.has(observation.version))
        anomalies.push(`${observation.what} broke off although the version still exists`);
    } else {
      // A 404 is wrong if a version that is still there had been stored before the request started.
      const stillThere = [...present.keys()].filter(
        (version) =>
          (observation.version === undefined || version === observation.version) &&
          (ledger?.acknowledged.get(version)?.at ?? Number.POSITIVE_INFINITY) < observation.startedAt,
      );
      if (stillThere.length > 0) anomalies.push(`${observation.what} answered 404 while v${stillThere[0]} existed`);
    }
  }
  return { anomalies, accounted };
}

interface Variant {
  label: string;
  env: Record<string, string>;
  storedKeys(): Promise<string[]>;
  stagingFiles(): Promise<string[]>;
  /** A stored object's text (a task's metadata.json), or null. */
  readText(key: string): Promise<string | null>;
}

async function runVariant(variant: Variant, home: string, versioning: boolean) {
  const basePath = join(home, "store");
  const server = await startServerProcess({
    runtime: "bun",
    basePath,
    env: {
      ...variant.env,
      HOME: home,
      ARTIFACT_STORE_VERSIONING_ENABLED: String(versioning),
      ARTIFACT_STORE_STORAGE_QUOTA__MAX_SIZE_GB: String(QUOTA_BYTES / 1024 ** 3),
      ARTIFACT_STORE_SERVER__CLEANUP_INTERVAL: "0",
    },
  });
  try {
    const label = `${variant.label}, versioning ${versioning ? "on" : "off"}`;
    const run = await runClients(server.url, seededRandom(runSeed(`concurrency (${label})`)));
    const items = await searchAll(server.url);
    const { anomalies, accounted } = reconcile(items, run, versioning);
    anomalies.unshift(...run.anomalies);

    const verify = (await (await fetch(`${server.url}/v1/maintenance/verify`, { method: "POST" })).json()) as {
      checked: number;
      corrupt: unknown[];
    };
    if (verify.corrupt.length > 0) anomalies.push(`verify found ${verify.corrupt.length} corrupt versions`);
    const stats = (await (await fetch(`${server.url}/v1/stats`)).json()) as {
      pendingUploads: number;
      artifacts: number;
      quota: { usedBytes: number };
    };
    const storedBytes = items.reduce((sum, item) => sum + item.size, 0);
    if (stats.quota.usedBytes !== storedBytes || stats.pendingUploads !== 0 || stats.artifacts !== items.length)
      anomalies.push(
        `stats: ${stats.quota.usedBytes} bytes used, ${stats.pendingUploads} pending; search: ${storedBytes} bytes`,
      );
    const expectedKeys = expectedStoredKeys(items);
    const storedKeys = (await variant.storedKeys()).filter((key) => key !== "metadata-index.json");
    const taskFiles = new Map<
      string,
      { artifacts: { type: string; version: number; checksum: string; size: number }[] }
    >();
    for (const key of expectedKeys.filter((candidate) => candidate.endsWith("/metadata.json"))) {
      const text = await variant.readText(key);
      if (text !== null) taskFiles.set(key, JSON.parse(text));
    }
    anomalies.push(...compareTaskFiles(items, taskFiles));
    const stray = storedKeys.filter((key) => !expectedKeys.includes(key));
    const missing = expectedKeys.filter((key) => !storedKeys.includes(key));
    if (stray.length > 0) anomalies.push(`objects without rows: ${stray.slice(0, 5).join(", ")}`);
    if (missing.length > 0) anomalies.push(`rows without objects: ${missing.slice(0, 5).join(", ")}`);
    const staging = await variant.stagingFiles();
    if (staging.length > 0) anomalies.push(`staging files left: ${staging.join(", ")}`);

    const { figures } = run;
    const operations = figures.uploads + figures.downloads + figures.deletes;
    figure(
      `concurrency (${label}): ${CLIENTS} clients for ${RUN_MS / 1000} s: ${operations} operations ` +
        `(${figures.uploads} uploads, ${figures.downloads} downloads, ${figures.deletes} deletes), ${anomalies.length} anomalies; ` +
        `expected answers: ${figures.quotaRefusals} quota refusals (507), ${figures.notFound} not found (404), ` +
        `${figures.cutOffTransfers} transfers of versions deleted meanwhile cut off`,
    );
    figure(
      `concurrency (${label}): version numbers ${accounted.present} present, ${accounted.deleted} deleted, ` +
        `${accounted.superseded} superseded, ${accounted.refused} used by refused uploads, 0 duplicates; ` +
        `quota ${QUOTA_BYTES} bytes, highest of ${figures.statsSamples} samples ${figures.highestUsage}; ` +
        `verify checked ${verify.checked}, ${verify.corrupt.length} corrupt`,
    );
    return { anomalies, figures, operations };
  } finally {
    await server.stop();
  }
}

function fsVariant(home: string): Variant {
  const root = join(home, "store");
  return {
    label: "fs",
    env: {},
    storedKeys: () => listStoredKeys(root),
    stagingFiles: () => listStagingFiles(root),
    readText: (key) => readFile(join(root, key), "utf8").catch(() => null),
  };
}

function s3Variant(s3: S3TestServer, bucket: string): Variant {
  return {
    label: "s3",
    env: s3.storeEnv(bucket),
    storedKeys: async () =>
      (await s3.listObjects(bucket)).map((object) => object.key).filter((key) => !key.startsWith(".store/")),
    stagingFiles: async () =>
      (await s3.listObjects(bucket)).map((object) => object.key).filter((key) => key.startsWith(".store/")),
    readText: (key) => s3.readText(bucket, key),
  };
}

describe(`${CLIENTS} concurrent clients over HTTP`, () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const timeout = RUN_MS * 4 + 60_000;

  for (const versioning of [true, false]) {
    test(
      `filesystem, versioning ${versioning ? "on" : "off"}: no unexpected answer, no bad byte, dense versions, quota kept`,
      async () => {
        const dir = await makeTempDir("trust-concurrency-fs");
        cleanups.push(dir.cleanup);
        const { anomalies, operations } = await runVariant(fsVariant(dir.path), dir.path, versioning);
        expect(anomalies).toEqual([]);
        expect(operations).toBeGreaterThan(CLIENTS);
      },
      timeout,
    );
  }

  for (const versioning of [true, false]) {
    test(
      `S3 (fauxqs), versioning ${versioning ? "on" : "off"}: no unexpected answer, no bad byte, dense versions, quota kept`,
      async () => {
        const s3 = await startS3Server("fauxqs");
        cleanups.push(() => s3.dispose());
        const bucket = `concurrency-${versioning ? "on" : "off"}`;
        await s3.createBucket(bucket);
        const dir = await makeTempDir("trust-concurrency-s3");
        cleanups.push(dir.cleanup);
        const { anomalies, operations } = await runVariant(s3Variant(s3, bucket), dir.path, versioning);
        expect(anomalies).toEqual([]);
        expect(operations).toBeGreaterThan(CLIENTS);
      },
      timeout,
    );
  }
});

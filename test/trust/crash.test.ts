/**
 * Crash consistency: the real Bun server is killed with SIGKILL at random moments while
 * clients upload (small and multi-MiB bodies, sent slowly enough to be cut mid-stream),
 * overwrite (versioning off) and delete; then it is restarted on the same data and checked:
 *
 * - every key holds exactly what the clients' acknowledged operations say, or — for the one
 *   operation per key that got no answer — what it would have left had it finished;
 * - every version search returns downloads in full and matches the SHA-256 of what was sent;
 * - after `gc --grace 0` (API, or the CLI while the server is down), storage holds exactly
 *   the blob and sidecar of each version search returns, no staging file is left, and the
 *   quota's usage is the sum of the stored sizes.
 *
 * Each client owns its keys, so operations on one key never overlap and the expected state
 * is exact. Versioning is off in two of three server lives and on in the third.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startS3Server } from "../helpers/s3-servers.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeLog, makeTempDir, randomBytes, sha256Hex } from "../helpers/store.ts";
import {
  compareTaskFiles,
  expectedStoredKeys,
  figure,
  listStagingFiles,
  listStoredKeys,
  pacedBody,
  type Random,
  runCli,
  runSeed,
  type SearchItem,
  scaled,
  searchAll,
  seededRandom,
  sleep,
} from "./support.ts";

/** The keys the clients work on; each client owns one row of three. */
const CLIENT_KEYS = [
  ["crash-a/1.1/log", "crash-a/1.1/diff", "crash-a/1.2/test"],
  ["crash-a/2.1/log", "crash-a/2.2/log", "crash-a/2.2/diff"],
  ["crash-b/1.1/log", "crash-b/1.1/test", "crash-b/3.1/diff"],
  ["crash-b/4.1/log", "crash-b/4.2/log", "crash-b/4.3/test"],
] as const;

/** Upload bodies: empty to 3 MiB; the big ones are sent in 64 KiB pieces 3 ms apart, so kills land mid-body. */
const BODY_SHAPES = [
  { label: "empty", make: () => new Uint8Array(0) },
  { label: "100 B text", make: (seed: number) => new TextEncoder().encode(makeLog(1, seed)) },
  { label: "4 KiB random", make: () => randomBytes(4096) },
  { label: "200 KiB log", make: (seed: number) => new TextEncoder().encode(makeLog(3000, seed)) },
  { label: "1 MiB random", make: () => randomBytes(1 << 20) },
  { label: "3 MiB random", make: () => randomBytes(3 << 20) },
];
/** On S3, bodies above one part (8 MiB) go up as multipart uploads: kill those too. */
const S3_BODY_SHAPES = [...BODY_SHAPES, { label: "9 MiB random (multipart)", make: () => randomBytes(9 << 20) }];
const CHUNK = 64 * 1024;

interface Version {
  /** -1: a version number not known yet (an upload that got no answer). */
  version: number;
  checksum: string;
  size: number;
}

type InFlight =
  | { kind: "upload"; checksum: string; size: number; progress: { sent: number }; versioning: boolean }
  | { kind: "delete" };

interface KeyModel {
  path: string;
  /** Committed versions, oldest first, as the acknowledged operations left them. */
  versions: Version[];
  /** The operation that was running when the server died; it may or may not have taken effect. */
  inFlight?: InFlight;
  highestVersion: number;
}

/** Where a backend variant keeps its objects, seen from outside the server. */
interface StorageView {
  label: string;
  bodyShapes: typeof BODY_SHAPES;
  /** The server is killed this many ms after the clients start (uniformly random in between). */
  killWindowMs: [number, number];
  env: Record<string, string>;
  storedKeys(): Promise<string[]>;
  stagingFiles(): Promise<string[]>;
  /** A stored object's text (a task's metadata.json), or null. */
  readText(key: string): Promise<string | null>;
}

interface CampaignFigures {
  kills: number;
  killedMidBody: number;
  killedAfterBodyBeforeAnswer: number;
  killedMidDelete: number;
  unansweredUploadsKept: number;
  unansweredUploadsDropped: number;
  acknowledgedUploads: number;
  acknowledgedDeletes: number;
  verifiedDownloads: number;
  gcInterruptedUploads: number;
  gcStagingFiles: number;
  gcOrphans: number;
  gcFinishedDeletes: number;
  cliGcRuns: number;
}

/** Runs `kills` server lives on one store and returns the figures and every inconsistency found. */
async function runCampaign(view: StorageView, home: string, kills: number, random: Random) {
  const basePath = join(home, "store");
  const problems: string[] = [];
  const models = new Map<string, KeyModel>(
    CLIENT_KEYS.flat().map((path) => [path, { path, versions: [], highestVersion: 0 }]),
  );
  const figures: CampaignFigures = {
    kills: 0,
    killedMidBody: 0,
    killedAfterBodyBeforeAnswer: 0,
    killedMidDelete: 0,
    unansweredUploadsKept: 0,
    unansweredUploadsDropped: 0,
    acknowledgedUploads: 0,
    acknowledgedDeletes: 0,
    verifiedDownloads: 0,
    gcInterruptedUploads: 0,
    gcStagingFiles: 0,
    gcOrphans: 0,
    gcFinishedDeletes: 0,
    cliGcRuns: 0,
  };
  const versioningIn = (life: number) => life % 3 === 2;
  const env = (life: number) => ({
    ...view.env,
    HOME: home,
    ARTIFACT_STORE_VERSIONING_ENABLED: String(versioningIn(life)),
    ARTIFACT_STORE_STORAGE_QUOTA__MAX_SIZE_GB: "1",
    ARTIFACT_STORE_SERVER__CLEANUP_INTERVAL: "0",
  });
  let counter = 0;
  let server = await startServerProcess({ runtime: "bun", basePath, env: env(0) });
  try {
    for (let life = 0; life < kills; life++) {
      const session = { killed: false, versioning: versioningIn(life) };
      const clients = CLIENT_KEYS.map((paths) =>
        runClient(server.url, paths, view.bodyShapes, models, random, session, problems, figures, () => ++counter),
      );
      await sleep(random.between(...view.killWindowMs));
      session.killed = true;
      await server.stop("SIGKILL");
      await Promise.all(clients);
      figures.kills++;
      classifyInFlight(models, figures);

      const gcByCli = life % 5 === 4;
      if (gcByCli) await runCliGc(basePath, env(life + 1), problems, figures);
      server = await startServerProcess({ runtime: "bun", basePath, env: env(life + 1) });
      await checkAfterRestart(server, view, models, { gcByApi: !gcByCli, life }, problems, figures);
      if (problems.length > 20) break; // enough to diagnose; the test fails below
    }
  } finally {
    await server.stop("SIGTERM");
  }
  return { problems, figures };
}

/** One client: operations on its own keys, one at a time, until the server is killed. */
async function runClient(
  url: string,
  paths: readonly string[],
  bodyShapes: typeof BODY_SHAPES,
  models: Map<string, KeyModel>,
  random: Random,
  session: { killed: boolean; versioning: boolean },
  problems: string[],
  figures: CampaignFigures,
  nextSeed: () => number,
): Promise<void> {
  while (!session.killed) {
    const model = models.get(random.pick(paths)) as KeyModel;
    const deleteChance = model.versions.length >= 3 ? 0.6 : 0.2;
    if (random.chance(deleteChance)) {
      model.inFlight = { kind: "delete" };
      let response: Response;
      try {
        response = await fetch(`${url}/v1/artifacts/${model.path}`, { method: "DELETE" });
      } catch (error) {
        if (!session.killed) problems.push(`DELETE ${model.path} failed while the server was up: ${error}`);
        return;
      }
      const expected = model.versions.length === 0 ? 404 : 200;
      const text = await response.text().catch(() => "");
      if (response.status !== expected) {
        problems.push(`DELETE ${model.path}: ${response.status} ${text}, expected ${expected}`);
      } else if (expected === 200 && text && JSON.parse(text).deleted !== model.versions.length) {
        problems.push(`DELETE ${model.path}: ${text}, expected ${model.versions.length} deleted`);
      }
      model.versions = [];
      model.inFlight = undefined;
      figures.acknowledgedDeletes++;
      continue;
    }
    const shape = random.pick(bodyShapes);
    const content = shape.make(nextSeed());
    const checksum = await sha256Hex(content);
    const body = pacedBody(content, CHUNK, content.length > CHUNK * 4 ? 3 : 0);
    model.inFlight = {
      kind: "upload",
      checksum,
      size: content.length,
      progress: body.progress,
      versioning: session.versioning,
    };
    let response: Response;
    try {
      response = await fetch(`${url}/v1/artifacts/${model.path}`, {
        method: "PUT",
        body: body.stream,
        headers: { "Content-Type": "application/octet-stream" },
        duplex: "half",
      } as RequestInit);
    } catch (error) {
      if (!session.killed) problems.push(`PUT ${model.path} (${shape.label}) failed while the server was up: ${error}`);
      return;
    }
    // The status line is the acknowledgement; the body may be cut by the kill.
    await response.arrayBuffer().catch(() => {});
    if (response.status !== 201) {
      problems.push(`PUT ${model.path} (${shape.label}): ${response.status}, expected 201`);
      model.inFlight = undefined;
      continue;
    }
    const version = Number(response.headers.get("x-artifact-version"));
    if (!(version > model.highestVersion)) {
      problems.push(`PUT ${model.path}: version ${version} after version ${model.highestVersion} was seen`);
    }
    model.highestVersion = Math.max(model.highestVersion, version);
    const stored = { version, checksum, size: content.length };
    model.versions = session.versioning ? [...model.versions, stored] : [stored];
    model.inFlight = undefined;
    figures.acknowledgedUploads++;
  }
}

function classifyInFlight(models: Map<string, KeyModel>, figures: CampaignFigures): void {
  for (const { inFlight } of models.values()) {
    if (inFlight?.kind === "delete") figures.killedMidDelete++;
    else if (inFlight?.kind === "upload") {
      if (inFlight.progress.sent < inFlight.size) figures.killedMidBody++;
      else figures.killedAfterBodyBeforeAnswer++;
    }
  }
}

/** The operator's path after a crash: `artifact-store gc` on the local store while the server is down. */
async function runCliGc(basePath: string, env: Record<string, string>, problems: string[], figures: CampaignFigures) {
  const cliEnv = { ...env, ARTIFACT_STORE_BASE_PATH: basePath };
  const dry = await runCli(["gc", "--grace", "0", "--dry-run", "--json"], cliEnv);
  const real = await runCli(["gc", "--grace", "0", "--json"], cliEnv);
  if (dry.status !== 0 || real.status !== 0) {
    problems.push(`CLI gc exited ${dry.status}/${real.status}: ${dry.stderr}${real.stderr}`);
    return;
  }
  const dryReport = JSON.parse(dry.stdout) as GcReport;
  const report = JSON.parse(real.stdout) as GcReport;
  // The dry run removed nothing: the real run found exactly what it listed.
  if (JSON.stringify(dryReport.stalePending) !== JSON.stringify(report.stalePending))
    problems.push(`gc --dry-run listed ${dryReport.stalePending} but gc removed ${report.stalePending}`);
  if (JSON.stringify(dryReport.stagingFiles) !== JSON.stringify(report.stagingFiles))
    problems.push(`gc --dry-run listed staging ${dryReport.stagingFiles} but gc removed ${report.stagingFiles}`);
  countGc(report, figures);
  figures.cliGcRuns++;
}

interface GcReport {
  stalePending: string[];
  finishedDeletes: number;
  orphanObjects: string[];
  recoverable: string[];
  stagingFiles: string[];
}

function countGc(report: GcReport, figures: CampaignFigures): void {
  figures.gcInterruptedUploads += report.stalePending.length;
  figures.gcStagingFiles += report.stagingFiles.length;
  figures.gcOrphans += report.orphanObjects.length;
  figures.gcFinishedDeletes += report.finishedDeletes;
}

async function checkAfterRestart(
  server: ServerProcess,
  view: StorageView,
  models: Map<string, KeyModel>,
  options: { gcByApi: boolean; life: number },
  problems: string[],
  figures: CampaignFigures,
): Promise<void> {
  const where = `after kill ${options.life + 1} (${view.label})`;
  const items = await searchAll(server.url);
  const byKey = new Map<string, SearchItem[]>();
  for (const item of items) {
    const path = `${item.specName}/${item.taskId}/${item.type}`;
    byKey.set(path, [...(byKey.get(path) ?? []), item]);
  }
  for (const path of byKey.keys()) if (!models.has(path)) problems.push(`${where}: search shows unknown key ${path}`);

  for (const model of models.values()) {
    const present = (byKey.get(model.path) ?? []).sort((left, right) => left.version - right.version);
    const seen: Version[] = present.map((item) => ({
      version: item.version,
      checksum: item.originalChecksum,
      size: item.originalSize,
    }));
    const allowed: Version[][] = [model.versions];
    const flight = model.inFlight;
    if (flight?.kind === "upload") {
      const next = { version: -1, checksum: flight.checksum, size: flight.size };
      allowed.push(flight.versioning ? [...model.versions, next] : [next]);
    } else if (flight?.kind === "delete") allowed.push([]);
    if (!allowed.some((candidate) => sameVersions(candidate, seen, model.highestVersion))) {
      problems.push(
        `${where}: ${model.path} holds ${describeVersions(seen)}; expected ${allowed.map(describeVersions).join(" or ")} ` +
          `(last operation ${flight ? `${flight.kind}, unanswered` : "answered"})`,
      );
    }
    if (flight?.kind === "upload") {
      if (seen.some((version) => version.checksum === flight.checksum)) figures.unansweredUploadsKept++;
      else figures.unansweredUploadsDropped++;
    }
    model.versions = seen;
    model.highestVersion = Math.max(model.highestVersion, ...seen.map((version) => version.version));
    model.inFlight = undefined;
  }

  for (const item of items) {
    const response = await fetch(
      `${server.url}/v1/artifacts/${item.specName}/${item.taskId}/${item.type}?version=${item.version}`,
      { headers: { "Accept-Encoding": "identity" } },
    );
    const bytes = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
    const actual = await sha256Hex(bytes);
    if (response.status !== 200 || bytes.length !== item.originalSize || actual !== item.originalChecksum) {
      problems.push(
        `${where}: ${item.uri} answered ${response.status} with ${bytes.length} bytes (SHA-256 ${actual}); ` +
          `expected ${item.originalSize} bytes with ${item.originalChecksum}`,
      );
    } else figures.verifiedDownloads++;
    if (item.integrity !== "ok") problems.push(`${where}: ${item.uri} is flagged ${item.integrity}`);
  }

  if (options.gcByApi) {
    const response = await fetch(`${server.url}/v1/maintenance/gc?grace=0`, { method: "POST" });
    if (response.status !== 200) problems.push(`${where}: gc answered ${response.status} ${await response.text()}`);
    else countGc((await response.json()) as GcReport, figures);
    const after = await searchAll(server.url);
    if (JSON.stringify(after.map((item) => item.uri).sort()) !== JSON.stringify(items.map((item) => item.uri).sort()))
      problems.push(`${where}: gc changed what search returns`);
  }

  const expectedKeys = expectedStoredKeys(items);
  const storedKeys = (await view.storedKeys()).filter((key) => key !== "metadata-index.json");
  const taskFiles = new Map<
    string,
    { artifacts: { type: string; version: number; checksum: string; size: number }[] }
  >();
  for (const key of expectedKeys.filter((candidate) => candidate.endsWith("/metadata.json"))) {
    const text = await view.readText(key);
    if (text !== null) taskFiles.set(key, JSON.parse(text));
  }
  for (const problem of compareTaskFiles(items, taskFiles)) problems.push(`${where}: ${problem}`);
  const missing = expectedKeys.filter((key) => !storedKeys.includes(key));
  const extra = storedKeys.filter((key) => !expectedKeys.includes(key));
  if (missing.length > 0) problems.push(`${where}: rows without objects: ${missing.join(", ")}`);
  if (extra.length > 0) problems.push(`${where}: objects without rows after gc: ${extra.join(", ")}`);
  const staging = await view.stagingFiles();
  if (staging.length > 0) problems.push(`${where}: staging files left after gc: ${staging.join(", ")}`);

  const stats = (await (await fetch(`${server.url}/v1/stats`)).json()) as {
    artifacts: number;
    pendingUploads: number;
    quota: { usedBytes: number; maxBytes: number };
  };
  const storedBytes = items.reduce((sum, item) => sum + item.size, 0);
  if (stats.quota.usedBytes !== storedBytes || stats.artifacts !== items.length || stats.pendingUploads !== 0) {
    problems.push(
      `${where}: stats say ${stats.artifacts} versions, ${stats.pendingUploads} pending, ${stats.quota.usedBytes} bytes used; ` +
        `search has ${items.length} versions of ${storedBytes} stored bytes`,
    );
  }
}

function sameVersions(expected: Version[], seen: Version[], highestBefore: number): boolean {
  if (expected.length !== seen.length) return false;
  return expected.every((version, index) => {
    const actual = seen[index] as Version;
    const numberOk = version.version === -1 ? actual.version > highestBefore : actual.version === version.version;
    return numberOk && actual.checksum === version.checksum && actual.size === version.size;
  });
}

function describeVersions(versions: Version[]): string {
  return `[${versions.map((version) => `v${version.version === -1 ? "?" : version.version} ${version.size}B ${version.checksum.slice(0, 8)}`).join(", ")}]`;
}

function report(label: string, figures: CampaignFigures, problems: string[]): void {
  figure(
    `crash (${label}): ${figures.kills} kills, ${problems.length} inconsistencies — killed ${figures.killedMidBody} uploads mid-body, ` +
      `${figures.killedAfterBodyBeforeAnswer} after the whole body was handed over but before the answer, ${figures.killedMidDelete} deletes; ` +
      `unanswered uploads afterwards: ${figures.unansweredUploadsKept} present, ${figures.unansweredUploadsDropped} absent, none partial`,
  );
  figure(
    `crash (${label}): ${figures.acknowledgedUploads} acknowledged uploads and ${figures.acknowledgedDeletes} deletes held; ` +
      `${figures.verifiedDownloads} downloads verified after restarts; gc (${figures.cliGcRuns} runs by CLI, the rest by API) removed ` +
      `${figures.gcInterruptedUploads} interrupted uploads, ${figures.gcStagingFiles} staging files, ${figures.gcOrphans} orphans, finished ${figures.gcFinishedDeletes} deletes`,
  );
}

// 200 kills in the default run, as the issue asks; the soak run does 450.
const FS_KILLS = scaled(130, 300);
const S3_KILLS = scaled(70, 150);

describe("crash consistency under SIGKILL", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  test(
    `filesystem: ${FS_KILLS} kills during uploads, overwrites and deletes leave every artifact whole or absent`,
    async () => {
      const dir = await makeTempDir("trust-crash-fs");
      cleanups.push(dir.cleanup);
      const view: StorageView = {
        label: "fs",
        bodyShapes: BODY_SHAPES,
        killWindowMs: [20, 450],
        env: {},
        storedKeys: () => listStoredKeys(join(dir.path, "store")),
        stagingFiles: () => listStagingFiles(join(dir.path, "store")),
        readText: (key) => readFile(join(dir.path, "store", key), "utf8").catch(() => null),
      };
      const random = seededRandom(runSeed("crash (fs)"));
      const { problems, figures } = await runCampaign(view, dir.path, FS_KILLS, random);
      report("fs", figures, problems);
      expect(problems).toEqual([]);
      expect(figures.kills).toBe(FS_KILLS);
      // The kills did land where it matters.
      expect(figures.killedMidBody + figures.killedAfterBodyBeforeAnswer).toBeGreaterThan(0);
    },
    scaled(300_000, 900_000),
  );

  test(
    `S3 (fauxqs, outliving the server): ${S3_KILLS} kills leave every artifact whole or absent`,
    async () => {
      const s3 = await startS3Server("fauxqs");
      cleanups.push(() => s3.dispose());
      await s3.createBucket("crash");
      const dir = await makeTempDir("trust-crash-s3");
      cleanups.push(dir.cleanup);
      const view: StorageView = {
        label: "s3",
        bodyShapes: S3_BODY_SHAPES,
        // Uploads to S3 take longer to be acknowledged (buffered, then PutObject or multipart).
        killWindowMs: [20, 900],
        env: s3.storeEnv("crash"),
        storedKeys: async () =>
          (await s3.listObjects("crash")).map((object) => object.key).filter((key) => !key.startsWith(".store/")),
        stagingFiles: async () =>
          (await s3.listObjects("crash")).map((object) => object.key).filter((key) => key.startsWith(".store/")),
        readText: (key) => s3.readText("crash", key),
      };
      const random = seededRandom(runSeed("crash (s3)"));
      const { problems, figures } = await runCampaign(view, dir.path, S3_KILLS, random);
      report("s3", figures, problems);
      expect(problems).toEqual([]);
      expect(figures.kills).toBe(S3_KILLS);
      expect(figures.killedMidBody + figures.killedAfterBodyBeforeAnswer).toBeGreaterThan(0);
    },
    scaled(240_000, 900_000),
  );
});

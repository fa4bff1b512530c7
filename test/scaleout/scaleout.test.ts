/**
 * Scale-out: two Bun server processes share one S3 bucket (fauxqs) and one libSQL server (sqld).
 * Several clients upload, download, delete and sweep through both at once; afterwards storage
 * and metadata must agree exactly.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createClient } from "@libsql/client";
import { type S3TestServer, startS3Server } from "../helpers/s3-servers.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { type SqldServer, startSqld } from "../helpers/sqld.ts";
import { makeTempDir } from "../helpers/store.ts";

const SOAK = process.env.TEST_SOAK === "1";
const RUN_MS = SOAK ? 60_000 : 12_000;
const CLIENTS = 8;
const BUCKET = "shared";
const QUOTA_GB = 0.05; // 50 MiB: large enough not to refuse, small enough that usage is checked against it

interface Sent {
  key: string;
  version: number;
  sha256: string;
  deleted: boolean;
}

describe("two servers sharing one S3 bucket and one sqld", () => {
  let s3: S3TestServer;
  let sqld: SqldServer;
  let servers: ServerProcess[] = [];
  let dirs: { path: string; cleanup(): Promise<void> }[] = [];

  beforeAll(async () => {
    s3 = await startS3Server("fauxqs");
    await s3.createBucket(BUCKET);
    sqld = await startSqld({ auth: true });
    const env = {
      ...s3.storeEnv(BUCKET),
      ARTIFACT_STORE_METADATA__URL: sqld.url,
      ARTIFACT_STORE_METADATA__AUTH_TOKEN: sqld.authToken ?? "",
      ARTIFACT_STORE_VERSIONING_ENABLED: "true",
      ARTIFACT_STORE_STORAGE_QUOTA__MAX_SIZE_GB: String(QUOTA_GB),
      // Logs expire after about two seconds, so sweeps during the run have work to do.
      ARTIFACT_STORE_RETENTION_POLICY__LOG: "0.00002",
      ARTIFACT_STORE_SERVER__CLEANUP_INTERVAL: "0",
    };
    for (let index = 0; index < 2; index++) {
      const dir = await makeTempDir(`scaleout-${index}`);
      dirs.push(dir);
      servers.push(await startServerProcess({ runtime: "bun", basePath: dir.path, env }));
    }
  });

  afterAll(async () => {
    for (const server of servers) await server.stop();
    await sqld?.stop();
    await s3?.dispose();
    for (const dir of dirs) await dir.cleanup();
    servers = [];
    dirs = [];
  });

  test("concurrent uploads, downloads, deletes and sweeps leave storage and metadata in agreement", async () => {
    const sent: Sent[] = [];
    const counts = { uploads: 0, downloads: 0, deletes: 0, sweeps: 0, swept: 0, unexpected: [] as string[] };
    const until = Date.now() + RUN_MS;
    const url = (index: number) => (servers[index % 2] as ServerProcess).url;

    const client = async (id: number) => {
      for (let round = 0; Date.now() < until; round++) {
        const task = `t${(id * 7 + round) % 12}`;
        const type = round % 3 === 0 ? "log" : "diff";
        const key = `${task}/${type}`;
        const body = `client ${id} round ${round} ${"x".repeat((id * 131 + round * 17) % 5000)}\n`;
        const put = await fetch(`${url(id + round)}/v1/artifacts/scale/${task}/${type}`, { method: "PUT", body });
        if (put.status !== 201) {
          counts.unexpected.push(`PUT ${key}: ${put.status} ${await put.text()}`);
          continue;
        }
        const stored = (await put.json()) as { version: number; originalChecksum: string };
        counts.uploads++;
        const record: Sent = { key, version: stored.version, sha256: stored.originalChecksum, deleted: false };
        sent.push(record);
        expect(stored.originalChecksum).toBe(createHash("sha256").update(body).digest("hex"));
        // Read it back through the other server.
        const get = await fetch(`${url(id + round + 1)}/v1/artifacts/scale/${task}/${type}?version=${stored.version}`);
        if (get.status === 200) {
          const text = await get.text();
          counts.downloads++;
          if (createHash("sha256").update(text).digest("hex") !== stored.originalChecksum)
            counts.unexpected.push(`GET ${key}: checksum`);
        } else if (!(get.status === 404 && type === "log")) {
          // A log may already have expired and been swept by another client's sweep.
          counts.unexpected.push(`GET ${key} v${stored.version}: ${get.status}`);
        }
        if (round % 5 === 4) {
          const removed = await fetch(`${url(id)}/v1/artifacts/scale/${task}/${type}?version=${stored.version}`, {
            method: "DELETE",
          });
          if (removed.status === 200) {
            record.deleted = true;
            counts.deletes++;
          } else if (!(removed.status === 404 && type === "log"))
            counts.unexpected.push(`DELETE ${key}: ${removed.status}`);
        }
        if (round % 20 === 10) {
          const sweep = await fetch(`${url(id)}/v1/maintenance/cleanup`, { method: "POST" });
          if (sweep.status !== 200) {
            counts.unexpected.push(`sweep: ${sweep.status} ${await sweep.text()}`);
            continue;
          }
          counts.sweeps++;
          counts.swept += ((await sweep.json()) as { deleted: number }).deleted;
        }
      }
    };
    // A request that fails outright (a reset connection) is an unexpected response too: the
    // servers' logs below then say what they were doing.
    await Promise.all(
      Array.from({ length: CLIENTS }, (_, id) =>
        client(id).catch((error: unknown) => {
          counts.unexpected.push(`client ${id} stopped: ${error}`);
        }),
      ),
    );

    // No upload lost a version or got one twice.
    const versions = new Map<string, number[]>();
    for (const entry of sent) versions.set(entry.key, [...(versions.get(entry.key) ?? []), entry.version]);
    let duplicates = 0;
    for (const list of versions.values()) duplicates += list.length - new Set(list).size;

    const db = createClient({ url: sqld.url, authToken: sqld.authToken as string });
    const rows = (
      await db.execute(
        "SELECT task_id, type, version, storage_key, size, state FROM artifacts WHERE spec_name = 'scale'",
      )
    ).rows;
    const committed = rows.filter((row) => row.state === "committed");
    const notCommitted = rows.filter((row) => row.state !== "committed");

    // Every version the clients did not delete is there, unless it was a log the sweep expired.
    const present = new Set(committed.map((row) => `${row.task_id}/${row.type}@${row.version}`));
    const missing = sent.filter(
      (entry) => !entry.deleted && !present.has(`${entry.key}@${entry.version}`) && !entry.key.endsWith("/log"),
    );
    const resurrected = sent.filter((entry) => entry.deleted && present.has(`${entry.key}@${entry.version}`));

    // Every committed row has its blob with its size; no blob without a row.
    const objects = new Map((await s3.listObjects(BUCKET)).map((object) => [object.key, object.size]));
    const rowsWithoutBlob = committed.filter((row) => objects.get(String(row.storage_key)) !== Number(row.size));
    const blobKeys = [...objects.keys()].filter(
      (key) => !key.endsWith("/metadata.json") && key !== "metadata-index.json" && !key.startsWith(".store/"),
    );
    const referenced = new Set(rows.map((row) => String(row.storage_key)));
    const blobsWithoutRow = blobKeys.filter((key) => !referenced.has(key));

    // Quota usage equals the sum of stored sizes, as both servers see it.
    const [usage] = (await db.execute("SELECT stored_bytes FROM store_usage WHERE id = 1")).rows;
    const sum = rows.reduce((total, row) => total + Number(row.size), 0);
    const stats = await Promise.all(
      servers.map(
        async (server) =>
          (await (await fetch(`${server.url}/v1/stats`)).json()) as { quota: { usedBytes: number; maxBytes: number } },
      ),
    );
    db.close();

    console.log(
      `[scale-out] 2 servers, ${CLIENTS} clients, ${RUN_MS / 1000} s: ${counts.uploads} uploads, ${counts.downloads} cross-server downloads, ` +
        `${counts.deletes} deletes, ${counts.sweeps} sweeps (${counts.swept} expired versions removed); ` +
        `${counts.unexpected.length} unexpected responses, ${duplicates} duplicate versions, ${missing.length} lost, ` +
        `${rowsWithoutBlob.length} rows without blob, ${blobsWithoutRow.length} blobs without row, usage ${usage?.stored_bytes} = sum ${sum}`,
    );
    if (counts.unexpected.length > 0) {
      // What the servers logged (warnings and errors) says why.
      for (const [index, server] of servers.entries()) {
        const lines = server
          .output()
          .split("\n")
          .filter((line) => /warn|error/i.test(line));
        console.log(`[scale-out] server ${index} warnings and errors:\n${lines.join("\n")}`);
      }
    }
    expect(counts.unexpected).toEqual([]);
    expect(counts.uploads).toBeGreaterThan(50);
    expect(counts.swept).toBeGreaterThan(0);
    expect(duplicates).toBe(0);
    expect(missing).toEqual([]);
    expect(resurrected).toEqual([]);
    expect(notCommitted.map((row) => `${row.storage_key}:${row.state}`)).toEqual([]);
    expect(rowsWithoutBlob.map((row) => row.storage_key)).toEqual([]);
    expect(blobsWithoutRow).toEqual([]);
    expect(Number(usage?.stored_bytes)).toBe(sum);
    for (const view of stats) {
      expect(view.quota.usedBytes).toBe(sum);
      expect(view.quota.usedBytes).toBeLessThanOrEqual(view.quota.maxBytes);
    }
  });
});

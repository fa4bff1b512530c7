/**
 * Metadata in a libSQL server (sqld with JWT auth), as the Bun and Node servers open it through
 * `openArtifactStore` (src/metadata/local.ts): `http://`, `ws://` and `libsql://` URLs with
 * `metadata.auth_token`, and `metadata.sync_url`, an embedded replica — a local file that serves
 * reads while writes are forwarded to the primary. Checked from outside, on the primary.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type Client, createClient } from "@libsql/client/web";
import { parseConfig } from "../../src/config/schema.ts";
import { openArtifactStore } from "../../src/runtime/local.ts";
import { startServerProcess } from "../helpers/server-process.ts";
import { type SqldServer, startSqld } from "../helpers/sqld.ts";
import { makeTempDir } from "../helpers/store.ts";

const sqld: SqldServer = await startSqld({ auth: true });
const primary: Client = createClient({ url: sqld.url, authToken: sqld.authToken });
const directory = await makeTempDir("embedded-replica");

afterAll(async () => {
  primary.close();
  await sqld.stop();
  await directory.cleanup();
});

async function rowsOnPrimary(specName: string): Promise<{ task_id: string; state: string }[]> {
  const result = await primary.execute({
    sql: "SELECT task_id, state FROM artifacts WHERE spec_name = ? ORDER BY task_id",
    args: [specName],
  });
  return result.rows.map((row) => ({ task_id: String(row.task_id), state: String(row.state) }));
}

function replicaConfig(name: string) {
  return parseConfig({
    artifact_store: {
      base_path: join(directory.path, name),
      versioning_enabled: true,
      metadata: {
        url: join(directory.path, name, "replica.db"),
        sync_url: sqld.url,
        auth_token: sqld.authToken,
      },
    },
  });
}

describe("remote metadata URLs with an auth token (metadata.url, metadata.auth_token)", () => {
  for (const scheme of ["http", "ws", "libsql"] as const) {
    test(`${scheme}:// — the store works and its rows are on the server`, async () => {
      const url = { http: sqld.url, ws: sqld.wsUrl, libsql: sqld.libsqlUrl }[scheme];
      const config = parseConfig({
        artifact_store: {
          base_path: join(directory.path, `remote-${scheme}`),
          metadata: { url, auth_token: sqld.authToken },
        },
      });
      const store = await openArtifactStore({ config });
      try {
        const uploaded = await store.upload({
          specName: `remote-${scheme}`,
          taskId: "t",
          type: "log",
          content: scheme,
        });
        expect(await rowsOnPrimary(`remote-${scheme}`)).toEqual([{ task_id: "t", state: "committed" }]);
        expect(await store.downloadText(uploaded.uri)).toBe(scheme);
      } finally {
        await store.close();
      }
    });
  }

  test("without the token the server refuses, and opening the store fails with a backend error", async () => {
    const config = parseConfig({
      artifact_store: { base_path: join(directory.path, "remote-no-token"), metadata: { url: sqld.url } },
    });
    const error = await openArtifactStore({ config }).catch((caught) => caught);
    expect(error.code).toBe("E_BACKEND");
    expect(error.message).toContain("401");
  });
});

describe("embedded replica (metadata.sync_url)", () => {
  test("a Bun store on a replica file reads and writes; its writes land on the primary", async () => {
    const store = await openArtifactStore({ config: replicaConfig("library") });
    try {
      const uploaded = await store.upload({
        specName: "replica-lib",
        taskId: "t1",
        type: "log",
        content: "via replica",
      });
      expect(await rowsOnPrimary("replica-lib")).toEqual([{ task_id: "t1", state: "committed" }]);
      expect(await store.downloadText(uploaded.uri)).toBe("via replica");
      expect((await store.search({ specName: "replica-lib" })).map((item) => item.taskId)).toEqual(["t1"]);
    } finally {
      await store.close();
    }

    // Another writer on the primary (a second replica, as a second server would be).
    const other = await openArtifactStore({ config: replicaConfig("library-other") });
    try {
      await other.upload({ specName: "replica-lib", taskId: "t2", type: "log", content: "from elsewhere" });
    } finally {
      await other.close();
    }
    expect((await rowsOnPrimary("replica-lib")).map((row) => row.task_id)).toEqual(["t1", "t2"]);

    // The first replica catches up when it syncs (on open here; metadata.sync_interval in servers).
    const reopened = await openArtifactStore({ config: replicaConfig("library") });
    try {
      expect((await reopened.search({ specName: "replica-lib" })).map((item) => item.taskId)).toEqual(["t2", "t1"]);
    } finally {
      await reopened.close();
    }
  });

  for (const runtime of ["bun", "node"] as const) {
    test(`a ${runtime} server started with ARTIFACT_STORE_METADATA__SYNC_URL writes to the primary`, async () => {
      const basePath = join(directory.path, `server-${runtime}`);
      const server = await startServerProcess({
        runtime,
        basePath,
        env: {
          ARTIFACT_STORE_METADATA__URL: join(basePath, "replica.db"),
          ARTIFACT_STORE_METADATA__SYNC_URL: sqld.url,
          ARTIFACT_STORE_METADATA__AUTH_TOKEN: sqld.authToken as string,
        },
      });
      try {
        const spec = `replica-${runtime}`;
        const put = await fetch(`${server.url}/v1/artifacts/${spec}/t1/log`, { method: "PUT", body: "server write" });
        expect(put.status).toBe(201);
        expect(await rowsOnPrimary(spec)).toEqual([{ task_id: "t1", state: "committed" }]);
        expect(await (await fetch(`${server.url}/v1/artifacts/${spec}/t1/log`)).text()).toBe("server write");
      } finally {
        expect(await server.stop()).toBe(0);
      }
    });
  }
});

/**
 * A strict PUT of a small first version is answered 201 once its row and bytes are in the
 * fsynced WAL, before any file is written. Killed right after that 201 (its file not yet
 * written: the test holds the task's lease, as another server would, so the background pass
 * waits), the server loses nothing: the version reads back before and after the kill, and the
 * next server writes it at its seed path with `metadata.json` listing it before it listens.
 */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { startServerProcess } from "../helpers/server-process.ts";
import { makeTempDir } from "../helpers/store.ts";

test("a strict small PUT answered 201 survives SIGKILL before its file is written, and is then at its seed path", async () => {
  const dir = await makeTempDir("inline-crash");
  const basePath = join(dir.path, "artifacts");
  const env = { ARTIFACT_STORE_DURABILITY: "strict" };
  let server = await startServerProcess({ runtime: "bun", basePath, env });
  const holder = await openLocalMetadata({ url: join(basePath, ".store", "metadata.db") });
  try {
    // Another process's turn on the task: the server's background pass cannot write its files.
    expect(await holder.takeTaskLease("chat-app", "1.1", "another-server", 600_000)).toBe(true);
    const content = "step 1 ok\nstep 2 ok\n".repeat(50);
    const put = await fetch(`${server.url}/v1/artifacts/chat-app/1.1/log`, {
      method: "PUT",
      headers: { "Content-Type": "text/plain" },
      body: content,
    });
    expect(put.status).toBe(201);
    const seedPath = join(basePath, "chat-app", "1.1", "log.txt.gz");
    expect(existsSync(seedPath)).toBe(false);
    // Read-your-writes at once, from the database.
    const get = await fetch(`${server.url}/v1/artifacts/chat-app/1.1/log`);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe(content);

    await server.stop("SIGKILL");
    expect(existsSync(seedPath)).toBe(false);
    await holder.releaseTaskLease("chat-app", "1.1", "another-server");

    server = await startServerProcess({ runtime: "bun", basePath, env });
    // Written before the server listened.
    expect(gunzipSync(await readFile(seedPath)).toString()).toBe(content);
    const listed = JSON.parse(await readFile(join(basePath, "chat-app", "1.1", "metadata.json"), "utf8")) as {
      artifacts: { type: string; version: number; original_checksum?: string }[];
    };
    expect(listed.artifacts.map((entry) => [entry.type, entry.version])).toEqual([["log", 1]]);
    const again = await fetch(`${server.url}/v1/artifacts/chat-app/1.1/log`);
    expect(await again.text()).toBe(content);
  } finally {
    await server.stop("SIGKILL");
    await holder.close();
    await dir.cleanup();
  }
}, 120_000);

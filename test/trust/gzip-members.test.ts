/**
 * Every stored gzip is exactly one member, however the client's gzip body is built: browsers,
 * `curl --compressed` and several libraries stop after the first member, so a leading empty
 * member would show them nothing while the plain download shows the data.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { Gunzip, gzipSync } from "fflate";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { freshStorePerTest, makeTempDir } from "../helpers/store.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const gz = (text: string) => gzipSync(encode(text));
const join = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((part) => [...part]));

/** How many gzip members `bytes` holds (decoding all of them). */
function gzipMembers(bytes: Uint8Array): number {
  let members = 1;
  const gunzip = new Gunzip(() => {});
  gunzip.onmember = () => members++;
  gunzip.push(bytes, true);
  return members;
}

const DATA = "the data a reviewer must see\n".repeat(50);
const CRAFTED: [label: string, body: Uint8Array][] = [
  ['gzip("") + gzip(data)', join(gz(""), gz(DATA))],
  ['gzip("") + gzip("") + gzip(data)', join(gz(""), gz(""), gz(DATA))],
  ['gzip(data) + gzip("")', join(gz(DATA), gz(""))],
  ["gzip(first half) + gzip(second half)", join(gz(DATA.slice(0, 700)), gz(DATA.slice(700)))],
];

describe("gzip bodies of several members", () => {
  const open = freshStorePerTest();

  for (const [label, body] of CRAFTED) {
    test(`${label} is stored as one member holding the whole content`, async () => {
      const { store } = await open();
      const result = await store.upload({
        specName: "s",
        taskId: "t",
        type: "log",
        content: body,
        contentEncoding: "gzip",
      });
      const stored = new Uint8Array(await readFile(new URL(result.uri)));
      expect(gzipMembers(stored)).toBe(1);
      expect(spawnSync("gzip", ["-t"], { input: stored }).status).toBe(0);
      expect(result.originalSize).toBe(DATA.length);
      expect(await store.downloadText(result.uri)).toBe(DATA);
    });
  }

  test("a one-member gzip body is stored byte for byte as sent", async () => {
    const { store } = await open();
    const body = gz(DATA);
    const result = await store.upload({
      specName: "s",
      taskId: "t",
      type: "log",
      content: body,
      contentEncoding: "gzip",
    });
    expect(new Uint8Array(await readFile(new URL(result.uri)))).toEqual(body);
  });
});

describe("over HTTP: what curl --compressed gets", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let server: ServerProcess;
  beforeAll(async () => {
    dir = await makeTempDir("gzip-members");
    server = await startServerProcess({ runtime: "bun", basePath: dir.path });
  });
  afterAll(async () => {
    await server?.stop();
    await dir.cleanup();
  });

  test('gzip("") + gzip(data) sent with Content-Encoding: gzip reads back whole with and without --compressed', async () => {
    const put = await fetch(`${server.url}/v1/artifacts/s/t/log`, {
      method: "PUT",
      body: join(gz(""), gz(DATA)),
      headers: { "Content-Encoding": "gzip" },
    });
    expect(put.status).toBe(201);
    const url = `${server.url}/v1/artifacts/s/t/log`;
    const compressed = spawnSync("curl", ["-sS", "--compressed", url], { encoding: "utf8" });
    expect(compressed.stdout).toBe(DATA);
    const plain = spawnSync("curl", ["-sS", url], { encoding: "utf8" });
    expect(plain.stdout).toBe(DATA);
    const raw = spawnSync("curl", ["-sS", "-H", "Accept-Encoding: gzip", url]);
    expect(gzipMembers(new Uint8Array(raw.stdout))).toBe(1);
  });
});

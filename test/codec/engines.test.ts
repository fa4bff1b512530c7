/**
 * Every codec engine must produce standard single-member gzip and standard SHA-256, and decode
 * concatenated members: the engines are interchangeable, whichever runtime injected them.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { gunzipSync, gzipSync } from "node:zlib";
import type { CodecEngines } from "../../src/codec/engines.ts";
import { toHex } from "../../src/codec/engines.ts";
import { portableEngines } from "../../src/codec/portable.ts";
import { collectBytes, streamFromBytes } from "../../src/codec/streams.ts";
import { createNativeEngines } from "../../src/runtime/engines.ts";
import { ensureBuilt, repoRoot } from "../helpers/server-process.ts";
import { makeLog, sha256Hex } from "../helpers/store.ts";

const content = new TextEncoder().encode(makeLog(20_000));

function describeEngine(engines: CodecEngines): void {
  describe(`engines ${engines.name}`, () => {
    test("gzip output is one standard member that zlib decodes to the content, at levels 1, 6 and 9", async () => {
      for (const level of [1, 6, 9]) {
        const gz = await collectBytes(streamFromBytes(content, 100_000).pipeThrough(engines.createGzip(level)));
        expect(gz[0]).toBe(0x1f);
        expect(gz[1]).toBe(0x8b);
        expect(new Uint8Array(gunzipSync(gz))).toEqual(content);
        expect(new DataView(gz.buffer, gz.byteOffset).getUint32(gz.length - 4, true)).toBe(content.length);
      }
    });

    test("one-shot gzip of bytes in memory is one standard member that zlib decodes, at levels 1, 6 and 9", () => {
      const oneShot = engines.gzipSync;
      expect(oneShot).toBeDefined();
      for (const level of [1, 6, 9]) {
        for (const bytes of [content.subarray(0, 4096), content, new Uint8Array(0)]) {
          const gz = (oneShot as NonNullable<typeof oneShot>)(bytes, level);
          expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
          expect(new Uint8Array(gunzipSync(gz))).toEqual(bytes);
          expect(new DataView(gz.buffer, gz.byteOffset).getUint32(gz.length - 4, true)).toBe(bytes.length);
        }
      }
    });

    test("gunzip decodes concatenated members and refuses damaged input", async () => {
      const joined = new Uint8Array([...gzipSync("first\n"), ...gzipSync("second\n")]);
      expect(
        new TextDecoder().decode(await collectBytes(streamFromBytes(joined).pipeThrough(engines.createGunzip()))),
      ).toBe("first\nsecond\n");
      const truncated = gzipSync(content).subarray(0, 1000);
      await expect(collectBytes(streamFromBytes(truncated).pipeThrough(engines.createGunzip()))).rejects.toBeDefined();
      await expect(
        collectBytes(streamFromBytes(new TextEncoder().encode("not gzip")).pipeThrough(engines.createGunzip())),
      ).rejects.toBeDefined();
    });

    test("SHA-256 matches WebCrypto, fed in uneven chunks", async () => {
      const hasher = engines.createSha256();
      for (let offset = 0; offset < content.length; offset += 7919)
        hasher.update(content.subarray(offset, offset + 7919));
      expect(toHex(hasher.digest())).toBe(await sha256Hex(content));
    });

    test("one-shot SHA-256 of bytes in memory, where the engine has it, matches WebCrypto", async () => {
      const oneShot = engines.sha256Hex;
      if (!oneShot) return expect(engines).toBe(portableEngines);
      for (const bytes of [new Uint8Array(0), content.subarray(0, 1500), content])
        expect(oneShot(bytes)).toBe(await sha256Hex(bytes));
    });
  });
}

describeEngine(portableEngines);
describeEngine(createNativeEngines());
describeEngine(createNativeEngines({ gzipThreads: 0 }));
describeEngine(createNativeEngines({ gzipThreads: 3 }));

test("Node's native engines (run under node on dist/) agree with WebCrypto and zlib", async () => {
  ensureBuilt();
  const script = `
    import { createNativeEngines } from ${JSON.stringify(`${repoRoot}/dist/runtime/engines.js`)};
    import { toHex } from ${JSON.stringify(`${repoRoot}/dist/codec/engines.js`)};
    import { gunzipSync, gzipSync } from "node:zlib";
    const engines = createNativeEngines({ gzipThreads: 2 });
    // 3.9 MB: four blocks on the deflate threads, which must keep node alive while they work.
    const data = new TextEncoder().encode("node engines ".repeat(300000));
    const gz = new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(engines.createGzip(6))).arrayBuffer());
    const gz1 = new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(engines.createGzip(1))).arrayBuffer());
    const joined = new Uint8Array([...gzipSync("a"), ...gzipSync("b")]);
    const multi = await new Response(new Blob([joined]).stream().pipeThrough(engines.createGunzip())).text();
    const hasher = engines.createSha256(); hasher.update(data);
    const oneShot = engines.sha256Hex(data);
    // Block edges on Node's thread-pool deflate, and a refused level failing the stream.
    const edges = [];
    for (const size of [0, 65536, 65537, 1048575, 1048576, 1048577, 2621440]) {
      const piece = data.subarray(0, size);
      const out = new Uint8Array(await new Response(new Blob([piece]).stream().pipeThrough(engines.createGzip(9))).arrayBuffer());
      edges.push(Buffer.compare(gunzipSync(out), piece) === 0);
    }
    const refused = await new Response(new Blob([data]).stream().pipeThrough(engines.createGzip(42))).arrayBuffer().then(() => "accepted", (error) => error.message.startsWith("parallel gzip:"));
    console.log(JSON.stringify({ name: engines.name, roundTrip: gunzipSync(gz).length === data.length && gunzipSync(gz1).length === data.length, multi, sha: toHex(hasher.digest()), oneShot, edges, refused }));
  `;
  const result = spawnSync("node", ["--input-type=module", "-e", script], { encoding: "utf8" });
  expect(result.stderr).toBe("");
  const report = JSON.parse(result.stdout);
  expect(report).toEqual({
    name: "node-native (parallel deflate ×2, node:crypto)",
    roundTrip: true,
    multi: "ab",
    sha: await sha256Hex(new TextEncoder().encode("node engines ".repeat(300000))),
    oneShot: await sha256Hex(new TextEncoder().encode("node engines ".repeat(300000))),
    edges: [true, true, true, true, true, true, true],
    refused: true,
  });
});

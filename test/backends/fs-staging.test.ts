/**
 * A small put (length known up front) is written whole (synchronous calls with fsync off, one writeFile
 * with fsync on): the same bytes land at
 * the key, a body longer than it said is still written whole (the caller's size check sees it),
 * and a body that fails leaves nothing behind.
 */
import { expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createFsBackend } from "../../src/backends/fs.ts";
import { streamFromBytes } from "../../src/codec/streams.ts";
import { failingStream, makeTempDir, randomBytes } from "../helpers/store.ts";

test.each([false, true])(
  "small puts land whole, longer-than-said bodies too, failed ones leave nothing (fsync %p)",
  async (fsync) => {
    const dir = await makeTempDir("fs-staging");
    try {
      const backend = createFsBackend({ root: dir.path, fsync });
      const small = randomBytes(4096);
      const info = await backend.put("s/t/log.txt", streamFromBytes(small, 1000), { contentLength: small.length });
      expect(info.size).toBe(4096);
      expect(new Uint8Array(await readFile(join(dir.path, "s", "t", "log.txt")))).toEqual(small);

      // Said 10 bytes, sent 200 KiB in chunks: everything is written and the size tells.
      const long = randomBytes(200 * 1024);
      const longInfo = await backend.put("s/t/long.txt", streamFromBytes(long, 16 * 1024), { contentLength: 10 });
      expect(longInfo.size).toBe(long.length);
      expect(new Uint8Array(await readFile(join(dir.path, "s", "t", "long.txt")))).toEqual(long);

      const failing = failingStream([randomBytes(1000)], new Error("client went away"));
      await expect(backend.put("s/t/failed.txt", failing, { contentLength: 2000 })).rejects.toThrow();
      expect(await readdir(join(dir.path, "s", "t"))).toEqual(["log.txt", "long.txt"]);
      expect(await readdir(backend.stagingDir)).toEqual([]);
    } finally {
      await dir.cleanup();
    }
  },
);

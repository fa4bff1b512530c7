/**
 * Protocol edges: If-Range, range ends past the content, hostile parameters that must be a
 * 400 (never a 500), the viewer's error page and its log line, and what a damaged download
 * leaves in the server's log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createApp } from "../../src/http/app.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeFsStore, makeTempDir, recordingLogger, type TestStore } from "../helpers/store.ts";

let fixture: TestStore;
afterEach(async () => fixture?.cleanup());

async function appWithTwoVersions() {
  fixture = await makeFsStore({ versioningEnabled: true });
  const first = await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: "version one\n" });
  const app = createApp({ store: fixture.store, logger: recordingLogger(fixture.logs) });
  return { app, first };
}

const identity = { "Accept-Encoding": "identity" };

describe("If-Range and range ends", () => {
  test("a resumed download whose validator no longer matches gets the whole current version, not a splice", async () => {
    const { app, first } = await appWithTwoVersions();
    const etag = `"${first.originalChecksum}"`;
    const resumed = await app.request("/v1/artifacts/s/t/log", {
      headers: { ...identity, Range: "bytes=4-", "If-Range": etag },
    });
    expect(resumed.status).toBe(206);
    expect(await resumed.text()).toBe("ion one\n");
    await fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: "version two, longer\n" });
    const stale = await app.request("/v1/artifacts/s/t/log", {
      headers: { ...identity, Range: "bytes=4-", "If-Range": etag },
    });
    expect(stale.status).toBe(200);
    expect(stale.headers.get("content-range")).toBeNull();
    expect(await stale.text()).toBe("version two, longer\n");
    // Dates are second-granular: two versions can share one, so a date never resumes.
    const dated = await app.request("/v1/artifacts/s/t/log", {
      headers: { ...identity, Range: "bytes=4-", "If-Range": new Date(first.createdAt).toUTCString() },
    });
    expect(dated.status).toBe(200);
    const weak = await app.request("/v1/artifacts/s/t/log?version=1", {
      headers: { ...identity, Range: "bytes=4-", "If-Range": `W/${etag}` },
    });
    expect(weak.status).toBe(200);
    // Past its end, a range the validator no longer covers is no error either.
    const beyond = await app.request("/v1/artifacts/s/t/log", {
      headers: { ...identity, Range: "bytes=500-", "If-Range": etag },
    });
    expect(beyond.status).toBe(200);
  });

  test("a range end past the content, however large, is clamped to the last byte (RFC 9110 §14.1.2)", async () => {
    const { app } = await appWithTwoVersions();
    for (const range of ["bytes=8-999", "bytes=8-99999999999999999999999", "bytes=8-9007199254740993"]) {
      const response = await app.request("/v1/artifacts/s/t/log", { headers: { ...identity, Range: range } });
      expect({ range, status: response.status }).toEqual({ range, status: 206 });
      expect(response.headers.get("content-range")).toBe("bytes 8-11/12");
      expect(await response.text()).toBe("one\n");
    }
    const suffix = await app.request("/v1/artifacts/s/t/log", {
      headers: { ...identity, Range: "bytes=-99999999999999999999999" },
    });
    expect(suffix.status).toBe(206);
    expect(await suffix.text()).toBe("version one\n");
    await fixture.store.appendLog({ specName: "s", taskId: "live", content: "0123456789" });
    const live = await app.request("/v1/artifacts/s/live/log:live", {
      headers: { Range: "bytes=5-99999999999999999999" },
    });
    expect(live.status).toBe(206);
    expect(await live.text()).toBe("56789");
  });
});

describe("hostile parameters are 400, never 500", () => {
  test("JSON nested 20,000 deep in a PATCH body or the metadata header", async () => {
    const { app } = await appWithTwoVersions();
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    for (const body of [`{"tags": ${deep}}`, `{"addTags": ${deep}}`, deep, `{"pinned": ${"{".repeat(5000)}`]) {
      const response = await app.request("/v1/artifacts/s/t/log?version=1", { method: "PATCH", body });
      expect(response.status).toBe(400);
    }
    const put = await app.request("/v1/artifacts/s/t/log", {
      method: "PUT",
      body: "x",
      headers: { "X-Artifact-Metadata": `{"a": ${"[".repeat(3000)}${"]".repeat(3000)}}` },
    });
    expect(put.status).toBe(400);
    const nested: Record<string, unknown> = {};
    let cursor = nested;
    for (let level = 0; level < 100; level++) cursor = cursor.next = {};
    await expect(
      fixture.store.upload({ specName: "s", taskId: "t", type: "log", content: "x", metadata: nested }),
    ).rejects.toMatchObject({ code: "E_INVALID_INPUT" });
    // A document of ordinary depth still works.
    const ok = await app.request("/v1/artifacts/s/t/log?version=1", { method: "PATCH", body: '{"addTags": ["keep"]}' });
    expect(ok.status).toBe(200);
  });

  test("huge, negative or fractional page numbers in the viewer", async () => {
    const { app } = await appWithTwoVersions();
    for (const page of ["1e308", "0", "-1", "1.5", "99999999999999999999"]) {
      const response = await app.request(`/ui/s/s?page=${page}`);
      expect({ page, status: response.status }).toEqual({ page, status: 400 });
    }
    expect((await app.request("/ui/s/s?page=2")).status).toBe(200);
  });

  test("CR/LF in the login form's next", async () => {
    const { app } = await appWithTwoVersions();
    for (const next of ["/ui/%0d%0aSet-Cookie:%20a=b", "/ui%0aX", "/ui/s%00"]) {
      const posted = await app.request("/ui/login", {
        method: "POST",
        body: `token=x&next=${next}`,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
      expect({ next, status: posted.status }).toEqual({ next, status: 400 });
      expect(posted.headers.get("set-cookie")).toBeNull();
      expect((await app.request(`/ui/login?next=${next}`)).status).toBe(400);
    }
  });
});

describe("the viewer's error page", () => {
  test('says "see the server log", and the server log has the failure on one line', async () => {
    fixture = await makeFsStore();
    const failing = {
      ...fixture.store,
      browseSpecs: async () => {
        throw new Error("database went away at /srv/secret/path");
      },
    };
    const app = createApp({ store: failing, logger: recordingLogger(fixture.logs) });
    const response = await app.request("/ui");
    expect(response.status).toBe(500);
    const page = await response.text();
    expect(page).toContain("see the server log");
    expect(page).not.toContain("/srv/secret/path");
    const logged = fixture.logs.filter((entry) => entry.level === "error");
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toContain("database went away");
  });
});

for (const runtime of ["bun", "node", "deno"] as const) {
  describe(`${runtime} server: a damaged file downloaded`, () => {
    let dir: { path: string; cleanup(): Promise<void> };
    let server: ServerProcess;
    beforeAll(async () => {
      dir = await makeTempDir(`damaged-${runtime}`);
      server = await startServerProcess({ runtime, basePath: dir.path });
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
      await dir.cleanup();
    });

    test("logs one line naming the artifact, no stack", async () => {
      // Past the size the store verifies before answering: the damage is found mid-transfer.
      const lines = Array.from({ length: 20_000 }, () => `${crypto.randomUUID()}\n`).join("");
      expect((await fetch(`${server.url}/v1/artifacts/s/t/log`, { method: "PUT", body: lines })).status).toBe(201);
      // The current version is at the seed path.
      const file = join(dir.path, "s", "t", "log.txt.gz");
      const bytes = new Uint8Array(await Bun.file(file).arrayBuffer());
      bytes.fill(0x58, 5000, 5008);
      await writeFile(file, bytes);
      const before = server.output().length;
      const response = await fetch(`${server.url}/v1/artifacts/s/t/log`, { headers: identity });
      await response.text().catch(() => "");
      await Bun.sleep(300);
      const logged = server
        .output()
        .slice(before)
        .split("\n")
        .filter((line) => line.trim() !== "" && !line.includes(" INFO request "));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain("ERROR artifact failed verification");
      expect(server.output()).not.toMatch(/^\s+at /m);
    });
  });
}

/**
 * Bad input. Property-based (fast-check) over the Hono app on a real fs store: spec/task/type
 * names, X-Artifact-Tags, X-Artifact-Metadata, Content-Digest, Content-Encoding, Range, search
 * parameters and PATCH bodies. Each property states which inputs are valid; an invalid one must
 * get a 4xx with the JSON error shape and change nothing in storage or metadata; a valid one
 * must work. Then hostile clients against the real Bun server: truncated bodies, bodies that
 * claim gzip, gzip bombs, clients that stall or abort mid-body, and absurd headers — nothing is
 * published, nothing is left in staging, and the server keeps serving others meanwhile.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import fc from "fast-check";
import { gzipSync } from "fflate";
import { createFsBackend } from "../../src/backends/fs.ts";
import { createApp } from "../../src/http/app.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeFsStore, makeLog, makeTempDir, sha256Hex, type TestStore } from "../helpers/store.ts";
import {
  figure,
  isErrorShape,
  listStagingFiles,
  listStoredKeys,
  pacedBody,
  rawHttp,
  runSeed,
  scaled,
  searchAll,
  sleep,
  waitFor,
} from "./support.ts";

const RUNS = scaled(120, 1000);
const NAME_RULE = /^[A-Za-z0-9._-]{1,128}$/;
const TAG_RULE = /^[A-Za-z0-9._:=@+-]{1,128}$/;
const TYPES = ["log", "diff", "test"];

/** The documented name rule: 1-128 letters, digits, '.', '_', '-'; no leading dot, no '..'. */
const isValidName = (name: string) => NAME_RULE.test(name) && !name.startsWith(".") && !name.includes("..");

/** Characters a header value can carry (visible ASCII and space). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) });
const validTag = fc.stringMatching(/^[A-Za-z0-9._:=@+-]{1,20}$/);
/** Names drawn near the edges of the rule, plus anything at all. */
const nameCandidate = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}$/),
  fc.constantFrom(".", "..", ".hidden", "a..b", "a/b", "a\\b", " ", "x".repeat(128), "x".repeat(129), "%2e%2e"),
  fc.string({ unit: fc.constantFrom(..."aZ09._-/\\%: \u2024\uff0e\u00e9".split("")), maxLength: 12 }),
  fc.string({ maxLength: 12 }),
);

/** JSON text safe for a header: non-ASCII escaped. */
const asciiJson = (value: unknown) =>
  JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );

describe("property-based bad input over the HTTP app", () => {
  let fixture: TestStore;
  let app: ReturnType<typeof createApp>;
  const tally = { tried: 0, invalid: 0, acceptedWrongly: 0, serverErrors: 0 };
  let caseNumber = 0;
  let seed = 0;

  beforeAll(() => {
    seed = runSeed("bad input (properties)");
  });
  // A fresh store per property keeps the before/after comparison of storage small.
  beforeEach(async () => {
    // fsync off: the properties send thousands of requests; durability is not what is tested here.
    fixture = await makeFsStore({}, (backend) => createFsBackend({ root: backend.root, fsync: false }));
    app = createApp({ store: fixture.store });
  });
  afterEach(() => fixture.cleanup());
  afterAll(() => {
    figure(
      `bad input (properties): ${tally.tried} inputs tried, ${tally.invalid} invalid, ` +
        `${tally.acceptedWrongly} accepted wrongly, ${tally.serverErrors} answered 5xx`,
    );
  });

  /**
   * Everything a request could have changed: stored objects, staging files, committed versions.
   * (`metadata-index.json` is left out: it is the store's summary of the committed versions,
   * rewritten up to a second after the accepted uploads before this request; the versions are compared.)
   */
  const storeState = async () =>
    JSON.stringify({
      objects: (await listStoredKeys(fixture.root)).filter((key) => key !== "metadata-index.json"),
      staging: await listStagingFiles(fixture.root),
      versions: (await fixture.store.search({ limit: 1000 })).map((item) => [item.uri, item.tags, item.pinned]),
    });

  /**
   * The state once the previous accepted request's work after its answer (the in-progress upload
   * file's removal, the task's files) is done: seen in 1 of ~10 clean runs as a difference
   * between "before" and "after" a refused request that the refused request did not make.
   */
  const settledStoreState = async () => {
    let state = await storeState();
    for (let attempt = 0; attempt < 40; attempt++) {
      await Bun.sleep(25);
      const again = await storeState();
      if (again === state) return state;
      state = again;
    }
    return state;
  };

  /**
   * Sends one request and checks the verdict: `valid` inputs must get `okStatus`; invalid ones a
   * 4xx from `allowed` with the error shape, leaving the store as it was. Returns the response.
   */
  async function judge(
    request: () => Promise<Response> | Response,
    verdict: { valid: boolean; okStatus?: number; allowed?: number[]; codes?: string[] },
  ): Promise<Response> {
    tally.tried++;
    const before = verdict.valid ? "" : await settledStoreState();
    const response = await request();
    if (response.status >= 500) tally.serverErrors++;
    if (verdict.valid) {
      expect(response.status).toBe(verdict.okStatus ?? 201);
      return response;
    }
    tally.invalid++;
    if (response.status < 400) tally.acceptedWrongly++;
    const body = await response.clone().json();
    expect(verdict.allowed ?? [400]).toContain(response.status);
    expect(isErrorShape(body)).toBe(true);
    if (verdict.codes) expect(verdict.codes).toContain(body.error.code);
    expect(await storeState()).toBe(before);
    return response;
  }

  const put = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
    app.request(path, { method: "PUT", body, headers });
  const nextTask = () => `case-${++caseNumber}`;
  const options = () => ({ numRuns: RUNS, seed: seed + caseNumber });

  test("spec, task and type in the path: valid names store and read back; anything else is 400/404 and stores nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        nameCandidate,
        nameCandidate,
        fc.oneof(fc.constantFrom(...TYPES), nameCandidate),
        async (spec, task, type) => {
          const path = `/v1/artifacts/${encodeURIComponent(spec)}/${encodeURIComponent(task)}/${encodeURIComponent(type)}`;
          const valid = isValidName(spec) && isValidName(task) && TYPES.includes(type);
          const body = `content of ${path}\n`;
          await judge(() => put(path, body), {
            valid,
            allowed: [400, 404],
            codes: ["E_INVALID_NAME", "E_INVALID_INPUT", "E_NOT_FOUND"],
          });
          if (valid) expect(await (await app.request(path)).text()).toBe(body);
          const read = await app.request(path);
          expect(read.status).toBeLessThan(500);
        },
      ),
      options(),
    );
  });

  test("X-Artifact-Tags: comma-separated valid tags (at most 64) are stored sorted; any bad tag is 400", async () => {
    const tagsHeader = fc.oneof(
      fc.array(validTag, { maxLength: 70 }).map((tags) => tags.join(",")),
      fc.array(fc.oneof(validTag, headerText), { maxLength: 6 }).map((tags) => tags.join(" , ")),
      headerText,
    );
    await fc.assert(
      fc.asyncProperty(tagsHeader, async (header) => {
        const tags = [
          ...new Set(
            header
              .split(",")
              .map((tag) => tag.trim())
              .filter(Boolean),
          ),
        ];
        const valid = tags.every((tag) => TAG_RULE.test(tag)) && tags.length <= 64;
        const response = await judge(
          () => put(`/v1/artifacts/tags/${nextTask()}/log`, "x", { "X-Artifact-Tags": header }),
          {
            valid,
          },
        );
        if (valid) expect((await response.json()).tags).toEqual([...tags].sort());
      }),
      options(),
    );
  });

  test("X-Artifact-Metadata: a JSON object is kept as sent; any other JSON or text is 400", async () => {
    const metadataHeader = fc.oneof(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })).map(asciiJson),
      fc.jsonValue({ maxDepth: 2 }).map(asciiJson),
      headerText,
    );
    await fc.assert(
      fc.asyncProperty(metadataHeader, async (header) => {
        let parsed: unknown;
        try {
          parsed = header.trim() === "" ? {} : JSON.parse(header);
        } catch {
          parsed = undefined;
        }
        const valid = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
        const response = await judge(
          () => put(`/v1/artifacts/meta/${nextTask()}/log`, "x", { "X-Artifact-Metadata": header }),
          { valid, codes: ["E_INVALID_INPUT"] },
        );
        if (valid) expect((await response.json()).metadata).toEqual(JSON.parse(JSON.stringify(parsed)));
      }),
      options(),
    );
  });

  test("Content-Digest: the right sha-256 stores; a wrong one is 422, a malformed one 400; other algorithms are ignored", async () => {
    const body = new TextEncoder().encode(makeLog(20));
    const right = Buffer.from(await sha256Hex(body), "hex").toString("base64");
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
    const digest = fc.oneof(
      fc
        .constantFrom(`sha-256=:${right}:`, `SHA-256=:${right}:`, ` sha-256 = :${right}: `)
        .map((header) => ({ header, status: 201 })),
      fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((bytes) => ({ header: `sha-256=:${b64(bytes)}:`, status: 422 })),
      fc
        .uint8Array({ maxLength: 64 })
        .filter((bytes) => bytes.length !== 32)
        .map((bytes) => ({ header: `sha-256=:${b64(bytes)}:`, status: 400 })),
      fc
        .constantFrom(`sha-256=${right}`, `sha-256=:${right}`, "sha-256", `sha-256=:${right.slice(1)}:`, "sha-256=::")
        .map((header) => ({ header, status: 400 })),
      fc
        .uint8Array({ minLength: 64, maxLength: 64 })
        .map((bytes) => ({ header: `sha-512=:${b64(bytes)}:`, status: 201 })),
      fc
        .constantFrom(`sha-512=:AAAA:, sha-256=:${right}:`, `md5=abc, sha-256=:${right}:`)
        .map((header) => ({ header, status: 201 })),
      fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((bytes) => ({ header: `sha-256=:${b64(bytes)}:, sha-256=:${right}:`, status: 422 })),
      headerText.filter((text) => !/sha-256/i.test(text)).map((header) => ({ header, status: 201 })),
    );
    await fc.assert(
      fc.asyncProperty(digest, async ({ header, status }) => {
        await judge(() => put(`/v1/artifacts/digest/${nextTask()}/log`, body, { "Content-Digest": header }), {
          valid: status === 201,
          allowed: [status],
          codes: ["E_INVALID_INPUT", "E_CHECKSUM_MISMATCH"],
        });
      }),
      options(),
    );
  });

  test("Content-Encoding: gzip (or x-gzip, any case) must be real gzip; identity or none stores as is; other codings are 400", async () => {
    const content = makeLog(200);
    const gzipped = gzipSync(new TextEncoder().encode(content));
    const encoding = fc.oneof(
      fc.constantFrom(
        "gzip",
        "GZIP",
        " x-gzip ",
        "identity",
        "Identity",
        "",
        "br",
        "deflate",
        "compress",
        "gzip, gzip",
        "*",
      ),
      fc.stringMatching(/^[a-z-]{1,12}$/),
    );
    await fc.assert(
      fc.asyncProperty(encoding, fc.boolean(), async (header, sendGzip) => {
        const name = header.trim().toLowerCase();
        const claimsGzip = name === "gzip" || name === "x-gzip";
        const valid = name === "identity" || name === "" || (claimsGzip && sendGzip);
        const response = await judge(
          () =>
            put(`/v1/artifacts/encoding/${nextTask()}/log`, sendGzip ? gzipped : content, {
              "Content-Encoding": header,
            }),
          { valid, codes: ["E_INVALID_INPUT"] },
        );
        if (valid) {
          const stored = await response.json();
          expect(stored.originalChecksum).toBe(
            await sha256Hex(sendGzip && claimsGzip ? content : sendGzip ? gzipped : content),
          );
        }
      }),
      options(),
    );
  });

  test("Range: every header gets the whole content (200), the exact slice (206) or 416 — never anything else", async () => {
    const content = makeLog(100);
    const size = new TextEncoder().encode(content).length;
    await put("/v1/artifacts/range/r/log", content);
    const position = fc.oneof(fc.integer({ min: 0, max: size + 10 }), fc.constant(Number.MAX_SAFE_INTEGER));
    const range = fc.oneof(
      fc.tuple(position, position).map(([first, last]) => `bytes=${first}-${last}`),
      position.map((first) => `bytes=${first}-`),
      position.map((last) => `bytes=-${last}`),
      fc.tuple(position, position).map(([first, last]) => `bytes=0-${first},${last}-`),
      fc.constantFrom(
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "items=0-1",
        "bytes=1-2-3",
        "bytes = 5 - 9",
        "bytes=99999999999999999999-",
      ),
      headerText,
    );
    await fc.assert(
      fc.asyncProperty(range, fc.boolean(), async (header, gzip) => {
        tally.tried++;
        const response = await app.request("/v1/artifacts/range/r/log", {
          headers: { Range: header, "Accept-Encoding": gzip ? "gzip" : "identity" },
        });
        expect([200, 206, 416]).toContain(response.status);
        if (response.status === 416) {
          tally.invalid++;
          expect(isErrorShape(await response.json())).toBe(true);
          return;
        }
        const bytes = new Uint8Array(await response.arrayBuffer());
        if (response.status === 206) {
          const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get("content-range") ?? "");
          expect(match).not.toBeNull();
          const [start, end, total] = (match as RegExpExecArray).slice(1).map(Number) as [number, number, number];
          expect(total).toBe(size);
          expect(start <= end && end < size).toBe(true);
          expect(new TextDecoder().decode(bytes)).toBe(content.slice(start, end + 1));
        } else if (response.headers.get("content-encoding") !== "gzip") {
          expect(new TextDecoder().decode(bytes)).toBe(content);
        }
      }),
      options(),
    );
  });

  test("search parameters: unknown names, bad limits, integrity values, names and tags are 400; the rest answers 200", async () => {
    const known = [
      "spec",
      "task",
      "type",
      "tag",
      "any_tag",
      "since",
      "until",
      "limit",
      "cursor",
      "latest",
      "pinned",
      "integrity",
    ];
    const parameter = fc.tuple(
      fc.oneof(fc.constantFrom(...known), fc.stringMatching(/^[a-z_]{1,10}$/)),
      fc.oneof(headerText, fc.integer().map(String), nameCandidate),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(parameter, { maxLength: 4 }), async (pairs) => {
        const query = new URLSearchParams(pairs);
        // What the documentation makes invalid, by parameter; since/until/cursor are checked for "no 5xx" only.
        // Single-valued parameters count once, as the first occurrence (tag and any_tag repeat).
        const counted = pairs.filter(
          ([name], index) =>
            name === "tag" || name === "any_tag" || pairs.findIndex(([other]) => other === name) === index,
        );
        const invalid = counted.some(([name, value]) => {
          if (!known.includes(name)) return true;
          if (name === "limit") return !/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > 1000;
          if (name === "integrity") return value !== "ok" && value !== "corrupt";
          if (name === "spec" || name === "task" || name === "type") return !isValidName(value);
          if (name === "tag" || name === "any_tag") return !TAG_RULE.test(value);
          return false;
        });
        const loose = counted.some(([name]) => ["since", "until", "cursor"].includes(name));
        tally.tried++;
        const response = await app.request(`/v1/artifacts?${query}`);
        if (response.status >= 500) tally.serverErrors++;
        if (invalid) {
          tally.invalid++;
          if (response.status < 400) tally.acceptedWrongly++;
          expect({ query: String(query), status: response.status }).toEqual({ query: String(query), status: 400 });
          expect(isErrorShape(await response.json())).toBe(true);
        } else if (loose) {
          expect([200, 400]).toContain(response.status);
        } else {
          expect({ query: String(query), status: response.status }).toEqual({ query: String(query), status: 200 });
        }
      }),
      options(),
    );
  });

  test("PATCH bodies: only {pinned: boolean, tags/addTags/removeTags: valid tags} change a version, and a refused change changes nothing", async () => {
    await put("/v1/artifacts/patch/p/log", "patch me\n", { "X-Artifact-Tags": "start" });
    const tagList = fc.array(fc.oneof(validTag, fc.constantFrom("bad tag", "", "x".repeat(129), "é")), {
      maxLength: 70,
    });
    const change = fc.oneof(
      fc.record(
        {
          pinned: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
          tags: tagList,
          addTags: tagList,
          removeTags: tagList,
          extra: fc.jsonValue({ maxDepth: 1 }),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
      // Valid lists whose union with the tags already there may pass the limit of 64.
      fc.record({ addTags: fc.uniqueArray(validTag, { minLength: 20, maxLength: 64 }) }),
    );
    const body = fc.oneof(
      change.map((value) => JSON.stringify(value) ?? "null"),
      headerText,
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const current = (await fixture.store.stat({ specName: "patch", taskId: "p", type: "log" })) as {
          tags: string[];
        };
        let parsed: Record<string, unknown> | undefined;
        try {
          const value = JSON.parse(text);
          if (typeof value === "object" && value !== null && !Array.isArray(value)) parsed = value;
        } catch {
          parsed = undefined;
        }
        const tagsOk = (value: unknown) =>
          value === undefined ||
          (Array.isArray(value) && value.every((tag) => typeof tag === "string" && TAG_RULE.test(tag)));
        let valid =
          parsed !== undefined &&
          Object.keys(parsed).every((key) => ["pinned", "tags", "addTags", "removeTags"].includes(key)) &&
          (parsed.pinned === undefined || typeof parsed.pinned === "boolean") &&
          tagsOk(parsed.tags) &&
          tagsOk(parsed.addTags) &&
          tagsOk(parsed.removeTags);
        if (valid && parsed) {
          const remove = (parsed.removeTags as string[] | undefined) ?? [];
          const base = parsed.tags ? [] : current.tags.filter((tag) => !remove.includes(tag));
          const result = new Set([
            ...base,
            ...((parsed.tags as string[]) ?? []),
            ...((parsed.addTags as string[]) ?? []),
          ]);
          const uniqueCounts = ["tags", "addTags", "removeTags"].every(
            (key) => new Set((parsed?.[key] as string[] | undefined) ?? []).size <= 64,
          );
          valid = result.size <= 64 && uniqueCounts;
        }
        await judge(() => app.request("/v1/artifacts/patch/p/log?version=1", { method: "PATCH", body: text }), {
          valid,
          okStatus: 200,
          codes: ["E_INVALID_INPUT"],
        });
      }),
      options(),
    );
  });

  test("?version= on reads and deletes: positive integers only; anything else is 400", async () => {
    await put("/v1/artifacts/versions/v/log", "v1\n");
    const version = fc.oneof(
      fc.integer({ min: 1, max: 5 }).map(String),
      fc.constantFrom("0", "-1", "1.0", "1e3", "", " 1", "01", "9".repeat(16), "NaN"),
      headerText,
    );
    await fc.assert(
      fc.asyncProperty(version, fc.constantFrom("GET", "HEAD"), async (value, method) => {
        const valid = /^\d{1,15}$/.test(value) && Number(value) >= 1;
        tally.tried++;
        const response = await app.request(`/v1/artifacts/versions/v/log?version=${encodeURIComponent(value)}`, {
          method,
        });
        if (response.status >= 500) tally.serverErrors++;
        // Only version 1 was stored ("01" names it too): it is found, any other valid number is not.
        if (valid) expect(response.status).toBe(Number(value) === 1 ? 200 : 404);
        else {
          tally.invalid++;
          if (response.status < 400) tally.acceptedWrongly++;
          expect(response.status).toBe(400);
        }
      }),
      options(),
    );
  });
});

describe("hostile clients against the real Bun server", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let basePath: string;
  let server: ServerProcess;
  const hostile = { tried: 0, published: 0, servedMeanwhile: 0 };

  beforeAll(async () => {
    dir = await makeTempDir("trust-bad-input");
    basePath = join(dir.path, "store");
    server = await startServerProcess({
      runtime: "bun",
      basePath,
      env: { HOME: dir.path, ARTIFACT_STORE_GZIP_MAX_RATIO: "100" },
    });
  });
  afterAll(async () => {
    figure(
      `bad input (real server): ${hostile.tried} hostile clients (truncated, fake gzip, gzip bomb, stalled, aborted, ` +
        `oversized headers), ${hostile.published} published anything; ${hostile.servedMeanwhile} other requests served meanwhile`,
    );
    await server?.stop();
    await dir?.cleanup();
  });

  /** Nothing stored for `task`, no staging file, no pending reservation, and the server still answers. */
  async function expectNothingPublished(task: string) {
    await waitFor(async () => (await listStagingFiles(basePath)).length === 0, "staging to empty");
    await waitFor(
      async () => (await (await fetch(`${server.url}/v1/stats`)).json()).pendingUploads === 0,
      "pending uploads to end",
    );
    const found = await searchAll(server.url, `task=${task}`);
    if (found.length > 0) hostile.published++;
    expect(found).toEqual([]);
    expect((await listStoredKeys(basePath)).filter((key) => key.includes(`/${task}/`))).toEqual([]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }

  /** A well-behaved client doing a round trip while a hostile one misbehaves. */
  async function wellBehavedRoundTrip(label: string) {
    const content = makeLog(500, label.length);
    const stored = await fetch(`${server.url}/v1/artifacts/good/${label}/log`, { method: "PUT", body: content });
    expect(stored.status).toBe(201);
    expect(await (await fetch(`${server.url}/v1/artifacts/good/${label}/log`)).text()).toBe(content);
    hostile.servedMeanwhile += 2;
  }

  const rawPut = (task: string, headers: string[], body: string) =>
    `PUT /v1/artifacts/hostile/${task}/log HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((header) => `${header}\r\n`).join("")}\r\n${body}`;

  test("a body shorter than its Content-Length, then a closed connection: nothing is published", async () => {
    hostile.tried++;
    const { hostname, port } = new URL(server.url);
    const socket = await import("node:net").then(({ connect }) => connect({ host: hostname, port: Number(port) }));
    socket.on("error", () => {});
    socket.write(rawPut("truncated", ["Content-Length: 100000"], "x".repeat(1000)));
    await sleep(100);
    socket.end();
    await expectNothingPublished("truncated");
  });

  test("a chunked body cut off mid-chunk: nothing is published", async () => {
    hostile.tried++;
    const { hostname, port } = new URL(server.url);
    const socket = await import("node:net").then(({ connect }) => connect({ host: hostname, port: Number(port) }));
    socket.on("error", () => {});
    socket.write(rawPut("chunked", ["Transfer-Encoding: chunked"], `2000\r\n${"y".repeat(500)}`));
    await sleep(100);
    socket.destroy();
    await expectNothingPublished("chunked");
  });

  test("a body that claims gzip but is not: 400, nothing published", async () => {
    hostile.tried++;
    const response = await fetch(`${server.url}/v1/artifacts/hostile/fake-gzip/log`, {
      method: "PUT",
      body: makeLog(100),
      headers: { "Content-Encoding": "gzip" },
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("E_INVALID_INPUT");
    await expectNothingPublished("fake-gzip");
  });

  test("a gzip bomb (64 MiB of zeros in ~64 KiB) is refused above gzip_max_ratio (100 here); honest gzip is stored", async () => {
    hostile.tried++;
    const bomb = gzipSync(new Uint8Array(64 << 20), { level: 9 });
    const response = await fetch(`${server.url}/v1/artifacts/hostile/bomb/log`, {
      method: "PUT",
      body: bomb,
      headers: { "Content-Encoding": "gzip" },
    });
    const body = await response.json();
    expect(response.status).toBe(400);
    expect(body.error.message).toContain("gzip bomb");
    await expectNothingPublished("bomb");
    const honest = gzipSync(new TextEncoder().encode(makeLog(20_000)));
    const stored = await fetch(`${server.url}/v1/artifacts/good/honest-gzip/log`, {
      method: "PUT",
      body: honest,
      headers: { "Content-Encoding": "gzip" },
    });
    expect(stored.status).toBe(201);
  });

  test("a client that stalls mid-body does not hold up others; when it goes away nothing is published", async () => {
    hostile.tried++;
    const { hostname, port } = new URL(server.url);
    const socket = await import("node:net").then(({ connect }) => connect({ host: hostname, port: Number(port) }));
    socket.on("error", () => {});
    socket.write(rawPut("stalled", [`Content-Length: ${1 << 20}`], "z".repeat(100_000)));
    for (const label of ["while-stalled-1", "while-stalled-2", "while-stalled-3"]) await wellBehavedRoundTrip(label);
    expect((await searchAll(server.url, "task=stalled")).length).toBe(0);
    socket.destroy();
    await expectNothingPublished("stalled");
    await wellBehavedRoundTrip("after-stall");
  });

  test("a client that aborts mid-body: nothing is published, the server serves the next request", async () => {
    hostile.tried++;
    const controller = new AbortController();
    const body = pacedBody(new Uint8Array(4 << 20), 64 * 1024, 5);
    const upload = fetch(`${server.url}/v1/artifacts/hostile/aborted/log`, {
      method: "PUT",
      body: body.stream,
      signal: controller.signal,
      duplex: "half",
    } as RequestInit).catch((error: Error) => error);
    await waitFor(() => body.progress.sent > 256 * 1024, "part of the body to be sent");
    controller.abort();
    expect(await upload).not.toBeInstanceOf(Response);
    await expectNothingPublished("aborted");
    await wellBehavedRoundTrip("after-abort");
  });

  test("absurd headers (a 1 MiB tag header, 5000 headers, a 1 MiB path) are refused or cut off; the server stays up", async () => {
    const cases = [
      rawPut(
        "huge-header",
        ["Connection: close", `X-Artifact-Tags: ${"a".repeat(1 << 20)}`, "Content-Length: 2"],
        "ok",
      ),
      rawPut(
        "many-headers",
        [
          "Connection: close",
          ...Array.from({ length: 5000 }, (_, index) => `X-Filler-${index}: ${index}`),
          "Content-Length: 2",
        ],
        "ok",
      ),
      `GET /v1/artifacts/${"p".repeat(1 << 20)}/t/log HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    ];
    for (const request of cases) {
      hostile.tried++;
      const answer = await rawHttp(server.url, request);
      // Refused with a 4xx, or the connection closed without an answer; never a success or a 5xx.
      expect(answer.status === 0 || (answer.status >= 400 && answer.status < 500)).toBe(true);
      await wellBehavedRoundTrip(`after-header-${hostile.tried}`);
    }
    await expectNothingPublished("huge-header");
    await expectNothingPublished("many-headers");
  });
});

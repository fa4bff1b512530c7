/**
 * Security, against the real Bun server:
 * - path traversal in every name-bearing input (path segments, search parameters, the CLI's
 *   URI form), raw, percent-encoded, double-encoded, with backslashes and Unicode look-alikes,
 *   sent over raw sockets so no client normalizes them: nothing outside base_path is written
 *   or read;
 * - token scopes: read tokens cannot write, spec-limited tokens cannot reach other specs by
 *   any route, and forbidden requests change nothing;
 * - the token comparison hashes first and compares fixed-length digests without early exit;
 * - no token (nor a token's hash, nor the S3 secret key) appears in logs or error bodies;
 * - CORS headers only when `server.cors_origins` lists the origin.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createAuthenticator } from "../../src/http/auth.ts";
import { repoRoot, type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeTempDir, sha256Hex } from "../helpers/store.ts";
import { figure, isErrorShape, listStoredKeys, rawHttp, runCli, searchAll } from "./support.ts";

/** Traversal payloads, written as they go on the wire (request targets are ASCII; UTF-8 is percent-encoded). */
const TRAVERSALS = [
  { label: "raw ..", wire: ".." },
  { label: "raw ../..", wire: "../.." },
  { label: "raw ../../../etc", wire: "../../../etc" },
  { label: "encoded slash", wire: "..%2f..%2fsecret.txt" },
  { label: "encoded dots", wire: "%2e%2e" },
  { label: "encoded dots and slash", wire: "%2e%2e%2f%2e%2e%2fsecret.txt" },
  { label: "mixed .%2e", wire: ".%2e" },
  { label: "double-encoded dots", wire: "%252e%252e" },
  { label: "double-encoded slash", wire: "..%252f..%252fsecret.txt" },
  { label: "backslashes", wire: "..\\..\\secret.txt" },
  { label: "encoded backslashes", wire: "..%5c..%5csecret.txt" },
  { label: "overlong UTF-8 dots", wire: "%c0%ae%c0%ae%c0%afsecret.txt" },
  { label: "U+2024 one dot leader", wire: "%e2%80%a4%e2%80%a4" },
  { label: "U+FF0E fullwidth full stop", wire: "%ef%bc%8e%ef%bc%8e" },
  { label: "U+FF0F fullwidth slash", wire: "..%ef%bc%8f..%ef%bc%8fsecret.txt" },
  { label: "U+2215 division slash", wire: "..%e2%88%95secret.txt" },
  { label: "NUL byte", wire: "log%00.txt" },
  { label: "absolute path", wire: "%2fetc%2fpasswd" },
  { label: "leading dot", wire: ".store" },
  { label: "store directory", wire: ".store%2fmetadata.db" },
  { label: "semicolon trick", wire: "..;" },
  { label: "dot-dot-slash-slash", wire: "....%2f%2f" },
] as const;

/** Marks the names around each payload, so anything a traversal created is found by name. */
const MARK = crypto.randomUUID().slice(0, 8);
const SPEC = `spec-${MARK}`;
const TASK = `task-${MARK}`;

/** Where a name sits in the request. */
const POSITIONS = [
  { label: "spec", path: (name: string) => `/v1/artifacts/${name}/${TASK}/log` },
  { label: "task", path: (name: string) => `/v1/artifacts/${SPEC}/${name}/log` },
  { label: "type", path: (name: string) => `/v1/artifacts/${SPEC}/${TASK}/${name}` },
  { label: "search spec=", path: (name: string) => `/v1/artifacts?spec=${name}` },
  { label: "search task=", path: (name: string) => `/v1/artifacts?task=${name}` },
  { label: "search type=", path: (name: string) => `/v1/artifacts?type=${name}` },
] as const;

const SECRET = `TOP-SECRET-${crypto.randomUUID()}`;

/** Entries named with this run's mark in the directories a traversal from base_path could reach. */
async function markedEntriesAbove(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const directory of [join(dir, ".."), join(dir, "..", ".."), "/", "/etc"]) {
    for (const entry of await readdir(directory).catch(() => [] as string[])) {
      if (entry.includes(MARK)) found.push(join(directory, entry));
    }
  }
  return found;
}

/** Every file under `directory`, as paths relative to it. */
async function listFiles(directory: string, skip: string): Promise<string[]> {
  const entries = (await readdir(directory, { recursive: true, withFileTypes: true })) as {
    name: string;
    parentPath: string;
    isFile(): boolean;
  }[];
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(directory.length + 1))
    .filter((path) => !path.startsWith(skip))
    .sort();
}

describe("path traversal over raw HTTP", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let basePath: string;
  let server: ServerProcess;
  let outsideBefore: string[];

  beforeAll(async () => {
    dir = await makeTempDir("trust-traversal");
    basePath = join(dir.path, "store");
    await writeFile(join(dir.path, "secret.txt"), SECRET);
    // A file shaped like a stored artifact, next to the store: a traversal that reached it would serve it.
    await mkdir(join(dir.path, "outside", TASK, "v1"), { recursive: true });
    await writeFile(join(dir.path, "outside", TASK, "v1", "log.txt"), SECRET);
    server = await startServerProcess({ runtime: "bun", basePath, env: { HOME: join(dir.path, "home") } });
    await fetch(`${server.url}/v1/artifacts/${SPEC}/${TASK}/log`, { method: "PUT", body: "the one real artifact\n" });
    outsideBefore = await listFiles(dir.path, "store");
  });
  afterAll(async () => {
    await server?.stop();
    await dir?.cleanup();
  });

  test("every payload in every name position and method is refused with a 4xx; nothing is written outside base_path or served from it", async () => {
    let sent = 0;
    for (const { label, wire } of TRAVERSALS) {
      for (const position of POSITIONS) {
        const target = position.path(wire);
        const methods = position.label.startsWith("search") ? ["GET"] : ["PUT", "GET", "HEAD", "PATCH", "DELETE"];
        for (const method of methods) {
          const body = method === "PUT" ? SECRET : method === "PATCH" ? '{"pinned":true}' : "";
          const answer = await rawHttp(
            server.url,
            `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          );
          sent++;
          const outcome = { payload: label, position: position.label, method, status: answer.status };
          // Search answers 400 for a bad name; an unmatched route is 404; nothing is a success or a 5xx.
          expect({ ...outcome, refused: answer.status >= 400 && answer.status < 500 }).toEqual({
            ...outcome,
            refused: true,
          });
          expect(answer.body.includes(SECRET)).toBe(false);
          if (method !== "HEAD" && answer.body) expect(isErrorShape(JSON.parse(answer.body.trim() || "{}"))).toBe(true);
        }
      }
    }
    expect(await listFiles(dir.path, "store")).toEqual(outsideBefore);
    expect(await markedEntriesAbove(dir.path)).toEqual([]);
    // Inside base_path: only the one real artifact and the store's own files.
    expect((await listStoredKeys(basePath)).filter((key) => key !== "metadata-index.json")).toEqual([
      `${SPEC}/${TASK}/log.txt.gz`,
      `${SPEC}/${TASK}/metadata.json`,
    ]);
    const items = await searchAll(server.url);
    expect(items.map((item) => `${item.specName}/${item.taskId}/${item.type}`)).toEqual([`${SPEC}/${TASK}/log`]);
    figure(
      `security (traversal): ${sent} requests (${TRAVERSALS.length} payloads × ${POSITIONS.length} positions × methods): ` +
        "all refused with a 4xx, 0 files written outside base_path, 0 responses carrying outside content",
    );
  });

  test("the same payloads sent as raw UTF-8 bytes (not percent-encoded) are refused too", async () => {
    const lookAlikes = ["\u2024\u2024", "\uff0e\uff0e", "..\uff0fsecret.txt", "\u2025", "..\u2215secret.txt"];
    for (const name of lookAlikes) {
      const request = Buffer.concat([
        Buffer.from(`PUT /v1/artifacts/`),
        Buffer.from(name, "utf8"),
        Buffer.from(`/${TASK}/log HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 6\r\n\r\nsecret`),
      ]);
      const answer = await rawHttp(server.url, request);
      expect({ name, refused: answer.status === 0 || (answer.status >= 400 && answer.status < 500) }).toEqual({
        name,
        refused: true,
      });
    }
    expect(await listFiles(dir.path, "store")).toEqual(outsideBefore);
    expect(await markedEntriesAbove(dir.path)).toEqual([]);
  });

  test("the CLI's download by URI reads only what the metadata knows: a file:// URI outside the store is not found", async () => {
    for (const uri of [
      `file://${dir.path}/secret.txt`,
      `file://${basePath}/../secret.txt`,
      `file://${basePath}/../outside/${TASK}/log.txt`,
      "file:///etc/passwd",
    ]) {
      const run = await runCli(["download", uri], { HOME: join(dir.path, "home"), ARTIFACT_STORE_BASE_PATH: basePath });
      expect({ uri, status: run.status }).toEqual({ uri, status: 3 });
      expect(run.stdout.includes(SECRET) || run.stderr.includes(SECRET)).toBe(false);
    }
  });
});

const TOKENS = {
  admin: `tok-admin-${crypto.randomUUID()}`,
  reader: `tok-reader-${crypto.randomUUID()}`,
  writer: `tok-writer-${crypto.randomUUID()}`,
  alphaWriter: `tok-alpha-writer-${crypto.randomUUID()}`,
  alphaAdmin: `tok-alpha-admin-${crypto.randomUUID()}`,
} as const;
const WRONG_TOKEN = `tok-wrong-${crypto.randomUUID()}`;

/** Who calls: the token sent, and what the configuration grants it. */
const CALLERS = [
  { label: "admin", token: TOKENS.admin, scopes: ["admin"], specs: null },
  { label: "reader", token: TOKENS.reader, scopes: ["read"], specs: null },
  { label: "writer", token: TOKENS.writer, scopes: ["read", "write"], specs: null },
  { label: "alpha writer", token: TOKENS.alphaWriter, scopes: ["read", "write"], specs: ["alpha"] },
  { label: "alpha admin", token: TOKENS.alphaAdmin, scopes: ["admin"], specs: ["alpha"] },
  { label: "unknown token", token: WRONG_TOKEN, scopes: [], specs: null },
  { label: "no token", token: null, scopes: [], specs: null },
] as const;

/**
 * Every route, the scope it needs, whether it spans every spec (refused to spec-limited
 * tokens), and what an allowed caller gets. `spec` is the spec the request touches.
 */
const ROUTES = [
  {
    label: "upload",
    method: "PUT",
    path: (spec: string) => `/v1/artifacts/${spec}/t/log`,
    body: "new\n",
    scope: "write",
    ok: 201,
  },
  { label: "download", method: "GET", path: (spec: string) => `/v1/artifacts/${spec}/t/log`, scope: "read", ok: 200 },
  { label: "head", method: "HEAD", path: (spec: string) => `/v1/artifacts/${spec}/t/log`, scope: "read", ok: 200 },
  {
    label: "pin",
    method: "PATCH",
    path: (spec: string) => `/v1/artifacts/${spec}/t/log?version=1`,
    body: '{"pinned":true,"addTags":["touched"]}',
    scope: "write",
    ok: 200,
  },
  {
    label: "delete",
    method: "DELETE",
    path: (spec: string) => `/v1/artifacts/${spec}/t/log?version=999`,
    scope: "write",
    ok: 404,
  },
  {
    label: "search one spec",
    method: "GET",
    path: (spec: string) => `/v1/artifacts?spec=${spec}`,
    scope: "read",
    ok: 200,
  },
  { label: "stats", method: "GET", path: () => "/v1/stats", scope: "read", spansSpecs: true, ok: 200 },
  {
    label: "cleanup",
    method: "POST",
    path: () => "/v1/maintenance/cleanup?dry_run=1",
    scope: "admin",
    spansSpecs: true,
    ok: 200,
  },
  {
    label: "gc",
    method: "POST",
    path: () => "/v1/maintenance/gc?dry_run=1",
    scope: "admin",
    spansSpecs: true,
    ok: 200,
  },
  { label: "verify", method: "POST", path: () => "/v1/maintenance/verify", scope: "admin", spansSpecs: true, ok: 200 },
  {
    label: "reindex",
    method: "POST",
    path: () => "/v1/maintenance/reindex?dry_run=1",
    scope: "admin",
    spansSpecs: true,
    ok: 200,
  },
] as const;

function expectedStatus(caller: (typeof CALLERS)[number], route: (typeof ROUTES)[number], spec: string): number {
  if (caller.token !== WRONG_TOKEN && caller.token !== null) {
    const scopes: readonly string[] = caller.scopes;
    if (!scopes.includes(route.scope) && !scopes.includes("admin")) return 403;
    if (caller.specs && ("spansSpecs" in route || !(caller.specs as readonly string[]).includes(spec))) return 403;
    return route.ok;
  }
  return 401;
}

describe("tokens and scopes", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let server: ServerProcess;
  const bodies: string[] = [];
  const auth = (token: string | null): Record<string, string> => (token ? { Authorization: `Bearer ${token}` } : {});

  beforeAll(async () => {
    dir = await makeTempDir("trust-tokens");
    const tokens = [];
    for (const caller of CALLERS.filter((candidate) => candidate.scopes.length > 0)) {
      tokens.push({
        name: caller.label.replace(" ", "-"),
        sha256: await sha256Hex(caller.token as string),
        scopes: caller.scopes,
        ...(caller.specs ? { specs: caller.specs } : {}),
      });
    }
    server = await startServerProcess({
      runtime: "bun",
      basePath: join(dir.path, "store"),
      env: {
        HOME: dir.path,
        ARTIFACT_STORE_VERSIONING_ENABLED: "true",
        ARTIFACT_STORE_SERVER__TOKENS: JSON.stringify(tokens),
      },
    });
    for (const spec of ["alpha", "beta"]) {
      const response = await fetch(`${server.url}/v1/artifacts/${spec}/t/log`, {
        method: "PUT",
        body: `${spec} original\n`,
        headers: auth(TOKENS.admin),
      });
      expect(response.status).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
    await dir?.cleanup();
  });

  test("every caller on every route and spec gets exactly what its scopes and specs allow", async () => {
    let checked = 0;
    let escalations = 0;
    for (const caller of CALLERS) {
      for (const route of ROUTES) {
        for (const spec of ["alpha", "beta"]) {
          const response = await fetch(`${server.url}${route.path(spec)}`, {
            method: route.method,
            headers: auth(caller.token),
            ...("body" in route ? { body: route.body } : {}),
          });
          const text = await response.text();
          bodies.push(text);
          const expected = expectedStatus(caller, route, spec);
          if (expected >= 400 && expected !== 404 && response.status < 400) escalations++;
          expect({ caller: caller.label, route: route.label, spec, status: response.status }).toEqual({
            caller: caller.label,
            route: route.label,
            spec,
            status: expected,
          });
          if (response.status >= 400 && route.method !== "HEAD") expect(isErrorShape(JSON.parse(text))).toBe(true);
          checked++;
        }
      }
    }
    figure(`security (scopes): ${checked} caller × route × spec requests, ${escalations} escalations`);
  });

  test("refused requests changed nothing: beta's only writes came from callers allowed to write to it", async () => {
    const beta = await searchAll(server.url, "spec=beta", TOKENS.admin);
    // The original plus one upload each from the two unlimited writers (admin, writer).
    expect(beta.length).toBe(3);
    const original = beta.find((item) => item.version === 1);
    expect(original?.originalChecksum).toBe(await sha256Hex("beta original\n"));
    const downloaded = await fetch(`${server.url}/v1/artifacts/beta/t/log?version=1`, { headers: auth(TOKENS.reader) });
    expect(await downloaded.text()).toBe("beta original\n");
  });

  test("a spec-limited token's search without spec= sees only its spec, and spec=other is refused", async () => {
    const own = await searchAll(server.url, "", TOKENS.alphaWriter);
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((item) => item.specName === "alpha")).toBe(true);
    for (const query of ["task=t", "type=log", "latest=1", "spec=alpha&spec=beta"]) {
      const items = await searchAll(server.url, query, TOKENS.alphaWriter);
      expect({ query, specs: [...new Set(items.map((item) => item.specName))] }).toEqual({ query, specs: ["alpha"] });
    }
    const other = await fetch(`${server.url}/v1/artifacts?spec=beta`, { headers: auth(TOKENS.alphaWriter) });
    expect(other.status).toBe(403);
  });

  test("malformed Authorization headers are 401, never a fallback to another identity", async () => {
    const headers = [
      `Basic ${btoa(`admin:${TOKENS.admin}`)}`,
      `Bearer ${TOKENS.alphaWriter} Bearer ${TOKENS.admin}`,
      `Bearer ${TOKENS.reader}, Bearer ${TOKENS.admin}`,
      `Bearer ${TOKENS.admin.toUpperCase()}`,
      `Bearer ${TOKENS.admin.slice(0, -1)}`,
      `Bearer ${TOKENS.admin}x`,
      "Bearer ",
      "Bearer",
      TOKENS.admin,
      `Token ${TOKENS.admin}`,
      `Bearer ${"a".repeat(5000)}`,
    ];
    for (const header of headers) {
      const response = await fetch(`${server.url}/v1/maintenance/gc?dry_run=1`, {
        method: "POST",
        headers: { Authorization: header },
      });
      const text = await response.text();
      bodies.push(text);
      expect({ header: header.slice(0, 40), status: response.status }).toEqual({
        header: header.slice(0, 40),
        status: 401,
      });
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="artifact-store"');
    }
  });

  test("no token, token hash or presented credential appears in any error body or in the server's log", async () => {
    const secrets = [...Object.values(TOKENS), WRONG_TOKEN];
    const hashes = await Promise.all(secrets.map((token) => sha256Hex(token)));
    const output = server.output();
    expect(output.length).toBeGreaterThan(0);
    let leaks = 0;
    for (const secret of [...secrets, ...hashes, btoa(`admin:${TOKENS.admin}`)]) {
      const inLog = output.includes(secret);
      const inBody = bodies.some((body) => body.includes(secret));
      if (inLog || inBody) leaks++;
      expect({ secret: secret.slice(0, 12), inLog, inBody }).toEqual({
        secret: secret.slice(0, 12),
        inLog: false,
        inBody: false,
      });
    }
    figure(
      `security (secrets): ${secrets.length} tokens and their hashes checked against ${bodies.length} response bodies and ${output.split("\n").length} log lines: ${leaks} leaks`,
    );
  });
});

describe("token comparison", () => {
  test("the presented token is hashed first, so what is compared is 32 bytes whatever its length", async () => {
    const configured = await Promise.all(
      ["first-token", "second-token", "third-token"].map((token) => sha256Hex(token)),
    );
    const authenticator = createAuthenticator(
      configured.map((sha256, index) => ({ name: `t${index}`, sha256, scopes: ["read"] })),
      false,
    );
    const subtle = crypto.subtle;
    const original = subtle.digest.bind(subtle);
    const digested: number[] = [];
    subtle.digest = (async (algorithm: AlgorithmIdentifier, data: BufferSource) => {
      digested.push((data as ArrayBufferView).byteLength);
      return original(algorithm, data);
    }) as typeof subtle.digest;
    try {
      for (const presented of ["x", "first-token", "third-token", "y".repeat(4096)]) {
        digested.length = 0;
        await authenticator.authenticate(`Bearer ${presented}`).catch(() => null);
        // One digest of exactly the presented bytes: the comparison itself only ever sees digests.
        expect({ presented: presented.slice(0, 12), digested }).toEqual({
          presented: presented.slice(0, 12),
          digested: [presented.length],
        });
      }
    } finally {
      subtle.digest = original;
    }
    expect((await authenticator.authenticate("Bearer third-token")).name).toBe("t2");
  });

  test("the comparison loop visits every configured hash and every byte: no return or break inside it", async () => {
    const source = await readFile(join(repoRoot, "src/http/auth.ts"), "utf8");
    const loop = /for \(const candidate of known\) \{([\s\S]*?)\n {6}\}/.exec(source)?.[1];
    expect(loop).toBeDefined();
    expect(loop).toContain("index < 32");
    // Bytes are folded into one difference with | and ^; no per-byte comparison, no short-circuit.
    expect(loop).toContain("difference |=");
    expect(loop).not.toMatch(/\breturn\b|\bbreak\b|\bcontinue\b|\]\s*[!=]==|&&|\|\|/);
  });
});

describe("secrets of the storage backend", () => {
  test("an S3 secret key never shows in error bodies or the log, even when S3 is unreachable", async () => {
    const dir = await makeTempDir("trust-s3-secret");
    const secretKey = `S3SECRET${crypto.randomUUID().replaceAll("-", "")}`;
    const server = await startServerProcess({
      runtime: "bun",
      basePath: join(dir.path, "store"),
      env: {
        HOME: dir.path,
        ARTIFACT_STORE_BACKEND_TYPE: "s3",
        ARTIFACT_STORE_S3__BUCKET: "nowhere",
        ARTIFACT_STORE_S3__ENDPOINT: "http://127.0.0.1:9",
        ARTIFACT_STORE_S3__FORCE_PATH_STYLE: "true",
        ARTIFACT_STORE_S3__ACCESS_KEY_ID: "AKIDTEST",
        ARTIFACT_STORE_S3__SECRET_ACCESS_KEY: secretKey,
      },
    });
    try {
      const bodies: string[] = [];
      for (const [method, path] of [
        ["PUT", "/v1/artifacts/s/t/log"],
        ["POST", "/v1/maintenance/gc?dry_run=1"],
        ["POST", "/v1/maintenance/reindex?dry_run=1"],
      ] as const) {
        const response = await fetch(`${server.url}${path}`, { method, ...(method === "PUT" ? { body: "x" } : {}) });
        expect(response.status).toBeGreaterThanOrEqual(500);
        bodies.push(await response.text());
      }
      expect(bodies.some((body) => body.includes(secretKey))).toBe(false);
      expect(server.output().includes(secretKey)).toBe(false);
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  });
});

describe("CORS", () => {
  const allowed = "https://review.example.com";
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/v1/artifacts/s/t/log`, {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, x-artifact-tags",
      },
    });

  test("without server.cors_origins no response carries CORS headers", async () => {
    const dir = await makeTempDir("trust-cors-off");
    const server = await startServerProcess({
      runtime: "bun",
      basePath: join(dir.path, "store"),
      env: { HOME: dir.path },
    });
    try {
      await fetch(`${server.url}/v1/artifacts/s/t/log`, { method: "PUT", body: "x" });
      const responses = [
        await preflight(server.url, allowed),
        await fetch(`${server.url}/v1/artifacts/s/t/log`, { headers: { Origin: allowed } }),
        await fetch(`${server.url}/v1/artifacts`, { headers: { Origin: "https://evil.example" } }),
      ];
      for (const response of responses) {
        const cors = [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));
        expect(cors).toEqual([]);
      }
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  });

  test("with server.cors_origins the listed origin gets exact CORS headers, any other origin none", async () => {
    const dir = await makeTempDir("trust-cors-on");
    const server = await startServerProcess({
      runtime: "bun",
      basePath: join(dir.path, "store"),
      env: { HOME: dir.path, ARTIFACT_STORE_SERVER__CORS_ORIGINS: JSON.stringify([allowed]) },
    });
    try {
      await fetch(`${server.url}/v1/artifacts/s/t/log`, { method: "PUT", body: "x" });
      const ok = await preflight(server.url, allowed);
      expect(ok.status).toBe(204);
      expect(ok.headers.get("access-control-allow-origin")).toBe(allowed);
      expect(ok.headers.get("access-control-allow-methods")).toContain("PUT");
      expect(ok.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
      expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
      const get = await fetch(`${server.url}/v1/artifacts/s/t/log`, { headers: { Origin: allowed } });
      expect(get.headers.get("access-control-allow-origin")).toBe(allowed);
      expect(get.headers.get("access-control-expose-headers")).toContain("ETag");
      expect(get.headers.get("vary")?.toLowerCase()).toContain("origin");

      const foreignPreflight = await preflight(server.url, "https://evil.example");
      expect(foreignPreflight.headers.get("access-control-allow-origin")).toBeNull();
      const foreign = await fetch(`${server.url}/v1/artifacts/s/t/log`, {
        headers: { Origin: "https://evil.example" },
      });
      expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  });
});

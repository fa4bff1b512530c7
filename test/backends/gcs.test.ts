/**
 * The GCS backend against Google's Cloud Storage emulator (firebase-tools), plus what the
 * emulator cannot show, checked on the exact requests sent to a stubbed `fetch`.
 *
 * The emulator takes a resumable upload only as ONE PUT (it ignores Content-Range and finishes
 * the session on the first one) and does not enforce `ifGenerationMatch`. The emulator runs use
 * the backend as the server configures it (8 MiB chunks): for the emulator it sends a session
 * as one streamed PUT, and a backend not told it talks to an emulator finds out on the first
 * chunk, removes the truncated object and does the same. Multi-chunk sessions, resumption,
 * cancellation, preconditions, retries and tokens are tested on the fake Cloud Storage in
 * test/helpers/gcs-emulator.ts, behind a stubbed `fetch`.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createClient } from "@libsql/client";
import { createGcsBackend, type FetchLike, type GcsBackendOptions } from "../../src/backends/gcs.ts";
import { signServiceAccountJwt } from "../../src/backends/gcs-auth.ts";
import { streamFromBytes } from "../../src/codec/streams.ts";
import { parseConfig } from "../../src/config/schema.ts";
import { ArtifactStoreError } from "../../src/contracts/errors.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { createConfiguredBackend } from "../../src/runtime/local.ts";
import { describeStoreSuite } from "../core/store-suite.ts";
import {
  fakeSessions,
  type GcsEmulator,
  objectJson,
  observedSource,
  type SentRequest,
  startGcsEmulator,
  stubFetch,
} from "../helpers/gcs-emulator.ts";
import { failingStream, randomBytes } from "../helpers/store.ts";
import { describeBackendContract } from "./contract.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

let emulatorStarting: Promise<GcsEmulator> | undefined;
const emulator = () => {
  emulatorStarting ??= startGcsEmulator();
  return emulatorStarting;
};
afterAll(async () => {
  const running = await emulatorStarting?.catch(() => undefined);
  await running?.stop();
});

let buckets = 0;
async function emulatorBackend(extra: Partial<GcsBackendOptions> = {}) {
  const running = await emulator();
  const bucket = `artifacts-${++buckets}`;
  await running.ensureBucket(bucket);
  return createGcsBackend({
    bucket,
    prefix: "ci/",
    emulatorHost: running.host,
    ...extra,
  });
}

describeBackendContract("gcs (emulator)", async () => {
  // The emulator accepts ifGenerationMatch=0 without enforcing it: the suite checks that it is sent.
  const createOnly: string[] = [];
  const backend = await emulatorBackend({
    fetch: (input, init) => {
      const url = new URL(input);
      const name = url.searchParams.get("name");
      if (url.searchParams.get("ifGenerationMatch") === "0" && name) createOnly.push(name);
      return globalThis.fetch(input, init);
    },
  });
  return { backend, cleanup: async () => {}, createOnlyRequests: () => [...createOnly] };
});

describeStoreSuite(
  "gcs emulator + libSQL in memory",
  async (config) => {
    const backend = await emulatorBackend();
    const clock = { now: Date.now() };
    const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
    const store = createArtifactStore({ backend, metadata, config, now: () => clock.now });
    return { store, backend, clock, cleanup: () => store.close() };
  },
  { largeBytes: 64 * MiB },
);

describe("gcs backend on the emulator", () => {
  test("objects live under the prefix in the bucket; listed keys come back without it", async () => {
    const backend = await emulatorBackend();
    await backend.put("spec/task/v1/log.txt", streamFromBytes(new TextEncoder().encode("hello")));
    expect(backend.uriFor("spec/task/v1/log.txt")).toBe(`gs://${backend.bucket}/ci/spec/task/v1/log.txt`);
    const raw = await fetch(
      `${(await emulator()).url}/storage/v1/b/${backend.bucket}/o/${encodeURIComponent("ci/spec/task/v1/log.txt")}?alt=media`,
      { headers: { authorization: "Bearer owner" } },
    );
    expect(await raw.text()).toBe("hello");
    expect((await backend.list()).objects.map((object) => object.key)).toEqual(["spec/task/v1/log.txt"]);
  });

  test("small bodies go in one multipart request, larger ones through a resumable session", async () => {
    const urls: string[] = [];
    const recording: FetchLike = (input, init) => {
      urls.push(`${init?.method} ${new URL(input).searchParams.get("uploadType") ?? ""}`);
      return fetch(input, init);
    };
    const backend = await emulatorBackend({ fetch: recording, singleRequestMaxBytes: 1 * MiB });
    await backend.put("small", streamFromBytes(randomBytes(10 * KiB)));
    await backend.put("large", streamFromBytes(randomBytes(3 * MiB), 256 * KiB));
    expect(urls).toEqual(["POST multipart", "POST resumable", "PUT resumable"]);
    expect((await backend.head("large"))?.size).toBe(3 * MiB);
  });

  test("head reports the generation, quoted, as the etag", async () => {
    const backend = await emulatorBackend();
    const put = await backend.put("tagged", streamFromBytes(new Uint8Array([1, 2, 3])));
    const head = await backend.head("tagged");
    expect(head?.generation).toMatch(/^\d+$/);
    expect(head?.etag).toBe(`"${head?.generation}"`);
    expect(put.etag).toBe(head?.etag as string);
  });
});

const stubbed = (fetchStub: FetchLike, extra: Partial<GcsBackendOptions> = {}) =>
  createGcsBackend({
    bucket: "bkt",
    prefix: "ci/",
    accessToken: "static-token",
    fetch: fetchStub,
    chunkSize: 256 * KiB,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    ...extra,
  });

describe("gcs uploads (stubbed transport)", () => {
  test("a long stream goes up in 256 KiB-multiple chunks; only the last, sent after close, carries the total", async () => {
    const events: string[] = [];
    const sessions = fakeSessions();
    const { fetch, sent } = stubFetch(sessions.handler, events);
    const bytes = randomBytes(700 * KiB);
    const info = await stubbed(fetch).put("spec/t/v1/log.txt.gz", observedSource(bytes, events), {
      contentType: "application/gzip",
    });
    expect(info.size).toBe(bytes.length);
    expect(events).toEqual([
      "POST resumable",
      "PUT bytes 0-262143/*",
      "PUT bytes 262144-524287/*",
      "source closed",
      "PUT bytes 524288-716799/716800",
    ]);
    const start = sent[0] as SentRequest;
    expect(start.url.pathname).toBe("/upload/storage/v1/b/bkt/o");
    expect(start.url.searchParams.get("name")).toBe("ci/spec/t/v1/log.txt.gz");
    expect(start.headers.get("x-upload-content-type")).toBe("application/gzip");
    expect(sent.slice(1, 3).every((request) => request.body.length % (256 * KiB) === 0)).toBe(true);
    expect(await sessions.stored()).toEqual(bytes);
  });

  test("a full chunk is held back until more bytes come, so a body of exact chunks still ends with the total", async () => {
    const events: string[] = [];
    const sessions = fakeSessions();
    const { fetch } = stubFetch(sessions.handler, events);
    await stubbed(fetch).put("k", observedSource(randomBytes(512 * KiB), events, 256 * KiB));
    expect(events).toEqual([
      "POST resumable",
      "PUT bytes 0-262143/*",
      "source closed",
      "PUT bytes 262144-524287/524288",
    ]);
  });

  test("a body that fits in one chunk is one multipart request, sent after the stream closed", async () => {
    const events: string[] = [];
    const { fetch, sent } = stubFetch((request) => objectJson("ci/k", request.body.length), events);
    await stubbed(fetch).put("k", observedSource(new TextEncoder().encode("tiny body"), events), {
      contentType: "text/plain",
    });
    expect(events).toEqual(["source closed", "POST multipart"]);
    const request = sent[0] as SentRequest;
    const boundary = /boundary=(\S+)/.exec(request.headers.get("content-type") ?? "")?.[1];
    const text = new TextDecoder().decode(request.body);
    expect(text).toContain(`--${boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n`);
    expect(text).toContain(JSON.stringify({ name: "ci/k", contentType: "text/plain" }));
    expect(text).toContain("content-type: text/plain\r\n\r\ntiny body\r\n");
    expect(text.endsWith(`--${boundary}--\r\n`)).toBe(true);
  });

  test("after a failed chunk the session is asked for its offset and the upload resumes from there", async () => {
    let failed = false;
    const sessions = fakeSessions((request, persist) => {
      // The second 512 KiB chunk: the service keeps its first 256 KiB, then the reply is a 503.
      if (!failed && request.headers.get("content-range") === "bytes 524288-1048575/*") {
        failed = true;
        persist(request.body.subarray(0, 256 * KiB));
        return new Response("backend error", { status: 503 });
      }
      return undefined;
    });
    const events: string[] = [];
    const { fetch } = stubFetch(sessions.handler, events);
    const bytes = randomBytes(1200 * KiB);
    await stubbed(fetch, { chunkSize: 512 * KiB }).put("k", streamFromBytes(bytes, 64 * KiB));
    expect(events).toEqual([
      "POST resumable",
      "PUT bytes 0-524287/*",
      "PUT bytes 524288-1048575/*",
      "PUT bytes */*",
      "PUT bytes 786432-1048575/*",
      "PUT bytes 1048576-1228799/1228800",
    ]);
    expect(await sessions.stored()).toEqual(bytes);
  });

  test("when the final chunk's reply is lost, the offset query finds the object and nothing is sent twice", async () => {
    let lost = false;
    const sessions = fakeSessions();
    const { fetch, sent } = stubFetch(async (request) => {
      const response = await sessions.handler(request);
      if (!lost && /\/\d+$/.test(request.headers.get("content-range") ?? "")) {
        lost = true;
        throw new TypeError("fetch failed: connection reset");
      }
      return response;
    });
    const info = await stubbed(fetch).put("k", streamFromBytes(randomBytes(300 * KiB)));
    expect(info.size).toBe(300 * KiB);
    expect(sent.map((request) => request.headers.get("content-range") ?? request.method)).toEqual([
      "POST",
      "bytes 0-262143/*",
      "bytes 262144-307199/307200",
      "bytes */307200",
    ]);
  });

  test("a body stream that fails cancels the session and put rejects with the stream's own error", async () => {
    const events: string[] = [];
    const { fetch } = stubFetch(fakeSessions().handler, events);
    const failure = new ArtifactStoreError("E_TOO_LARGE", "size limit");
    const chunks = Array.from({ length: 6 }, () => randomBytes(100 * KiB));
    const error = await stubbed(fetch)
      .put("k", failingStream(chunks, failure))
      .catch((caught) => caught);
    expect(error).toBe(failure);
    expect(events).toEqual(["POST resumable", "PUT bytes 0-262143/*", "PUT bytes 262144-524287/*", "DELETE null"]);
  });

  test("a refused chunk is not retried: the session is cancelled and the source stream cancelled", async () => {
    let cancelledWith: unknown;
    const source = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(randomBytes(64 * KiB)),
      cancel: (reason) => {
        cancelledWith = reason;
      },
    });
    const sessions = fakeSessions((request) =>
      request.method === "PUT"
        ? Response.json({ error: { message: "Permission denied" } }, { status: 403 })
        : undefined,
    );
    const { fetch, sent } = stubFetch(sessions.handler);
    const error = await stubbed(fetch)
      .put("k", source)
      .catch((caught) => caught);
    expect(error.code).toBe("E_BACKEND");
    expect(error.message).toContain("Permission denied");
    expect(cancelledWith).toBe(error);
    expect(sent.map((request) => request.method)).toEqual(["POST", "PUT", "DELETE"]);
  });
});

describe("gcs preconditions (stubbed transport)", () => {
  const uploadTypes = (sent: SentRequest[]) =>
    sent.filter((request) => request.method === "POST").map((request) => request.url.searchParams);

  test("without options no precondition is sent", async () => {
    const { fetch, sent } = stubFetch((request) => objectJson("ci/k", request.body.length));
    await stubbed(fetch).put("k", streamFromBytes(new Uint8Array([1])));
    expect(uploadTypes(sent)[0]?.has("ifGenerationMatch")).toBe(false);
  });

  test("createOnly sends ifGenerationMatch=0 on multipart uploads and resumable sessions", async () => {
    const sessions = fakeSessions();
    const { fetch, sent } = stubFetch((request) =>
      request.url.searchParams.get("uploadType") === "multipart" ? objectJson("ci/k", 1) : sessions.handler(request),
    );
    const backend = stubbed(fetch, { createOnly: true });
    await backend.put("small", streamFromBytes(new Uint8Array([1])));
    await backend.put("large", streamFromBytes(randomBytes(600 * KiB)));
    expect(uploadTypes(sent).map((query) => [query.get("uploadType"), query.get("ifGenerationMatch")])).toEqual([
      ["multipart", "0"],
      ["resumable", "0"],
    ]);
  });

  test("a per-put generation wins, and a failed precondition is E_CONFLICT", async () => {
    const { fetch, sent } = stubFetch(() =>
      Response.json(
        { error: { code: 412, message: "At least one of the pre-conditions you specified did not hold." } },
        {
          status: 412,
        },
      ),
    );
    const error = await stubbed(fetch, { createOnly: true })
      .put("k", streamFromBytes(new Uint8Array([1])), { ifGenerationMatch: "1700000000000001" })
      .catch((caught) => caught);
    expect(uploadTypes(sent)[0]?.get("ifGenerationMatch")).toBe("1700000000000001");
    expect(error.code).toBe("E_CONFLICT");
    expect(error.message).toContain("pre-conditions you specified did not hold");
    expect(sent.length).toBe(1);
  });
});

describe("gcs errors and retries (stubbed transport)", () => {
  const head = { name: "ci/k", size: "3", generation: "7" };

  test("429 and 503 are retried with backoff until the request succeeds", async () => {
    const replies = [
      new Response("slow down", { status: 429, headers: { "retry-after": "0" } }),
      new Response("unavailable", { status: 503 }),
      Response.json(head),
    ];
    const { fetch, sent } = stubFetch(() => replies.shift() as Response);
    expect((await stubbed(fetch).head("k"))?.size).toBe(3);
    expect(sent.length).toBe(3);
  });

  test("persistent 5xx and network failures become E_BACKEND_UNAVAILABLE after the bounded attempts", async () => {
    const failing = stubFetch(() => Response.json({ error: { message: "Backend Error" } }, { status: 500 }));
    const error = await stubbed(failing.fetch, { retry: { maxAttempts: 3, baseDelayMs: 1 } })
      .head("k")
      .catch((caught) => caught);
    expect(error.code).toBe("E_BACKEND_UNAVAILABLE");
    expect(error.message).toContain("[gcs]");
    expect(error.message).toContain("Backend Error");
    expect(failing.sent.length).toBe(3);
    const unreachable = stubFetch(() => {
      throw new TypeError("fetch failed");
    });
    const networkError = await stubbed(unreachable.fetch, { retry: { maxAttempts: 2, baseDelayMs: 1 } })
      .list()
      .catch((caught) => caught);
    expect(networkError.code).toBe("E_BACKEND_UNAVAILABLE");
    expect(networkError.cause).toBeInstanceOf(TypeError);
    expect(unreachable.sent.length).toBe(2);
  });

  test("400 and 403 are not retried; 403 is the backend's failure, not the caller's", async () => {
    for (const status of [400, 403]) {
      const { fetch, sent } = stubFetch(() =>
        Response.json({ error: { code: status, message: `service says ${status}` } }, { status }),
      );
      const error = await stubbed(fetch)
        .head("k")
        .catch((caught) => caught);
      expect(sent.length).toBe(1);
      expect(error).toBeInstanceOf(ArtifactStoreError);
      expect(error.code).toBe("E_BACKEND");
      expect(error.message).toContain(`service says ${status}`);
      expect(error.cause).toBeInstanceOf(Error);
    }
  });

  test("a missing bucket is an error saying so, while a missing object is null and its delete succeeds", async () => {
    const noBucket = stubFetch(() =>
      Response.json({ error: { code: 404, message: "The specified bucket does not exist." } }, { status: 404 }),
    );
    for (const call of [() => stubbed(noBucket.fetch).head("k"), () => stubbed(noBucket.fetch).list()]) {
      const error = await call().catch((caught) => caught);
      expect(error.code).toBe("E_BACKEND");
      expect(error.message).toContain("bucket bkt does not exist");
    }
    const noObject = stubFetch(() => new Response("No such object: bkt/ci/k", { status: 404 }));
    expect(await stubbed(noObject.fetch).head("k")).toBeNull();
    expect(await stubbed(noObject.fetch).get("k")).toBeNull();
    await stubbed(noObject.fetch).delete("k");
  });

  test("a 416 from the service is E_RANGE; list passes prefix, limit and cursor through", async () => {
    const { fetch, sent } = stubFetch((request) =>
      request.url.searchParams.get("alt") === "media"
        ? new Response(null, { status: 416, headers: { "content-range": "bytes */10" } })
        : Response.json({ items: [{ name: "ci/a/1", size: "1", generation: "1" }], nextPageToken: "opaque" }),
    );
    const backend = stubbed(fetch);
    const error = await backend.get("k", { range: { offset: 10 } }).catch((caught) => caught);
    expect(error.code).toBe("E_RANGE");
    expect(sent[0]?.headers.get("range")).toBe("bytes=10-");
    const page = await backend.list({ prefix: "a/", limit: 5, cursor: "previous" });
    expect(page).toMatchObject({ objects: [{ key: "a/1", size: 1 }], cursor: "opaque" });
    const query = sent[1]?.url.searchParams;
    expect([query?.get("prefix"), query?.get("maxResults"), query?.get("pageToken")]).toEqual([
      "ci/a/",
      "5",
      "previous",
    ]);
  });
});

describe("gcs service-account auth (stubbed transport)", () => {
  async function makeServiceAccount() {
    const pair = await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    );
    const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    const base64 = btoa(String.fromCharCode(...der)).replace(/(.{64})/g, "$1\n");
    const key = {
      type: "service_account",
      client_email: "artifacts@demo-project.iam.gserviceaccount.com",
      private_key_id: "key-1",
      private_key: `-----BEGIN PRIVATE KEY-----\n${base64}\n-----END PRIVATE KEY-----\n`,
      token_uri: "https://oauth2.test/token",
    };
    return { key, publicKey: pair.publicKey };
  }

  const decodePart = (part: string) =>
    JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;

  async function verifyJwt(jwt: string, publicKey: CryptoKey): Promise<boolean> {
    const [header, claims, signature] = jwt.split(".") as [string, string, string];
    const signatureBytes = Uint8Array.from(atob(signature.replace(/-/g, "+").replace(/_/g, "/")), (character) =>
      character.charCodeAt(0),
    );
    const signed = new TextEncoder().encode(`${header}.${claims}`);
    return crypto.subtle.verify("RSASSA-PKCS1-v1_5", publicKey, signatureBytes, signed);
  }

  test("the JWT is RS256-signed by the key and carries iss, scope, aud, iat and exp", async () => {
    const { key, publicKey } = await makeServiceAccount();
    const jwt = await signServiceAccountJwt(key, { scope: "https://scope.test/rw", nowSeconds: 1_800_000_000 });
    expect(await verifyJwt(jwt, publicKey)).toBe(true);
    const [header, claims] = jwt.split(".") as [string, string];
    expect(decodePart(header)).toEqual({ alg: "RS256", typ: "JWT", kid: "key-1" });
    expect(decodePart(claims)).toEqual({
      iss: key.client_email,
      scope: "https://scope.test/rw",
      aud: "https://oauth2.test/token",
      iat: 1_800_000_000,
      exp: 1_800_003_600,
    });
    const tampered = `${jwt.slice(0, jwt.indexOf(".") + 2)}x${jwt.slice(jwt.indexOf(".") + 3)}`;
    expect(await verifyJwt(tampered, publicKey)).toBe(false);
  });

  test("one token serves many calls; it is refreshed once, shared, within 5 minutes of expiry", async () => {
    const { key, publicKey } = await makeServiceAccount();
    const clock = { now: 1_800_000_000_000 };
    let issued = 0;
    const { fetch, sent } = stubFetch(async (request) => {
      if (request.url.href === key.token_uri) {
        const form = new URLSearchParams(new TextDecoder().decode(request.body));
        expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer");
        expect(await verifyJwt(form.get("assertion") ?? "", publicKey)).toBe(true);
        return Response.json({ access_token: `token-${++issued}`, expires_in: 3600, token_type: "Bearer" });
      }
      return Response.json({ name: "ci/k", size: "1", generation: "1" });
    });
    const backend = stubbed(fetch, { credentials: JSON.stringify(key), now: () => clock.now });
    await Promise.all(Array.from({ length: 10 }, () => backend.head("k")));
    clock.now += 54 * 60_000; // 6 minutes left: still fresh
    await backend.head("k");
    clock.now += 2 * 60_000; // 4 minutes left: refresh
    await Promise.all(Array.from({ length: 5 }, () => backend.head("k")));
    const tokenRequests = sent.filter((request) => request.url.href === key.token_uri);
    expect(tokenRequests.length).toBe(2);
    const used = sent
      .filter((request) => request.url.href !== key.token_uri)
      .map((r) => r.headers.get("authorization"));
    expect(used).toEqual([...Array(11).fill("Bearer token-1"), ...Array(5).fill("Bearer token-2")]);
  });

  test("a refused token endpoint is E_BACKEND with its message; a 401 from storage fetches a new token once", async () => {
    const { key } = await makeServiceAccount();
    const refused = stubFetch(() =>
      Response.json({ error: "invalid_grant", error_description: "Invalid JWT Signature." }, { status: 400 }),
    );
    const error = await stubbed(refused.fetch, { credentials: key })
      .head("k")
      .catch((caught) => caught);
    expect(error.code).toBe("E_BACKEND");
    expect(error.message).toContain("Invalid JWT Signature.");
    let issued = 0;
    const { fetch, sent } = stubFetch((request) => {
      if (request.url.href === key.token_uri)
        return Response.json({ access_token: `token-${++issued}`, expires_in: 3600 });
      return request.headers.get("authorization") === "Bearer token-1"
        ? Response.json({ error: { message: "Invalid Credentials" } }, { status: 401 })
        : Response.json({ name: "ci/k", size: "2", generation: "1" });
    });
    expect((await stubbed(fetch, { credentials: key }).head("k"))?.size).toBe(2);
    expect(sent.map((request) => request.url.host)).toEqual([
      "oauth2.test",
      "storage.googleapis.com",
      "oauth2.test",
      "storage.googleapis.com",
    ]);
  });
});

describe("gcs sessions the service finishes early", () => {
  /** Every object in the bucket with its size, straight from the emulator's JSON API. */
  async function objectsIn(bucket: string): Promise<Record<string, number>> {
    const response = await fetch(`${(await emulator()).url}/storage/v1/b/${bucket}/o`, {
      headers: { authorization: "Bearer owner" },
    });
    const listed = (await response.json()) as { items?: { name: string; size: string }[] };
    return Object.fromEntries((listed.items ?? []).map((item) => [item.name, Number(item.size)]));
  }

  // The store suite above also sends 64 MiB through the same default config.
  test("a 20 MiB upload through a store on the server's own GCS config arrives whole", async () => {
    const running = await emulator();
    const bucket = `artifacts-${++buckets}`;
    await running.ensureBucket(bucket);
    const config = parseConfig({ artifact_store: { backend_type: "gcs", gcs: { bucket } } });
    const backend = await createConfiguredBackend(config, { STORAGE_EMULATOR_HOST: running.host });
    const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
    const store = createArtifactStore({ backend, metadata, config });
    try {
      const content = randomBytes(20 * MiB); // incompressible: the stored gzip is larger still
      const result = await store.upload({ specName: "s", taskId: "t", type: "log", content });
      expect(result.size).toBeGreaterThan(content.length);
      expect(await objectsIn(bucket)).toMatchObject({ "s/t/log.txt.gz": result.size });
      expect(await store.download(result.uri)).toEqual(content);
    } finally {
      await store.close();
    }
  });

  test("a backend not told it talks to the emulator: the truncated object goes, the body follows in one PUT", async () => {
    const events: string[] = [];
    const recording: FetchLike = (input, init) => {
      const url = new URL(input);
      const range = new Headers(init?.headers).get("content-range");
      const what = url.searchParams.get("uploadType") ?? url.searchParams.get("ifGenerationMatch") ?? "";
      if (init?.method !== "GET") events.push(`${init?.method} ${range ? "chunk" : what}`);
      return fetch(input, init);
    };
    const backend = await emulatorBackend({ fetch: recording, resumableInOnePut: false });
    const bytes = randomBytes(20 * MiB);
    const info = await backend.put("first", streamFromBytes(bytes, 256 * KiB), { ifNotExists: true });
    expect(info.size).toBe(bytes.length);
    // The first 8 MiB chunk, which the emulator takes for the whole object; that object (by its
    // generation) is deleted; a new session gets the whole body in one PUT.
    expect(events.map((event) => event.replace(/^DELETE \d+$/, "DELETE <generation>"))).toEqual([
      "POST resumable",
      "PUT chunk",
      "DELETE <generation>",
      "POST resumable",
      "PUT resumable",
    ]);
    const object = await backend.get("first");
    expect(await new Response(object?.body).bytes()).toEqual(bytes);
    expect(await objectsIn(backend.bucket)).toEqual({ "ci/first": bytes.length });
    // Learnt once: the next upload goes straight to one PUT.
    events.length = 0;
    await backend.put("second", streamFromBytes(randomBytes(9 * MiB), 256 * KiB));
    expect(events).toEqual(["POST resumable", "PUT resumable"]);
  });

  test("a body that fails in the middle of the one PUT publishes nothing and rejects with its own error", async () => {
    const backend = await emulatorBackend();
    const failure = new Error("digest mismatch upstream");
    const chunks = Array.from({ length: 48 }, () => randomBytes(256 * KiB)); // 12 MiB, then the error
    // Not create-only, so no clean-up after the fact: the emulator itself never saw the request end.
    const error = await backend.put("broken", failingStream(chunks, failure)).catch((caught) => caught);
    expect(error).toBe(failure);
    expect(await objectsIn(backend.bucket)).toEqual({});
  });

  test("a create-only upload whose publishing request got no clear answer deletes its key", async () => {
    const deleted: string[] = [];
    const { fetch } = stubFetch((request) => {
      if (request.method === "DELETE" && request.url.pathname.startsWith("/storage/")) {
        deleted.push(request.url.pathname);
        return new Response(null, { status: 204 });
      }
      return new Response("backend error", { status: 503 }); // the one multipart request, every time
    });
    const error = await stubbed(fetch, { retry: { maxAttempts: 2, baseDelayMs: 1 } })
      .put("k", streamFromBytes(new TextEncoder().encode("small body")), { ifNotExists: true })
      .catch((caught) => caught);
    expect(error.code).toBe("E_BACKEND_UNAVAILABLE");
    expect(deleted).toEqual(["/storage/v1/b/bkt/o/ci%2Fk"]);
  });

  test("a session finished on a later chunk: the object it published is deleted and the upload fails", async () => {
    const events: string[] = [];
    const deleted: string[] = [];
    const sessions = fakeSessions((request) => {
      if (request.headers.get("content-range") !== "bytes 262144-524287/*") return undefined;
      return objectJson("ci/k", 512 * KiB); // finished early, with half the body
    });
    const { fetch } = stubFetch((request) => {
      if (request.method === "DELETE" && request.url.pathname.startsWith("/storage/")) {
        deleted.push(`${request.url.pathname} ${request.url.searchParams.get("ifGenerationMatch")}`);
        return new Response(null, { status: 204 });
      }
      return sessions.handler(request);
    }, events);
    const error = await stubbed(fetch)
      .put("k", streamFromBytes(randomBytes(900 * KiB), 64 * KiB), { ifNotExists: true })
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(ArtifactStoreError);
    expect(error.message).toContain("finished early");
    expect(deleted).toContain("/storage/v1/b/bkt/o/ci%2Fk 1700000000000001");
  });
});

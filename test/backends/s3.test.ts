/**
 * The S3 backend against two real S3-compatible servers on loopback (fauxqs in process,
 * s3rver as a child process), plus a stubbed transport only for what they cannot provoke
 * (5xx, throttling, retry counts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createClient } from "@libsql/client";
import { createS3Backend, type S3Backend, type S3BackendOptions } from "../../src/backends/s3.ts";
import { collectBytes, streamFromBytes } from "../../src/codec/streams.ts";
import { ArtifactStoreError } from "../../src/contracts/errors.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { describeStoreSuite } from "../core/store-suite.ts";
import {
  meteredStream,
  putMany,
  recordCommands,
  type S3ServerKind,
  type S3TestServer,
  scriptedTransport,
  startS3Server,
} from "../helpers/s3-servers.ts";
import { failingStream, makeLog, randomBytes } from "../helpers/store.ts";
import { describeBackendContract } from "./contract.ts";

const MIB = 1024 * 1024;
let bucketCounter = 0;

/** A backend on `server` in a fresh bucket of its own. */
async function backendOn(server: S3TestServer, extra: Partial<S3BackendOptions> = {}): Promise<S3Backend> {
  const bucket = `bucket-${++bucketCounter}-${Date.now().toString(36)}`;
  await server.createBucket(bucket);
  return createS3Backend({ ...connection(server), bucket, ...extra });
}

function connection(server: S3TestServer): Omit<S3BackendOptions, "bucket"> {
  return {
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  };
}

for (const kind of ["fauxqs", "s3rver"] as const satisfies S3ServerKind[]) {
  describeBackendContract(`s3 on ${kind}`, async () => {
    const server = await startS3Server(kind);
    const backend = await backendOn(server, { prefix: "team-a/" });
    return { backend, cleanup: () => server.dispose(), createOnlyRequests: recordCreateOnly(backend) };
  });

  describeStoreSuite(
    `s3 on ${kind} + libSQL in memory`,
    async (config) => {
      const server = await startS3Server(kind);
      const backend = await backendOn(server, { prefix: "store" });
      const clock = { now: Date.now() };
      const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
      const store = createArtifactStore({ backend, metadata, config, now: () => clock.now });
      const cleanup = async () => {
        await store.close();
        await server.dispose();
      };
      return { store, backend, clock, cleanup };
    },
    { largeBytes: 64 * MIB, startedReadsSurviveReplacement: kind !== "s3rver" },
  );

  describe(`s3 backend on ${kind}`, () => {
    let server: S3TestServer;
    beforeAll(async () => {
      server = await startS3Server(kind);
    });
    afterAll(() => server.dispose());

    test("lists more than 1,000 keys: small pages, then a default page that stops at 1,000", async () => {
      const backend = await backendOn(server, { prefix: "many/" });
      const keys = Array.from({ length: 1205 }, (_, index) => `spec/t${String(index).padStart(4, "0")}/v1/log.txt`);
      await putMany(backend, keys);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await backend.list({ prefix: "spec/", limit: 250, ...(cursor ? { cursor } : {}) });
        expect(page.objects.length).toBeLessThanOrEqual(250);
        seen.push(...page.objects.map((object) => object.key));
        cursor = page.cursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(5);
      expect(seen).toEqual(keys);
      const first = await backend.list();
      expect(first.objects.length).toBe(1000);
      expect(first.cursor).toBeString();
      const second = await backend.list({ cursor: first.cursor as string });
      expect(second.objects.map((object) => object.key)).toEqual(keys.slice(1000));
      expect(second.cursor).toBeUndefined();
    });

    test("a body of unknown length goes up as a multipart upload of 8 MiB parts", async () => {
      const backend = await backendOn(server);
      const recorder = recordCommands(backend.client);
      const bytes = randomBytes(20 * MIB);
      const info = await backend.put("big/v1/log.txt", streamFromBytes(bytes, 3 * MIB));
      expect(info.size).toBe(bytes.length);
      expect(recorder.count("CreateMultipartUploadCommand")).toBe(1);
      expect(recorder.count("UploadPartCommand")).toBe(3);
      expect(recorder.count("CompleteMultipartUploadCommand")).toBe(1);
      expect(recorder.count("PutObjectCommand")).toBe(0);
      expect(await collectBytes((await backend.get("big/v1/log.txt"))?.body as ReadableStream<Uint8Array>)).toEqual(
        bytes,
      );
    });

    test("a body of exactly one part, or a known small length, is one PutObject", async () => {
      const backend = await backendOn(server);
      const recorder = recordCommands(backend.client);
      await backend.put("exact/part", streamFromBytes(randomBytes(8 * MIB), MIB));
      await backend.put("small/known", streamFromBytes(randomBytes(1000)), { contentLength: 1000 });
      expect(recorder.commands).toEqual(["PutObjectCommand", "PutObjectCommand"]);
      expect((await backend.head("exact/part"))?.size).toBe(8 * MIB);
    });

    test("memory stays bounded: reading runs at most two parts ahead of what the server acknowledged", async () => {
      const backend = await backendOn(server, { partSize: 5 * MIB });
      let acknowledged = 0;
      let furthestAhead = 0;
      backend.client.middlewareStack.add(
        (next, context) => async (args) => {
          const result = await next(args);
          if (context.commandName === "UploadPartCommand") acknowledged += 5 * MIB;
          return result;
        },
        { step: "initialize" },
      );
      const body = meteredStream(40 * MIB, MIB, async (emitted) => {
        furthestAhead = Math.max(furthestAhead, emitted - acknowledged);
      });
      await backend.put("bounded/blob", body.stream);
      expect(furthestAhead).toBeLessThanOrEqual(2 * 5 * MIB + 2 * MIB);
      expect((await backend.head("bounded/blob"))?.size).toBe(40 * MIB);
    });

    test("a body that fails after a part was uploaded publishes nothing and rejects with its own error", async () => {
      const backend = await backendOn(server);
      const recorder = recordCommands(backend.client);
      const failure = new Error("client went away");
      const chunk = randomBytes(6 * MIB);
      const error = await backend
        .put("broken/blob", failingStream([chunk, chunk, chunk], failure))
        .catch((caught) => caught);
      expect(error).toBe(failure);
      expect(recorder.count("UploadPartCommand")).toBeGreaterThanOrEqual(1);
      expect(recorder.count("CompleteMultipartUploadCommand")).toBe(0);
      expect(await backend.head("broken/blob")).toBeNull();
    });

    test("a missing bucket is E_BACKEND naming the bucket, with the service's message", async () => {
      const backend = createS3Backend({ ...connection(server), bucket: "no-such-bucket-here" });
      const attempts = [
        () => backend.put("a/b", streamFromBytes(new Uint8Array([1]))),
        () => backend.get("a/b"),
        () => backend.head("a/b"),
        () => backend.list(),
        () => backend.delete("a/b"),
      ];
      for (const attempt of attempts) {
        const error = await attempt().catch((caught) => caught);
        expect(error).toBeInstanceOf(ArtifactStoreError);
        expect(error.code).toBe("E_BACKEND");
        expect(error.message).toContain('bucket "no-such-bucket-here" does not exist');
        expect(error.cause).toBeDefined();
      }
      const fromPut = await backend.put("a/b", streamFromBytes(new Uint8Array([1]))).catch((caught) => caught);
      expect(fromPut.message).toContain("The specified bucket does not exist");
    });

    test("stored .gz objects are plain gzip to any S3 client", async () => {
      const backend = await backendOn(server, { prefix: "plain" });
      const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
      const store = createArtifactStore({ backend, metadata });
      const log = makeLog(5000);
      const result = await store.upload({ specName: "chat-app", taskId: "1.1", type: "log", content: log });
      expect(result.uri).toBe(`s3://${backend.bucket}/plain/chat-app/1.1/log.txt.gz`);
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, with the SDK as "any client"
      const object = await server.client.send(
        new GetObjectCommand({ Bucket: backend.bucket, Key: "plain/chat-app/1.1/log.txt.gz" }),
      );
      expect(object.ContentType).toBe("application/gzip");
      const gzip = await object.Body?.transformToByteArray();
      expect(gzip?.subarray(0, 2)).toEqual(new Uint8Array([0x1f, 0x8b]));
      const plain = new Blob([gzip as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
      expect(await new Response(plain).text()).toBe(log);
      await store.close();
    });
  });
}

describe("s3 failure paths on real servers", () => {
  test("fauxqs: a failed multipart upload is aborted, leaving no upload behind", async () => {
    const server = await startS3Server("fauxqs");
    try {
      // fauxqs has no ListMultipartUploads (GET ?uploads is served as a plain listing), so the
      // proof is twofold: the upload id is gone (UploadPart answers NoSuchUpload), and
      // DeleteBucket succeeds — fauxqs refuses it with BucketNotEmpty while an upload is open.
      const control = await backendOn(server);
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
      await server.client.send(new CreateMultipartUploadCommand({ Bucket: control.bucket, Key: "open" }));
      const refused = await server.client
        .send(new DeleteBucketCommand({ Bucket: control.bucket }))
        .catch((caught) => caught);
      expect(refused.name).toBe("BucketNotEmpty");

      const backend = await backendOn(server);
      const recorder = recordCommands(backend.client);
      const failure = new ArtifactStoreError("E_CHECKSUM_MISMATCH", "digest mismatch upstream");
      const chunk = randomBytes(6 * MIB);
      expect(
        await backend.put("t/v1/log.txt.gz", failingStream([chunk, chunk], failure)).catch((caught) => caught),
      ).toBe(failure);
      expect(recorder.count("AbortMultipartUploadCommand")).toBe(1);
      const [uploadId] = recorder.uploadIds;
      const part = server.client.send(
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
        new UploadPartCommand({
          Bucket: backend.bucket,
          Key: "t/v1/log.txt.gz",
          UploadId: uploadId,
          PartNumber: 2,
          Body: chunk,
        }),
      );
      expect((await part.catch((caught) => caught)).name).toBe("NoSuchUpload");
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html
      await server.client.send(new DeleteBucketCommand({ Bucket: backend.bucket }));
    } finally {
      await server.dispose();
    }
  });

  test("s3rver: an upload publishes even when the server writes each object's file late", async () => {
    // s3rver answers a PUT before the object's file is written (see s3rver-read-after-write.cjs);
    // on a loaded machine the publish, which reads back the key it has just put (an S3 move is
    // get, put, delete), found nothing there: E_BACKEND "neither at .store/uploads/… nor at …".
    // Opening each object file 300 ms late makes that happen on every put.
    const server = await startS3Server("s3rver", { objectOpenDelayMs: 300 });
    const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
    const store = createArtifactStore({ backend: await backendOn(server), metadata });
    try {
      for (const taskId of ["t1", "t2"]) {
        const log = makeLog(2000);
        await store.upload({ specName: "e2e-8", taskId, type: "log", content: log });
        expect(await store.downloadText({ specName: "e2e-8", taskId, type: "log" })).toBe(log);
      }
    } finally {
      await store.close();
      await server.dispose();
    }
  });

  test("s3rver: wrong credentials are E_BACKEND with the service's message, and the body is cancelled", async () => {
    // Only s3rver checks credentials, and only the access key id (it does not verify V4
    // signatures); fauxqs accepts any credentials, so there is nothing to provoke there.
    const server = await startS3Server("s3rver");
    try {
      await server.createBucket("creds");
      const backend = createS3Backend({
        ...connection(server),
        bucket: "creds",
        credentials: { accessKeyId: "NOT-A-KEY", secretAccessKey: "wrong" },
      });
      const listError = await backend.list().catch((caught) => caught);
      expect(listError).toBeInstanceOf(ArtifactStoreError);
      expect(listError.code).toBe("E_BACKEND");
      expect(listError.message).toContain("InvalidAccessKeyId");
      expect(listError.message).toContain("The AWS Access Key Id you provided does not exist in our records");
      expect(listError.cause).toBeDefined();
      const body = meteredStream(20 * MIB, MIB);
      const putError = await backend.put("a/b", body.stream).catch((caught) => caught);
      expect(putError.code).toBe("E_BACKEND");
      expect(body.state.cancelReason).toBe(putError);
      expect(body.state.emitted).toBeLessThan(20 * MIB);
    } finally {
      await server.dispose();
    }
  });

  test("s3rver: without credentials in the options, the AWS_* environment variables are used", async () => {
    const server = await startS3Server("s3rver");
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    const restore = (name: string, value: string | undefined) => {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    };
    try {
      await server.createBucket("from-env");
      const { credentials: _none, ...withoutCredentials } = connection(server);
      process.env.AWS_ACCESS_KEY_ID = server.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = server.secretAccessKey;
      const known = createS3Backend({ ...withoutCredentials, bucket: "from-env" });
      expect((await known.list()).objects).toEqual([]);
      // s3rver only checks the key id, so an unknown id in the environment proves it is what was sent.
      process.env.AWS_ACCESS_KEY_ID = "ENV-ONLY-KEY";
      const unknown = createS3Backend({ ...withoutCredentials, bucket: "from-env" });
      const error = await unknown.list().catch((caught) => caught);
      expect(error.code).toBe("E_BACKEND");
      expect(error.message).toContain("InvalidAccessKeyId");
    } finally {
      restore("AWS_ACCESS_KEY_ID", saved.id);
      restore("AWS_SECRET_ACCESS_KEY", saved.secret);
      await server.dispose();
    }
  });

  for (const kind of ["s3rver", "fauxqs"] as const satisfies S3ServerKind[]) {
    test(`${kind}: a server stopped mid-upload is E_BACKEND_UNAVAILABLE and nothing is published`, async () => {
      const server = await startS3Server(kind);
      try {
        const backend = await backendOn(server);
        const recorder = recordCommands(backend.client);
        const firstPartStored = recorder.nextCompleted("UploadPartCommand");
        const body = meteredStream(30 * MIB, MIB, async (emitted) => {
          if (emitted !== 12 * MIB) return;
          await firstPartStored;
          await server.stop();
        });
        const error = await backend.put("t/v1/log.txt.gz", body.stream).catch((caught) => caught);
        expect(error).toBeInstanceOf(ArtifactStoreError);
        expect(error.code).toBe("E_BACKEND_UNAVAILABLE");
        expect(body.state.cancelReason).toBe(error);
        expect(recorder.count("CompleteMultipartUploadCommand")).toBe(0);
        // s3rver keeps its files across the restart, so this shows nothing was published;
        // fauxqs comes back empty, so there it only shows the backend works again.
        await server.restart();
        if (kind === "fauxqs") await server.createBucket(backend.bucket);
        expect(await backend.head("t/v1/log.txt.gz")).toBeNull();
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
        const listed = await server.client.send(new ListObjectsV2Command({ Bucket: backend.bucket }));
        expect(listed.Contents ?? []).toEqual([]);
      } finally {
        await server.dispose();
      }
    });
  }
});

/** A backend whose every request goes to a scripted transport instead of the network. */
function scriptedBackend(maxAttempts: number, answers: Parameters<typeof scriptedTransport>[0]) {
  const transport = scriptedTransport(answers);
  const backend = createS3Backend({
    bucket: "stubbed",
    endpoint: "http://127.0.0.1:9",
    forcePathStyle: true,
    credentials: { accessKeyId: "stub", secretAccessKey: "stub" },
    maxAttempts,
    requestHandler: transport.requestHandler,
  });
  return { seen: transport.seen, backend };
}

describe("s3 retries, over a scripted transport", () => {
  test("5xx answers are retried up to maxAttempts, then E_BACKEND_UNAVAILABLE with the service's message", async () => {
    const { seen, backend } = scriptedBackend(4, [
      { status: 500, code: "InternalError", message: "We encountered an internal error. Please try again." },
    ]);
    const error = await backend.get("a/b").catch((caught) => caught);
    expect(seen.length).toBe(4);
    expect(error).toBeInstanceOf(ArtifactStoreError);
    expect(error.code).toBe("E_BACKEND_UNAVAILABLE");
    expect(error.message).toContain("after 4 attempts");
    expect(error.message).toContain("We encountered an internal error. Please try again.");
  });

  test("throttling is retried, and the retry that succeeds publishes", async () => {
    const { seen, backend } = scriptedBackend(3, [
      { status: 503, code: "SlowDown", message: "Please reduce your request rate." },
      { status: 200, headers: { etag: '"fresh"' } },
    ]);
    const info = await backend.put("a/b", streamFromBytes(new TextEncoder().encode("hello")));
    expect(seen).toEqual(["PUT /stubbed/a/b", "PUT /stubbed/a/b"]);
    expect(info).toEqual({ key: "a/b", size: 5, etag: '"fresh"' });
  });

  test("4xx answers are not retried", async () => {
    const denied = scriptedBackend(5, [{ status: 403, code: "AccessDenied", message: "Access Denied" }]);
    const deniedError = await denied.backend.list().catch((caught) => caught);
    expect(denied.seen.length).toBe(1);
    expect(deniedError.code).toBe("E_BACKEND");
    expect(deniedError.message).toContain("AccessDenied: Access Denied");

    const invalid = scriptedBackend(5, [{ status: 400, code: "InvalidArgument", message: "Invalid argument." }]);
    const invalidError = await invalid.backend.delete("a/b").catch((caught) => caught);
    expect(invalid.seen.length).toBe(1);
    expect(invalidError.code).toBe("E_BACKEND");

    // HEAD answers carry no body: a bare 403 is still the deployment's problem, not a missing object.
    const forbidden = scriptedBackend(5, [{ status: 403 }]);
    const forbiddenError = await forbidden.backend.head("a/b").catch((caught) => caught);
    expect(forbidden.seen.length).toBe(1);
    expect(forbiddenError.code).toBe("E_BACKEND");
  });
});

describe("s3 create-only puts", () => {
  test("a refused If-None-Match (412) is E_CONFLICT", async () => {
    const { backend } = scriptedBackend(1, [
      {
        status: 412,
        code: "PreconditionFailed",
        message: "At least one of the pre-conditions you specified did not hold",
      },
    ]);
    const error = await backend
      .put("s/t/v1/log.txt.gz", new Blob(["x"]).stream(), { ifNotExists: true })
      .catch((caught) => caught);
    expect(error.code).toBe("E_CONFLICT");
    expect(error.message).toContain("already exists");
  });

  test("a create-only put whose publishing request failed unclearly deletes the key; a refused one does not", async () => {
    const failed = scriptedBackend(1, [
      { status: 500, code: "InternalError", message: "We encountered an internal error." },
      { status: 204 },
    ]);
    const error = await failed.backend
      .put("s/t/v1/log.txt.gz", new Blob(["x"]).stream(), { ifNotExists: true })
      .catch((caught) => caught);
    expect(error.code).toBe("E_BACKEND_UNAVAILABLE");
    expect(failed.seen).toEqual(["PUT /stubbed/s/t/v1/log.txt.gz", "DELETE /stubbed/s/t/v1/log.txt.gz"]);

    const refused = scriptedBackend(1, [{ status: 412, code: "PreconditionFailed", message: "exists" }]);
    await refused.backend.put("s/t/v1/log.txt.gz", new Blob(["x"]).stream(), { ifNotExists: true }).catch(() => {});
    expect(refused.seen).toEqual(["PUT /stubbed/s/t/v1/log.txt.gz"]);
  });
});

describe("s3 multipart uploads a crash left open", () => {
  // Neither test server can do both: fauxqs cannot list multipart uploads, s3rver refuses to abort.
  test("gc's abortIncompleteUploads aborts only those older than the grace period", async () => {
    const old = new Date(Date.now() - 3 * 3600_000).toISOString();
    const recent = new Date().toISOString();
    const listing = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>stubbed</Bucket><IsTruncated>false</IsTruncated>
      <Upload><Key>s/t/v1/log.txt.gz</Key><UploadId>old-1</UploadId><Initiated>${old}</Initiated></Upload>
      <Upload><Key>s/t/v2/log.txt.gz</Key><UploadId>new-2</UploadId><Initiated>${recent}</Initiated></Upload>
      </ListMultipartUploadsResult>`;
    const dry = scriptedBackend(1, [{ status: 200, body: listing }]);
    expect(await dry.backend.abortIncompleteUploads(3600_000, { dryRun: true })).toEqual(["s/t/v1/log.txt.gz"]);
    expect(dry.seen.filter((request) => request.startsWith("DELETE"))).toEqual([]);
    const real = scriptedBackend(1, [{ status: 200, body: listing }, { status: 204 }]);
    expect(await real.backend.abortIncompleteUploads(3600_000)).toEqual(["s/t/v1/log.txt.gz"]);
    expect(real.seen.filter((request) => request.startsWith("DELETE"))).toEqual(["DELETE /stubbed/s/t/v1/log.txt.gz"]);
  });
});

describe("s3 options", () => {
  test("part sizes S3 would refuse and a missing bucket are E_CONFIG at construction", () => {
    const construct = (options: S3BackendOptions) => () => createS3Backend(options);
    expect(construct({ bucket: "b", partSize: 4 * MIB })).toThrow(/partSize must be between 5 MiB and 5 GiB/);
    expect(construct({ bucket: "" })).toThrow(/a bucket is required/);
    expect(construct({ bucket: "b", prefix: "/abs" })).toThrow(ArtifactStoreError);
  });

  test("the prefix gets its trailing slash and URIs name bucket, prefix and key", () => {
    const backend = createS3Backend({ bucket: "artifacts", prefix: "ci/main" });
    expect(backend.prefix).toBe("ci/main/");
    expect(backend.uriFor("chat-app/1.1/v3/diff.txt.gz")).toBe("s3://artifacts/ci/main/chat-app/1.1/v3/diff.txt.gz");
  });
});

/** Keys of the requests that carried `If-None-Match: *` (the emulators accept it without enforcing it). */
function recordCreateOnly(backend: S3Backend): () => string[] {
  const keys: string[] = [];
  backend.client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Key?: string; IfNoneMatch?: string };
      if (input.IfNoneMatch === "*" && input.Key) keys.push(input.Key);
      return next(args);
    },
    { step: "initialize", name: "recordCreateOnly" },
  );
  return () => [...keys];
}

/**
 * `openArtifactStore` wires object storage from config and environment alone: S3 (s3rver) and
 * GCS (Google's emulator via STORAGE_EMULATOR_HOST), metadata in a local libSQL file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openArtifactStore } from "../../src/runtime/local.ts";
import { type GcsEmulator, startGcsEmulator } from "../helpers/gcs-emulator.ts";
import { type S3TestServer, startS3Server } from "../helpers/s3-servers.ts";
import { makeLog, makeTempDir } from "../helpers/store.ts";

describe("object storage from config", () => {
  let s3: S3TestServer;
  let gcs: GcsEmulator;
  let dir: { path: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir("object-config");
    s3 = await startS3Server("s3rver");
    await s3.createBucket("ci-artifacts");
    gcs = await startGcsEmulator();
    await gcs.ensureBucket("ci-artifacts");
  });
  afterAll(async () => {
    await s3.dispose();
    await gcs.stop();
    await dir.cleanup();
  });

  test("backend_type s3 with endpoint, path style and keys from ARTIFACT_STORE_* variables", async () => {
    const store = await openArtifactStore({
      path: null,
      env: {
        ...s3.storeEnv("ci-artifacts"),
        ARTIFACT_STORE_BASE_PATH: join(dir.path, "s3-node"),
        ARTIFACT_STORE_S3__PREFIX: "team-a",
      },
    });
    const log = makeLog(1000);
    const uri = await store.upload("1.1", "chat-app", "log", log);
    expect(uri).toBe("s3://ci-artifacts/team-a/chat-app/1.1/log.txt.gz");
    expect(await store.downloadText(uri)).toBe(log);
    expect(store.backend.name).toBe("s3");
    await store.close();
  });

  test("backend_type gcs with STORAGE_EMULATOR_HOST", async () => {
    const store = await openArtifactStore({
      path: null,
      env: {
        ARTIFACT_STORE_BACKEND_TYPE: "gcs",
        ARTIFACT_STORE_BASE_PATH: join(dir.path, "gcs-node"),
        ARTIFACT_STORE_GCS__BUCKET: "ci-artifacts",
        STORAGE_EMULATOR_HOST: gcs.host,
      },
    });
    const log = makeLog(1000);
    const uri = await store.upload("1.1", "chat-app", "log", log);
    expect(uri).toBe("gs://ci-artifacts/chat-app/1.1/log.txt.gz");
    expect(await store.downloadText(uri)).toBe(log);
    await store.close();
  });
});

/**
 * The conformance suite on Bun, from the sources: memory and S3 blobs with sqld metadata over
 * http, ws and libsql:// URLs, fs blobs with a libSQL file, and fs blobs with an embedded
 * replica of sqld. The servers are started here, before the tests are registered.
 */
import { afterAll, describe, test } from "bun:test";
import { createClient } from "@libsql/client/web";
import { createFsBackend } from "../../src/backends/fs.ts";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { createS3Backend } from "../../src/backends/s3.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { createApp } from "../../src/http/app.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { createNativeEngines } from "../../src/runtime/engines.ts";
import { type ConformanceContext, remoteCombinations } from "./context.ts";
import { fsFileCombination, fsReplicaCombination } from "./local-combinations.ts";
import { createTally, planTests } from "./plan.ts";
import { startConformanceServices } from "./services.ts";

const services = await startConformanceServices(["bun"]);
const context: ConformanceContext = {
  runtime: "bun",
  library: {
    createArtifactStore,
    createLibsqlMetadata,
    createApp,
    createMemoryBackend,
    createS3Backend,
    createWebClient: createClient,
  },
  engines: createNativeEngines(),
  services: services.forRuntime("bun"),
};
const local = { createFsBackend, openLocalMetadata };
const tally = createTally("bun");

// The replica first: its first sync replays the primary's history, short at the start.
const combinations = [
  fsReplicaCombination(context, local),
  fsFileCombination(context, local),
  ...remoteCombinations(context),
];

afterAll(async () => {
  console.log(tally.summary());
  for (const combination of combinations) await combination.dispose?.();
  await services.stop();
});

describe(`conformance on bun ${Bun.version} (${context.engines.name})`, () => {
  for (const planned of planTests(context, combinations)) {
    test(planned.name, () => tally.track(planned));
  }
});

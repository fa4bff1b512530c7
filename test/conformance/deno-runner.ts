/**
 * The conformance suite on Deno, from the sources (bare imports resolve from node_modules, as
 * in any npm project): memory and S3 blobs with sqld over http, ws and libsql:// URLs, fs blobs
 * with a libSQL file (`@libsql/client`'s native build runs on Deno), and fs blobs with an
 * embedded replica of sqld.
 *
 * Run: `bun scripts/conformance.ts --runtimes deno` (starts sqld and S3 and passes them in), or
 * `CONFORMANCE_SERVICES='{…}' deno test -A test/conformance/deno-runner.ts`.
 */
import { createClient } from "@libsql/client/web";
import { createFsBackend } from "../../src/backends/fs.ts";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { createS3Backend } from "../../src/backends/s3.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { createApp } from "../../src/http/app.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { openLocalMetadata } from "../../src/metadata/local.ts";
import { createDenoEngines } from "../../src/runtime/deno.ts";
import { type ConformanceContext, remoteCombinations } from "./context.ts";
import { fsFileCombination, fsReplicaCombination } from "./local-combinations.ts";
import { createTally, planTests } from "./plan.ts";

/** The part of the Deno namespace used here (the project's type check runs with Bun's types). */
declare const Deno: {
  version: { deno: string };
  env: { get(name: string): string | undefined };
  test(definition: { name: string; fn: () => Promise<void>; sanitizeResources?: boolean; sanitizeOps?: boolean }): void;
};

const servicesJson = Deno.env.get("CONFORMANCE_SERVICES");
if (!servicesJson) {
  throw new Error("CONFORMANCE_SERVICES is not set: run `bun scripts/conformance.ts --runtimes deno`");
}

const context: ConformanceContext = {
  runtime: "deno",
  library: {
    createArtifactStore,
    createLibsqlMetadata,
    createApp,
    createMemoryBackend,
    createS3Backend,
    createWebClient: createClient,
  },
  engines: createDenoEngines(),
  services: JSON.parse(servicesJson),
};
const local = { createFsBackend, openLocalMetadata };
const combinations = [
  fsReplicaCombination(context, local),
  fsFileCombination(context, local),
  ...remoteCombinations(context),
];
const tally = createTally("deno");
const prefix = `conformance on deno ${Deno.version.deno} (${context.engines.name})`;

for (const planned of planTests(context, combinations)) {
  // Clients and streams outlive single cases by design (pooled connections); the sanitizers
  // would report them as leaks.
  Deno.test({
    name: `${prefix} › ${planned.name}`,
    fn: () => tally.track(planned),
    sanitizeResources: false,
    sanitizeOps: false,
  });
}

// Registered last, so it runs last: Deno has no afterAll.
Deno.test({
  name: `${prefix} › summary`,
  async fn() {
    for (const combination of combinations) await combination.dispose?.();
    console.log(tally.summary());
  },
  sanitizeResources: false,
  sanitizeOps: false,
});

/**
 * The conformance suite on Node 20, against the built package (`dist/`, through the package's
 * own `exports`: run `npm run build` first). Node cannot run the TypeScript cases, so they are
 * bundled with esbuild into a temp directory first; the library is not part of that bundle.
 *
 * Run: `bun scripts/conformance.ts --runtimes node` (starts sqld and S3 and passes them in), or
 * `CONFORMANCE_SERVICES='{…}' node --test test/conformance/node-runner.mjs`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createClient } from "@libsql/client/web";
import { createArtifactStore, createLibsqlMetadata } from "@necrocode/artifact-store";
import { createFsBackend } from "@necrocode/artifact-store/backends/fs";
import { createMemoryBackend } from "@necrocode/artifact-store/backends/memory";
import { createS3Backend } from "@necrocode/artifact-store/backends/s3";
import { createApp } from "@necrocode/artifact-store/http";
import { build } from "esbuild";
// Not in the package's exports: the modules `openArtifactStore` itself uses on Node.
import { openLocalMetadata } from "../../dist/metadata/local.js";
import { createNativeEngines } from "../../dist/runtime/engines.js";

const servicesJson = process.env.CONFORMANCE_SERVICES;
if (!servicesJson) {
  throw new Error("CONFORMANCE_SERVICES is not set: run `bun scripts/conformance.ts --runtimes node`");
}

const bundleDirectory = await mkdtemp(join(tmpdir(), "conformance-node-suite-"));
const bundlePath = join(bundleDirectory, "suite.mjs");
await build({
  entryPoints: [fileURLToPath(new URL("./node-suite.ts", import.meta.url))],
  outfile: bundlePath,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "error",
});
const suite = await import(pathToFileURL(bundlePath).href);

const context = {
  runtime: "node",
  library: {
    createArtifactStore,
    createLibsqlMetadata,
    createApp,
    createMemoryBackend,
    createS3Backend,
    createWebClient: createClient,
  },
  engines: createNativeEngines(),
  services: JSON.parse(servicesJson),
};
const local = { createFsBackend, openLocalMetadata };
const combinations = [
  suite.fsReplicaCombination(context, local),
  suite.fsFileCombination(context, local),
  ...suite.remoteCombinations(context),
];
const tally = suite.createTally("node");

after(async () => {
  console.log(tally.summary());
  for (const combination of combinations) await combination.dispose?.();
  await rm(bundleDirectory, { recursive: true, force: true });
});

describe(`conformance on node ${process.version} (${context.engines.name})`, () => {
  for (const planned of suite.planTests(context, combinations)) {
    test(planned.name, () => tally.track(planned));
  }
});

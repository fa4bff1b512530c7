/**
 * The conformance suite on workerd: `worker-runner.ts` is bundled the way the edge entry is
 * (scripts/build-worker.ts: no Node built-ins, the AWS SDK's DOM-free XML parser) and run by
 * Miniflare; each test here asks it to run one planned test against sqld (http, ws, libsql://)
 * and the S3 server, which run outside workerd. No filesystem in workerd, so no fs combination.
 */
import { afterAll, describe, test } from "bun:test";
import { build } from "esbuild";
import { workerBuildOptions } from "../../scripts/build-worker.ts";
import { makeTempDir } from "../helpers/store.ts";
import { type RunningWorker, startWorker } from "../helpers/workerd.ts";
import type { ConformanceContext } from "./context.ts";
import { remoteCombinations } from "./context.ts";
import { createTally, planTests } from "./plan.ts";
import { startConformanceServices } from "./services.ts";

const bundleDirectory = await makeTempDir("conformance-workerd");
const scriptPath = `${bundleDirectory.path}/worker-runner.js`;
await build(workerBuildOptions(new URL("./worker-runner.ts", import.meta.url).pathname, scriptPath, false));

const services = await startConformanceServices(["workerd"]);
let worker: RunningWorker;
try {
  worker = await startWorker({ scriptPath });
} catch (error) {
  await services.stop();
  await bundleDirectory.cleanup();
  throw error;
}
const tally = createTally("workerd");

afterAll(async () => {
  console.log(tally.summary());
  await worker.dispose();
  await services.stop();
  await bundleDirectory.cleanup();
});

// The same plan the Worker makes; only the names are used here, the Worker runs them.
const names: ConformanceContext = {
  runtime: "workerd",
  library: undefined as never,
  engines: undefined as never,
  services: services.forRuntime("workerd"),
};

describe("conformance on workerd (Miniflare, cf: false)", () => {
  for (const planned of planTests(names, remoteCombinations(names))) {
    test(planned.name, () =>
      tally.track({
        name: planned.name,
        async run() {
          const response = await fetch(new URL("/run", worker.url), {
            method: "POST",
            body: JSON.stringify({ name: planned.name, services: services.forRuntime("workerd") }),
          });
          const text = await response.text();
          let result: { ok: boolean; error?: string };
          try {
            result = JSON.parse(text);
          } catch {
            throw new Error(`the Worker answered ${response.status}: ${text.slice(0, 2000)}`);
          }
          if (!result.ok) throw new Error(`in workerd: ${result.error}`);
        },
      }),
    );
  }
});

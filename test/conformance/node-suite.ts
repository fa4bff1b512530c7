/**
 * What the Node runner needs from the suite, bundled by `node-runner.mjs` into one plain ES module
 * (Node 20 cannot run TypeScript). Nothing of the library is bundled: the runner passes in
 * what it imported from the built package.
 */
export { remoteCombinations } from "./context.ts";
export { fsFileCombination, fsReplicaCombination } from "./local-combinations.ts";
export { createTally, planTests } from "./plan.ts";

/**
 * Turns the cases and a runtime's combinations into named tests, and counts outcomes so every
 * runner ends with the same line: `conformance <runtime>: N passed, M failed`.
 */
import { cases } from "./cases.ts";
import type { ConformanceCase, ConformanceContext, StoreCombination } from "./context.ts";

export interface PlannedTest {
  /** `<combination> › <case>`, or `<runtime> › <case>` for runtime-wide cases. */
  name: string;
  run(): Promise<void>;
}

/** Runtime-wide cases first, then every combination case on every combination, in order. */
export function planTests(
  context: ConformanceContext,
  combinations: readonly StoreCombination[],
  selected: readonly ConformanceCase[] = cases,
): PlannedTest[] {
  const planned: PlannedTest[] = [];
  for (const testCase of selected.filter((candidate) => candidate.scope === "runtime")) {
    planned.push({ name: `${context.runtime} › ${testCase.name}`, run: () => testCase.run(context, undefined) });
  }
  for (const combination of combinations) {
    for (const testCase of selected.filter((candidate) => candidate.scope === "combination")) {
      planned.push({ name: `${combination.name} › ${testCase.name}`, run: () => testCase.run(context, combination) });
    }
  }
  return planned;
}

export interface Tally {
  /** Runs `test`, counting it as passed or failed; rethrows the failure for the host framework. */
  track(test: PlannedTest): Promise<void>;
  readonly passed: number;
  readonly failed: number;
  /** `conformance <runtime>: N passed, M failed` */
  summary(): string;
}

export function createTally(runtime: string): Tally {
  let passed = 0;
  let failed = 0;
  return {
    async track(test) {
      try {
        await test.run();
        passed++;
      } catch (error) {
        failed++;
        throw error;
      }
    },
    get passed() {
      return passed;
    },
    get failed() {
      return failed;
    },
    summary: () => `conformance ${runtime}: ${passed} passed, ${failed} failed`,
  };
}

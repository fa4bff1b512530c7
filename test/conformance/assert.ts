/**
 * The conformance suite's assertions: small enough to run unchanged on Bun, Node, Deno and
 * workerd, where no test framework is shared. A failed assertion throws an Error whose message
 * says what was expected and what came instead.
 */

export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Deep equality of JSON-like values (objects compared key by key, in any order). */
export function assertEqual<T>(actual: T, expected: T, what: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(`${what}: expected ${render(expected)}, got ${render(actual)}`);
  }
}

/** Equality of byte arrays, reported by length and first differing offset rather than content. */
export function assertBytesEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) {
    throw new AssertionError(`${what}: expected ${expected.length} bytes, got ${actual.length}`);
  }
  for (let index = 0; index < actual.length; index++) {
    if (actual[index] !== expected[index]) throw new AssertionError(`${what}: bytes differ at offset ${index}`);
  }
}

/**
 * Awaits `action` and asserts that it failed with an ArtifactStoreError of `code` (checked by
 * the `code` property, so it works across module copies). Returns the error for more checks.
 */
export async function assertRejectsWithCode(
  action: Promise<unknown> | (() => Promise<unknown>),
  code: string,
  what: string,
): Promise<Error & { code?: string }> {
  let outcome: unknown;
  try {
    outcome = await (typeof action === "function" ? action() : action);
  } catch (error) {
    const actualCode = (error as { code?: unknown }).code;
    if (actualCode !== code) {
      throw new AssertionError(`${what}: expected ${code}, got ${String(actualCode)} (${describeError(error)})`);
    }
    return error as Error & { code?: string };
  }
  throw new AssertionError(`${what}: expected ${code}, but it succeeded with ${render(outcome)}`);
}

/** Awaits `action` and asserts that it failed; returns the error. */
export async function assertRejects(
  action: Promise<unknown> | (() => Promise<unknown>),
  what: string,
): Promise<unknown> {
  try {
    await (typeof action === "function" ? action() : action);
  } catch (error) {
    return error;
  }
  throw new AssertionError(`${what}: expected a failure, but it succeeded`);
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function render(value: unknown): string {
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}

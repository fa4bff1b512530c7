/**
 * Test content that runs anywhere (Bun, Node, Deno, workerd: no imports), shared by the
 * runtime-specific helpers and the conformance cases.
 */

/** Compressible text shaped like a CI log. */
export function makeLog(lines: number, seed = 1): string {
  const out: string[] = [];
  let state = seed;
  for (let index = 0; index < lines; index++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const level = state % 17 === 0 ? "ERROR" : state % 5 === 0 ? "WARN" : "INFO";
    out.push(`2026-11-29T12:${String(index % 60).padStart(2, "0")}:00Z ${level} step ${index} took ${state % 1000} ms`);
  }
  return `${out.join("\n")}\n`;
}

/** Incompressible bytes. */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(length, offset + 65536)));
  }
  return bytes;
}

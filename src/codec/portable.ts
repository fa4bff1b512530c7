import { sha256 } from "@noble/hashes/sha2.js";
import { Gunzip, Gzip, gunzipSync, gzipSync } from "fflate";
import type { CodecEngines, Hasher } from "./engines.ts";

type DeflateLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** fflate's streaming Gzip inside a TransformStream: one gzip member, any runtime. */
export function createFflateGzip(level: number): TransformStream<Uint8Array, Uint8Array> {
  let gzip: Gzip;
  return new TransformStream({
    start(controller) {
      gzip = new Gzip({ level: level as DeflateLevel }, (chunk) => {
        if (chunk.length > 0) controller.enqueue(chunk);
      });
    },
    transform(chunk) {
      gzip.push(chunk, false);
    },
    flush() {
      gzip.push(new Uint8Array(0), true);
    },
  });
}

/** fflate's streaming Gunzip (multi-member aware) inside a TransformStream. */
export function createFflateGunzip(): TransformStream<Uint8Array, Uint8Array> {
  let gunzip: Gunzip;
  let received = 0;
  return new TransformStream({
    start(controller) {
      gunzip = new Gunzip((chunk) => {
        if (chunk.length > 0) controller.enqueue(chunk);
      });
    },
    transform(chunk) {
      received += chunk.length;
      gunzip.push(chunk, false);
    },
    flush() {
      if (received === 0) throw new Error("empty input is not gzip data");
      gunzip.push(new Uint8Array(0), true);
    },
  });
}

/**
 * Watches the start of a gzip stream for members that decode to nothing (`gzip("") +
 * gzip(data)`). Past the first decoded byte it stops: from there the last member's trailer
 * (ISIZE) differs from the whole content's size whenever there is more than one member, so the
 * watch costs the inflate of a few bytes per upload.
 *
 * @example
 * const watch = createLeadingMemberWatch();
 * for (const chunk of chunks) watch.push(chunk);
 * if (watch.sawSeveralMembers()) recompress();
 */
export function createLeadingMemberWatch(): { push(chunk: Uint8Array): void; sawSeveralMembers(): boolean } {
  let settled = false;
  let several = false;
  const gunzip = new Gunzip((chunk) => {
    if (chunk.length > 0) settled = true;
  });
  // fflate calls this for the second member onwards.
  gunzip.onmember = () => {
    several = true;
    settled = true;
  };
  return {
    push(chunk) {
      if (settled) return;
      try {
        gunzip.push(chunk, false);
      } catch {
        // Invalid gzip: the main decoder reports it.
        settled = true;
      }
    },
    sawSeveralMembers: () => several,
  };
}

/** Incremental SHA-256 from @noble/hashes. */
export function createNobleSha256(): Hasher {
  const hash = sha256.create();
  return {
    update(chunk) {
      hash.update(chunk);
    },
    digest() {
      return hash.digest();
    },
  };
}

/**
 * The engines that run everywhere (Bun, Node, Deno, Workers, browsers): fflate for gzip,
 * @noble/hashes for SHA-256. Pure JavaScript, so slower than native ones.
 */
export const portableEngines: CodecEngines = {
  name: "fflate+noble",
  createGzip: createFflateGzip,
  createGunzip: createFflateGunzip,
  createSha256: createNobleSha256,
  gzipSync: (data, level) => gzipSync(data, { level: level as DeflateLevel }),
  gunzipSync: (data) => gunzipSync(data),
};

/**
 * The fastest standard gzip and SHA-256 engines Bun and Node have, injected by the runtime
 * entries (`openArtifactStore`, the servers). They produce the same single-member gzip and the
 * same SHA-256 as the portable fflate + @noble/hashes engines; the throughput section of `npm run bench` shows the
 * figures that chose them.
 */
import { createHash } from "node:crypto";
import { Duplex } from "node:stream";
import { createGzip } from "node:zlib";
import type { CodecEngines, Hasher } from "../codec/engines.ts";

/** `CompressionStream`'s fixed level; other levels go through node:zlib with the level set. */
const COMPRESSION_STREAM_LEVEL = 6;

/**
 * The part of Bun's API used here, declared for this module so it type-checks without Bun's
 * types too (Deno and JSR check it as part of `openArtifactStore`'s graph).
 */
declare const Bun: {
  CryptoHasher: new (algorithm: "sha256") => { update(data: Uint8Array): unknown; digest(): unknown };
};

function nodeSha256(): Hasher {
  const hash = createHash("sha256");
  return {
    update(chunk) {
      hash.update(chunk);
    },
    digest() {
      return new Uint8Array(hash.digest());
    },
  };
}

function bunSha256(): Hasher {
  const hash = new Bun.CryptoHasher("sha256");
  return {
    update(chunk) {
      hash.update(chunk);
    },
    digest() {
      return new Uint8Array(hash.digest() as unknown as ArrayBufferLike);
    },
  };
}

function nativeGzip(level: number): TransformStream<Uint8Array, Uint8Array> {
  if (level === COMPRESSION_STREAM_LEVEL)
    return new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  return Duplex.toWeb(createGzip({ level })) as unknown as TransformStream<Uint8Array, Uint8Array>;
}

/**
 * Native engines of the running Bun or Node process.
 *
 * @example
 * const store = createArtifactStore({ backend, metadata, codecs: createNativeEngines() });
 */
export function createNativeEngines(): CodecEngines {
  const bun = typeof Bun !== "undefined";
  return {
    name: bun ? "bun-native (CompressionStream, Bun.CryptoHasher)" : "node-native (zlib, node:crypto)",
    createGzip: nativeGzip,
    // Decodes concatenated members and fails on truncated or trailing data, like fflate.
    createGunzip: () => new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    createSha256: bun ? bunSha256 : nodeSha256,
  };
}

/**
 * Compression and hashing engines. The core only ever talks to this interface, so each
 * runtime entry can inject the fastest engine it has (native zlib, Bun's CryptoHasher, …)
 * while fflate and @noble/hashes remain the portable engines that work everywhere.
 * Every engine must produce standard single-member gzip and standard SHA-256.
 */

/** Incremental hash. */
export interface Hasher {
  update(chunk: Uint8Array): void;
  /** Finishes the hash; the hasher must not be used afterwards. */
  digest(): Uint8Array;
}

export interface CodecEngines {
  /** Short description used in logs and benchmarks, e.g. `"fflate+noble"`. */
  readonly name: string;
  /** A stream that gzips its input into exactly one gzip member at `level` (1–9). */
  createGzip(level: number): TransformStream<Uint8Array, Uint8Array>;
  /**
   * A stream that gunzips its input. Concatenated members are decoded one after another;
   * invalid input errors the stream.
   */
  createGunzip(): TransformStream<Uint8Array, Uint8Array>;
  createSha256(): Hasher;
  /**
   * One-shot gzip of bytes in memory (one member). Optional: small artifacts skip the stream
   * machinery with it, whose set-up costs more than their compression.
   */
  gzipSync?(data: Uint8Array, level: number): Uint8Array;
  /** One-shot gunzip of a single member in memory; throws on damaged input. Optional, as above. */
  gunzipSync?(data: Uint8Array): Uint8Array;
}

/** Lowercase hex of a digest. */
export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Bytes of a lowercase or uppercase hex string; `null` when it is not 64 hex digits. */
export function sha256FromHex(hex: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return null;
  const bytes = new Uint8Array(32);
  for (let index = 0; index < 32; index++) bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}

/** Standard base64 of bytes (as in RFC 9530 digest fields). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

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
   * One-shot SHA-256 of bytes in memory, as lowercase hex. Optional: a small download verified
   * whole skips a hasher object with it (on Node ~1.2 µs for 1.5 KiB instead of ~2.6).
   */
  sha256Hex?(data: Uint8Array): string;
  /**
   * One-shot gzip of bytes in memory (one member). Optional: small artifacts skip the stream
   * machinery with it, whose set-up costs more than their compression.
   */
  gzipSync?(data: Uint8Array, level: number): Uint8Array;
  /** One-shot gunzip of a single member in memory; throws on damaged input. Optional, as above. */
  gunzipSync?(data: Uint8Array): Uint8Array;
}

/** Two hex digits of every byte value. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** Lowercase hex of a digest. */
export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (let index = 0; index < bytes.length; index++) hex += HEX_PAIRS[bytes[index] as number];
  return hex;
}

/** Lowercase hex SHA-256 of bytes in memory: the engines' one-shot call where they have one, else a hasher. */
export function sha256HexOf(codecs: CodecEngines, data: Uint8Array): string {
  if (codecs.sha256Hex) return codecs.sha256Hex(data);
  const hasher = codecs.createSha256();
  hasher.update(data);
  return toHex(hasher.digest());
}

/** The value of a hex digit's character code, or -1. */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 32;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** Bytes of a lowercase or uppercase hex string; `null` when it is not 64 hex digits. */
export function sha256FromHex(hex: string): Uint8Array | null {
  if (hex.length !== 64) return null;
  const bytes = new Uint8Array(32);
  for (let index = 0; index < 32; index++) {
    const high = hexDigit(hex.charCodeAt(index * 2));
    const low = hexDigit(hex.charCodeAt(index * 2 + 1));
    if (high < 0 || low < 0) return null;
    bytes[index] = high * 16 + low;
  }
  return bytes;
}

/** Standard base64 of bytes (as in RFC 9530 digest fields). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

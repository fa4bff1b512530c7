/** Cloud Storage accepts non-final resumable chunks only in multiples of 256 KiB. */
export const CHUNK_GRANULARITY = 256 * 1024;

export interface ChunkBuffer {
  readonly length: number;
  /** Copies as much of `chunk` as fits; returns how many bytes it took. */
  append(chunk: Uint8Array): number;
  /** The bytes held, without a copy. */
  view(): Uint8Array<ArrayBuffer>;
  /** Empties the buffer (its memory is kept for the next chunk). */
  reset(): void;
}

/** Up to `limit` bytes, grown by doubling so small bodies never allocate a whole chunk. */
export function createChunkBuffer(limit: number, hint: number | undefined): ChunkBuffer {
  let bytes = new Uint8Array(Math.min(limit, Math.max(64 * 1024, hint ?? 0)));
  let length = 0;
  return {
    get length() {
      return length;
    },
    append(chunk: Uint8Array): number {
      const take = Math.min(limit - length, chunk.length);
      if (length + take > bytes.length) {
        let capacity = bytes.length;
        while (capacity < length + take) capacity *= 2;
        const grown = new Uint8Array(Math.min(limit, capacity));
        grown.set(bytes.subarray(0, length));
        bytes = grown;
      }
      bytes.set(chunk.subarray(0, take), length);
      length += take;
      return take;
    },
    view(): Uint8Array<ArrayBuffer> {
      return bytes.subarray(0, length);
    },
    reset() {
      length = 0;
    },
  };
}

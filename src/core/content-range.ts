/** Byte ranges of a version's decoded content, as downloads and the HTTP Range header ask for them. */
import { ArtifactStoreError } from "../contracts/errors.ts";

/** A byte range of the decoded content: from `offset` (`length` bytes), or the last `suffixLength` bytes. */
export type ContentRange = { offset: number; length?: number } | { suffixLength: number };

/** Inclusive bounds of a range within `size` bytes, or `E_RANGE`. */
export function resolveContentRange(range: ContentRange, size: number): { start: number; end: number } {
  if ("suffixLength" in range) {
    if (!Number.isSafeInteger(range.suffixLength) || range.suffixLength < 1 || size === 0) throw rangeError(size);
    return { start: Math.max(0, size - range.suffixLength), end: size - 1 };
  }
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size) throw rangeError(size);
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 1)) throw rangeError(size);
  return { start: offset, end: length === undefined ? size - 1 : Math.min(size - 1, offset + length - 1) };
}

function rangeError(size: number): ArtifactStoreError {
  return new ArtifactStoreError("E_RANGE", `requested range is not satisfiable for content of ${size} bytes`, {
    details: { size },
  });
}

/**
 * The structure the store extracts from artifacts while they upload: what a reviewer asks
 * first (which files, how many errors, which tests failed) without downloading the content.
 * Extraction never fails an upload: content it cannot read is stored and flagged `parseError`.
 * The records themselves (summaries, diff files, test cases) are contracts the metadata database
 * stores too: they live in `src/contracts/structure.ts`, re-exported here for the extractors.
 */
import type { ExtractedStructure } from "../../contracts/structure.ts";

export type * from "../../contracts/structure.ts";

/** A streaming extractor: sees each decoded chunk once, keeps bounded state. Never throws. */
export interface StructureExtractor {
  write(chunk: Uint8Array): void;
  /** `truncated`: the content went on past the extraction cap (a document may look cut off). */
  finish(truncated?: boolean): ExtractedStructure;
}

export interface ExtractionOptions {
  /** Extract at upload (default true). */
  enabled?: boolean;
  /** Content bytes read at most per artifact (default 128 MiB); the rest is stored unread and the summary says `truncated`. */
  maxBytes?: number;
}

/** Bounds on what one artifact's structure may hold. */
export const LIMITS = {
  maxBytes: 128 * 1024 * 1024,
  files: 10_000,
  tests: 50_000,
  message: 8192,
  output: 4096,
  commits: 200,
  name: 512,
  path: 4096,
  firstErrors: 20,
  errorText: 300,
} as const;

/** Cuts a string to `max` characters. */
export function cap(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Picks the extractor for an artifact type and enforces what every extractor promises: it
 * reads at most `maxBytes` of content, never throws into the upload, and turns any failure to
 * read the content into a stored `parseError`.
 */
import { createDiffExtractor } from "./diff.ts";
import { createJsonReportReader } from "./json-reports.ts";
import { createJunitReader } from "./junit.ts";
import { createLogExtractor } from "./log.ts";
import { createTapReader, looksLikeTap } from "./tap.ts";
import { createTestCollector } from "./test-collector.ts";
import {
  type ExtractedStructure,
  type ExtractionOptions,
  LIMITS,
  type StructureExtractor,
  type TestReportFormat,
} from "./types.ts";

/** The built-in types that have structure. */
const EXTRACTORS: Record<string, () => StructureExtractor> = {
  diff: createDiffExtractor,
  log: createLogExtractor,
  test: createTestReportExtractor,
};

/**
 * The extractor for `typeName`, or undefined when the type has no structure or extraction is off.
 *
 * @example
 * const extractor = createStructureExtractor("log");
 * extractor?.write(new TextEncoder().encode("ERROR boom\n"));
 * extractor?.finish().summary; // { kind: "log", lines: 1, errors: 1, … }
 */
export function createStructureExtractor(
  typeName: string,
  options: ExtractionOptions = {},
): StructureExtractor | undefined {
  if (options.enabled === false) return undefined;
  const create = EXTRACTORS[typeName];
  if (!create) return undefined;
  return guarded(create(), options.maxBytes ?? LIMITS.maxBytes);
}

/** Caps the bytes read and catches every failure: the upload goes on whatever the content is. */
function guarded(inner: StructureExtractor, maxBytes: number): StructureExtractor {
  let examined = 0;
  let truncated = false;
  let failure: string | null = null;
  return {
    write(chunk) {
      if (failure !== null || truncated) return;
      let piece = chunk;
      if (examined + chunk.length > maxBytes) {
        piece = chunk.subarray(0, Math.max(0, maxBytes - examined));
        truncated = true;
      }
      examined += piece.length;
      try {
        if (piece.length > 0) inner.write(piece);
      } catch (error) {
        failure = describe(error);
      }
    },
    finish(): ExtractedStructure {
      let result: ExtractedStructure | undefined;
      try {
        result = inner.finish(truncated);
      } catch (error) {
        failure ??= describe(error);
      }
      result ??= (inner as { partial?: () => ExtractedStructure }).partial?.();
      if (!result) throw new Error("extractor gave no result");
      const summary = { ...result.summary, bytesExamined: examined };
      summary.truncated ||= truncated;
      if (failure !== null) summary.parseError = summary.parseError ?? failure;
      return { ...result, summary };
    },
  };
}

/**
 * The text after the lines a package manager prints before a script's own output (`> app@1.0.0
 * test` and `> vitest run --reporter=json` from npm and pnpm, `yarn run v1.22.19` and `$ jest
 * --json` from yarn), so `npm test -- --json > report.json` still reads as JSON. Null while a
 * banner line has not ended yet.
 */
function withoutBanner(start: string): string | null {
  let rest = start;
  while (/^(?:> |\$ |yarn run v)/.test(rest)) {
    const newline = rest.indexOf("\n");
    if (newline === -1) return null;
    rest = rest.slice(newline + 1).trimStart();
  }
  return rest;
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}

/** Test reports: the format is told from the first characters, then one reader takes over. */
function createTestReportExtractor(): StructureExtractor & { partial(): ExtractedStructure } {
  const collector = createTestCollector();
  const decoder = new TextDecoder("utf-8");
  let head = "";
  let reader: {
    write(text: string): void;
    end(): void;
    format?: () => TestReportFormat | null;
    abandon?: () => void;
  } | null = null;
  let format: TestReportFormat | null = null;
  let json = false;
  let bytes = 0;
  let failure: string | null = null;

  const choose = (start: string) => {
    if (start.startsWith("<")) return createJunitReader(collector);
    if (start.startsWith("{") || start.startsWith("[")) {
      json = true;
      return createJsonReportReader(collector);
    }
    if (looksLikeTap(start)) {
      format = "tap";
      const tap = createTapReader(collector);
      const encoder = new TextEncoder();
      return { write: (text: string) => tap.write(encoder.encode(text)), end: () => tap.end() };
    }
    throw new Error(
      "not a recognised test report: expected JUnit XML, Jest/Vitest JSON, pytest-json-report, CTRF JSON or TAP",
    );
  };

  const feed = (text: string) => {
    if (reader) {
      reader.write(text);
      return;
    }
    head += text;
    const start = withoutBanner(head.replace(/^\uFEFF/, "").trimStart());
    if (start === null && head.length < 4096) return; // a banner line not complete yet
    if (start !== null && start.length < 16 && head.length < 4096) return; // wait to see how it starts
    if (start === null) throw new Error("a report that starts with more than 4 KiB of npm banner lines");
    reader = choose(start);
    head = "";
    reader.write(start);
  };

  const result = (): ExtractedStructure => {
    const reportFormat = reader?.format?.() ?? format;
    if (json && reportFormat === null && failure === null) {
      failure = "JSON that is not a Jest/Vitest, pytest-json-report or CTRF report";
    }
    return {
      summary: collector.summary(reportFormat, { bytesExamined: bytes, parseError: failure, truncated: false }),
      files: [],
      tests: collector.tests,
    };
  };

  return {
    write(chunk) {
      bytes += chunk.length;
      try {
        feed(decoder.decode(chunk, { stream: true }));
      } catch (error) {
        failure = describe(error);
        throw error;
      }
    },
    finish(truncated) {
      if (failure !== null) return result(); // the reader stopped at the first malformed part
      try {
        const rest = decoder.decode();
        if (rest) feed(rest);
        if (!reader) {
          const start = withoutBanner(head.replace(/^\uFEFF/, "").trimStart()) ?? "";
          if (start.length === 0) throw new Error("empty test report");
          reader = choose(start);
          reader.write(start);
        }
        // A document cut off by the extraction cap is not malformed: `truncated` says why it ended early.
        if (truncated) reader.abandon?.();
        else reader.end();
      } catch (error) {
        failure = describe(error);
      }
      return result();
    },
    partial: result,
  };
}

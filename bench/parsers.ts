/**
 * The hand-written streaming readers (src/core/structure/xml-stream.ts, json-stream.ts) against
 * well-kept streaming parsers (saxes for XML, @streamparser/json for JSON): the same events on
 * every XML and JSON report of the corpus and the fixtures, how malformed input is met, speed on
 * a 16 MiB report fed in 64 KiB pieces, and what each adds to a minified, gzipped bundle.
 *
 * The other parsers are not dependencies of the project; install them anywhere and point here:
 *   npm install --prefix /tmp/parser-bench saxes @streamparser/json
 *   bun bench/parsers.ts --from /tmp/parser-bench
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { createJsonReader, type JsonScalar } from "../src/core/structure/json-stream.ts";
import { createXmlReader } from "../src/core/structure/xml-stream.ts";

const { values } = parseArgs({
  options: { from: { type: "string", default: "/tmp/parser-bench" }, mib: { type: "string", default: "16" } },
});
const from = values.from as string;
const targetBytes = Number(values.mib) * 1024 * 1024;
const root = join(import.meta.dir, "..");
interface SaxesLike {
  on(event: "opentag" | "closetag", handler: (node: { name: string; attributes: unknown }) => void): void;
  on(event: "text" | "cdata", handler: (text: string) => void): void;
  on(event: "error", handler: (error: Error) => void): void;
  write(text: string): void;
  close(): void;
}
const { SaxesParser } = (await import(join(from, "node_modules/saxes/saxes.js"))) as {
  SaxesParser: new () => SaxesLike;
};
const { JSONParser } = (await import(join(from, "node_modules/@streamparser/json/dist/mjs/index.js"))) as {
  JSONParser: new (
    options?: Record<string, unknown>,
  ) => {
    onValue: (info: {
      value: unknown;
      key: string | number | undefined;
      stack: { key: string | number | undefined }[];
    }) => void;
    onError: (error: Error) => void;
    write(text: string): void;
    end(): void;
    readonly isEnded: boolean;
  };
};

const CHUNK = 64 * 1024;
const pieces = (text: string) =>
  Array.from({ length: Math.ceil(text.length / CHUNK) }, (_, i) => text.slice(i * CHUNK, (i + 1) * CHUNK));

function reportFiles(extension: RegExp): string[] {
  const dirs = [
    join(root, "test/corpus/real/junit"),
    join(root, "test/corpus/real/json"),
    join(root, "test/corpus/real/other"),
    join(root, "test/structure/fixtures"),
  ];
  return dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => extension.test(name))
      .map((name) => join(dir, name)),
  );
}

// ---------- XML: events from each reader
type XmlEvent = string;
function oursXml(text: string): XmlEvent[] | Error {
  const events: XmlEvent[] = [];
  let buffer = "";
  const flush = () => {
    if (buffer) events.push(`text ${JSON.stringify(buffer)}`);
    buffer = "";
  };
  try {
    const reader = createXmlReader({
      open(name, attributes) {
        flush();
        events.push(`open ${name} ${JSON.stringify(Object.entries(attributes).sort())}`);
      },
      close(name) {
        flush();
        events.push(`close ${name}`);
      },
      text(chunk) {
        buffer += chunk;
      },
    });
    for (const piece of pieces(text)) reader.write(piece);
    reader.end();
    flush();
    return events;
  } catch (error) {
    return error as Error;
  }
}

function saxesXml(text: string): XmlEvent[] | Error {
  const events: XmlEvent[] = [];
  let buffer = "";
  let failure: Error | null = null;
  const flush = () => {
    if (buffer) events.push(`text ${JSON.stringify(buffer)}`);
    buffer = "";
  };
  const parser = new SaxesParser();
  parser.on("opentag", (node) => {
    flush();
    events.push(
      `open ${node.name} ${JSON.stringify(Object.entries(node.attributes as Record<string, string>).sort())}`,
    );
  });
  parser.on("closetag", (node) => {
    flush();
    events.push(`close ${node.name}`);
  });
  parser.on("text", (chunk) => {
    buffer += chunk;
  });
  parser.on("cdata", (chunk) => {
    buffer += chunk;
  });
  parser.on("error", (error) => {
    failure ??= error;
  });
  for (const piece of pieces(text)) parser.write(piece);
  parser.close();
  flush();
  return failure ?? events;
}

// ---------- JSON: scalar values with their paths
function oursJson(text: string): string[] | Error {
  const values: string[] = [];
  try {
    const reader = createJsonReader(
      {
        open() {},
        close() {},
        value: (path, value: JsonScalar) => values.push(`${path.join(".")}=${JSON.stringify(value)}`),
      },
      1 << 30,
    );
    for (const piece of pieces(text)) reader.write(piece);
    reader.end();
    return values.sort();
  } catch (error) {
    return error as Error;
  }
}

function streamparserJson(text: string): string[] | Error {
  const values: string[] = [];
  let failure: Error | null = null;
  const parser = new JSONParser({ emitPartialValues: false, keepStack: false });
  parser.onValue = ({ value, key, stack }) => {
    if (value !== null && typeof value === "object") return;
    const path = [...stack.slice(1).map((entry) => entry.key), key].filter((part) => part !== undefined);
    values.push(`${path.join(".")}=${JSON.stringify(value)}`);
  };
  parser.onError = (error) => {
    failure ??= error;
  };
  try {
    for (const piece of pieces(text)) parser.write(piece);
    // It ends by itself once the top-level value is complete; end() then would be an error.
    if (!parser.isEnded) parser.end();
  } catch (error) {
    failure ??= error as Error;
  }
  return failure ?? values.sort();
}

function compare<T>(name: string, files: string[], a: (text: string) => T[] | Error, b: (text: string) => T[] | Error) {
  let same = 0;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const left = a(text);
    const right = b(text);
    if (left instanceof Error || right instanceof Error) {
      console.log(
        `  ${file.slice(root.length + 1)}: ${left instanceof Error ? `ours: ${left.message}` : "ours: ok"} | ${right instanceof Error ? `${name}: ${right.message}` : `${name}: ok`}`,
      );
      continue;
    }
    if (JSON.stringify(left) === JSON.stringify(right)) same++;
    else {
      const index = left.findIndex((event, i) => JSON.stringify(event) !== JSON.stringify(right[i]));
      console.log(
        `  ${file.slice(root.length + 1)} differs at event ${index}: ours ${JSON.stringify(left[index])} | ${name} ${JSON.stringify(right[index])}`,
      );
    }
  }
  console.log(`  same events on ${same} of ${files.length} files`);
}

console.log("XML: hand-written reader vs saxes on the corpus and fixtures");
compare("saxes", reportFiles(/\.(xml|trx)$/), oursXml, saxesXml);
console.log("JSON: hand-written reader vs @streamparser/json on the corpus and fixtures");
compare("@streamparser/json", reportFiles(/\.json$/), oursJson, streamparserJson);

console.log("Malformed input (a reader must refuse it, not report something else):");
const broken: [string, string][] = [
  ["XML cut off", "<testsuite><testcase name='a'>"],
  ["XML mismatched close", "<testsuite><testcase></testsuite></testcase>"],
  ["XML attribute without quotes", "<testsuite><testcase name=a/></testsuite>"],
  ["XML two roots", "<testsuite/><testsuite/>"],
  ["JSON cut off", '{"testResults":[{"name":"a"'],
  ["JSON trailing comma", '{"a":[1,2,]}'],
  ["JSON bad literal", '{"a":tru}'],
];
for (const [label, text] of broken) {
  const ours = label.startsWith("XML") ? oursXml(text) : oursJson(text);
  const theirs = label.startsWith("XML") ? saxesXml(text) : streamparserJson(text);
  console.log(
    `  ${label.padEnd(30)} ours: ${ours instanceof Error ? "refused" : "ACCEPTED"}   ${label.startsWith("XML") ? "saxes" : "@streamparser/json"}: ${theirs instanceof Error ? "refused" : "ACCEPTED"}`,
  );
}

// ---------- speed on a large report
function bigJunit(): string {
  const parts = ['<?xml version="1.0"?><testsuites>'];
  let size = 0;
  for (let suite = 0; size < targetBytes; suite++) {
    parts.push(`<testsuite name="suite &amp; ${suite}">`);
    for (let test = 0; test < 50; test++) {
      const row =
        test % 9 === 0
          ? `<testcase classname="pkg.Suite${suite}" name="case ${test} &lt;x&gt;" time="0.0${test}"><failure message="expected 1 == 2"><![CDATA[AssertionError: expected 1 == 2\n    at Suite${suite}.test(${test}.js:1:1)\n]]></failure><system-out>log line ${test}\n</system-out></testcase>`
          : `<testcase classname="pkg.Suite${suite}" name="case ${test}" time="0.0${test}"/>`;
      parts.push(row);
      size += row.length;
    }
    parts.push("</testsuite>");
  }
  parts.push("</testsuites>");
  return parts.join("");
}

function bigJest(): string {
  const files: string[] = [];
  let size = 0;
  for (let file = 0; size < targetBytes; file++) {
    const tests = Array.from({ length: 50 }, (_, test) =>
      JSON.stringify({
        ancestorTitles: [`suite ${file}`],
        title: `case ${test} \u00e9\u4e2d`,
        status: test % 9 === 0 ? "failed" : "passed",
        duration: test,
        failureMessages: test % 9 === 0 ? [`Error: expected 1 to be 2\n    at ${file}.test.js:${test}:1`] : [],
      }),
    );
    const entry = `{"name":"/w/${file}.test.js","status":"passed","assertionResults":[${tests.join(",")}]}`;
    files.push(entry);
    size += entry.length;
  }
  return `{"numTotalTests":${files.length * 50},"testResults":[${files.join(",")}]}`;
}

function time(label: string, text: string, run: (text: string) => unknown, runs = 5) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = run(text);
    samples.push(performance.now() - start);
    if (result instanceof Error) throw result;
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)] as number;
  console.log(
    `  ${label.padEnd(34)} ${median.toFixed(0).padStart(6)} ms  ${(text.length / 1024 / 1024 / (median / 1000)).toFixed(0).padStart(4)} MiB/s`,
  );
}

const noopXml = (text: string) => {
  const reader = createXmlReader({ open() {}, close() {}, text() {} });
  for (const piece of pieces(text)) reader.write(piece);
  reader.end();
};
const noopSaxes = (text: string) => {
  const parser = new SaxesParser();
  let failure: Error | null = null;
  parser.on("opentag", () => {});
  parser.on("closetag", () => {});
  parser.on("text", () => {});
  parser.on("cdata", () => {});
  parser.on("error", (error) => {
    failure = error;
  });
  for (const piece of pieces(text)) parser.write(piece);
  parser.close();
  return failure;
};
const noopJson = (text: string) => {
  const reader = createJsonReader({ open() {}, close() {}, value() {} }, 8192);
  for (const piece of pieces(text)) reader.write(piece);
  reader.end();
};
const noopStreamparser = (text: string) => {
  const parser = new JSONParser({ paths: ["$.testResults.*.assertionResults.*"], keepStack: false });
  parser.onValue = () => {};
  for (const piece of pieces(text)) parser.write(piece);
  if (!parser.isEnded) parser.end();
};

const junitText = bigJunit();
const jestText = bigJest();
console.log(
  `Speed (median of 5, ${(junitText.length / 1024 / 1024).toFixed(0)} MiB JUnit, ${(jestText.length / 1024 / 1024).toFixed(0)} MiB Jest JSON, 64 KiB pieces):`,
);
time("XML hand-written", junitText, noopXml);
time("XML saxes", junitText, noopSaxes);
time("JSON hand-written", jestText, noopJson);
time("JSON @streamparser/json", jestText, noopStreamparser);

// ---------- bundle size
const dir = await mkdtemp(join(tmpdir(), "bench-parsers-"));
try {
  const entries: [string, string][] = [
    [
      "XML hand-written",
      `export { createXmlReader } from ${JSON.stringify(join(root, "src/core/structure/xml-stream.ts"))};`,
    ],
    ["XML saxes", `export { SaxesParser } from ${JSON.stringify(join(from, "node_modules/saxes/saxes.js"))};`],
    [
      "JSON hand-written",
      `export { createJsonReader } from ${JSON.stringify(join(root, "src/core/structure/json-stream.ts"))};`,
    ],
    [
      "JSON @streamparser/json",
      `export { JSONParser } from ${JSON.stringify(join(from, "node_modules/@streamparser/json/dist/mjs/index.js"))};`,
    ],
  ];
  console.log("Bundle (esbuild --bundle --minify, ESM):");
  for (const [label, source] of entries) {
    const entry = join(dir, `${label.replace(/\W+/g, "-")}.ts`);
    await writeFile(entry, source);
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: "esm",
      write: false,
      platform: "neutral",
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    console.log(
      `  ${label.padEnd(34)} ${(code.length / 1024).toFixed(1).padStart(6)} KiB minified, ${(gzipSync(code).length / 1024).toFixed(1).padStart(5)} KiB gzipped`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

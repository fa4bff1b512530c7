/**
 * Redaction, measured: recall per rule on a generated log with fake secrets of every rule
 * planted in log lines, diffs, JSON and XML (line starts and ends, ANSI colours), streamed in
 * 64 KiB chunks and sent as gzip cut into members inside secrets; precision per rule on the
 * clean corpus (test/corpus/); and the cost of a 64 MiB log upload with redaction on against
 * the same upload with it off, in the same run.
 *
 * Usage: bun bench/redaction.ts [--recall-mib 100] [--upload-mib 64] [--rounds 3] [--on-mode mask|flag]
 *        [--json out.json]
 */
import { createReadStream, createWriteStream, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import { createRedaction, DEFAULT_REDACTION } from "../src/core/redaction/settings.ts";
import { openArtifactStore } from "../src/runtime/local.ts";
import {
  createRandom,
  envValueSecret,
  FAKE_SECRET_MAKERS,
  type FakeSecret,
  FIXED_SHAPE_RULES,
  logLine,
  plant,
} from "../test/helpers/fake-secrets.ts";

const MIB = 1024 * 1024;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}

interface RecallRow {
  rule: string;
  planted: number;
  found: number;
  foundGzip: number;
}

/** Plants one secret every ~40 lines, cycling through every rule (generic included) and an env value. */
function generateRecallCorpus(bytes: number) {
  const random = createRandom(100);
  const env = envValueSecret(random);
  const rules = [...FIXED_SHAPE_RULES, "generic-secret"];
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  const expectedParts: Uint8Array[] = [];
  const planted = new Map<string, number>();
  const cuts: number[] = [];
  let size = 0;
  let turn = 0;
  while (size < bytes) {
    const lines: string[] = [];
    const expected: string[] = [];
    for (let index = 0; index < 400; index++) {
      if (index % 40 === 20) {
        const rule = turn % 11 === 0 ? env.rule : (rules[turn % rules.length] as string);
        turn++;
        const secret = rule === env.rule ? env : (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
        const line = plant(random, secret);
        const asWritten = line.includes(secret.secret) ? secret.secret : secret.secret.replace(/\n/g, "\\n");
        // A gzip member ends inside this secret now and then.
        if (turn % 7 === 0)
          cuts.push(size + encoder.encode(`${lines.join("\n")}\n`).length + line.indexOf(asWritten) + 5);
        lines.push(line);
        expected.push(line.replace(asWritten, `[REDACTED:${rule}]`));
        planted.set(rule, (planted.get(rule) ?? 0) + 1);
      } else {
        const line = logLine(random);
        lines.push(line);
        expected.push(line);
      }
    }
    const chunk = encoder.encode(`${lines.join("\n")}\n`);
    parts.push(chunk);
    expectedParts.push(encoder.encode(`${expected.join("\n")}\n`));
    size += chunk.length;
  }
  return { content: Buffer.concat(parts), expected: Buffer.concat(expectedParts), planted, env, cuts };
}

function scanAll(chunks: Iterable<Uint8Array>, values: { rule: string; value: string }[]) {
  const scanner = createRedaction(DEFAULT_REDACTION, values).scannerFor("log");
  if (!scanner) throw new Error("redaction off");
  const out: Uint8Array[] = [];
  for (const chunk of chunks) out.push(scanner.write(chunk));
  out.push(scanner.end());
  return { output: Buffer.concat(out), findings: new Map(scanner.findings().map((f) => [f.rule, f.count])) };
}

function* sliced(bytes: Uint8Array, size: number) {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

/** The body a client would send as `Content-Encoding: gzip`: members cut inside secrets, decoded as a server does. */
function* gzipMembersDecoded(content: Buffer, cuts: number[]) {
  let from = 0;
  for (const cut of [...cuts, content.length]) {
    if (cut <= from) continue;
    const member = gzipSync(content.subarray(from, cut), { level: 1 });
    // A decoder hands out the members' bytes in its own pieces: 16 KiB here.
    yield* sliced(gunzipSync(member), 16 * 1024);
    from = cut;
  }
}

function recall(mib: number): { rows: RecallRow[]; identical: boolean; identicalGzip: boolean; seconds: number } {
  const corpus = generateRecallCorpus(mib * MIB);
  const values = [{ rule: corpus.env.rule, value: corpus.env.value }];
  const started = performance.now();
  const plain = scanAll(sliced(corpus.content, 64 * 1024), values);
  const seconds = (performance.now() - started) / 1000;
  const gzip = scanAll(gzipMembersDecoded(corpus.content, corpus.cuts), values);
  const rows = [...corpus.planted].map(([rule, planted]) => ({
    rule,
    planted,
    found: plain.findings.get(rule) ?? 0,
    foundGzip: gzip.findings.get(rule) ?? 0,
  }));
  return {
    rows,
    identical: plain.output.equals(corpus.expected),
    identicalGzip: gzip.output.equals(corpus.expected),
    seconds,
  };
}

function precision(): { files: number; byRule: Record<string, number> } {
  const roots = ["../test/corpus/real", "../test/corpus/redaction"].map((path) => join(import.meta.dir, path));
  const files = roots.flatMap((root) =>
    readdirSync(root, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && !entry.name.endsWith(".md"))
      .map((entry) => join(entry.parentPath, entry.name)),
  );
  const byRule: Record<string, number> = {};
  for (const file of files) {
    const { findings } = scanAll([readFileSync(file)], []);
    for (const [rule, count] of findings) byRule[rule] = (byRule[rule] ?? 0) + count;
  }
  return { files: files.length, byRule };
}

/** The fs-store bench's CI-log-like text. */
async function writeLog(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  let written = 0;
  let line = 0;
  while (written < size) {
    const lines: string[] = [];
    for (let index = 0; index < 500; index++, line++) {
      lines.push(
        `2026-11-29T12:00:${String(line % 60).padStart(2, "0")}Z INFO step ${line} compiled module_${line % 977}.ts in ${(line * 7919) % 1000} ms\n`,
      );
    }
    const chunk = Buffer.from(lines.join("")).subarray(0, size - written);
    written += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

async function uploadCost(mib: number, rounds: number) {
  const workDir = await mkdtemp(join(tmpdir(), "redaction-bench-"));
  try {
    const source = join(workDir, "log.txt");
    await writeLog(source, mib * MIB);
    const open = (mode: string, name: string) =>
      openArtifactStore({
        path: null,
        env: {},
        overrides: { base_path: join(workDir, name), redaction: { mode } },
      });
    const stores = { off: await open("off", "off"), on: await open(option("on-mode", "mask"), "on") };
    // The scanner alone on the same log (what the upload adds on its thread), per CPU second.
    const log = readFileSync(source);
    const scannerCpu: number[] = [];
    for (let round = 0; round < 3; round++) {
      const scanner = createRedaction(DEFAULT_REDACTION, []).scannerFor("log");
      const cpuStarted = process.cpuUsage();
      for (const chunk of sliced(log, 64 * 1024)) scanner?.write(chunk);
      scanner?.end();
      const cpu = process.cpuUsage(cpuStarted);
      scannerCpu.push((cpu.user + cpu.system) / 1e6);
    }
    const seconds: Record<"on" | "off", number[]> = { on: [], off: [] };
    // CPU seconds of the whole process (every thread, gzip workers included): on a shared,
    // loaded machine wall time swings with the neighbours, the CPU an upload costs does not.
    const cpuSeconds: Record<"on" | "off", number[]> = { on: [], off: [] };
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        await stores[mode].upload({
          specName: "bench",
          taskId: `r${round}`,
          type: "log",
          content: Readable.toWeb(createReadStream(source)) as unknown as ReadableStream<Uint8Array>,
        });
        seconds[mode].push((performance.now() - started) / 1000);
        const cpu = process.cpuUsage(cpuStarted);
        cpuSeconds[mode].push((cpu.user + cpu.system) / 1e6);
      }
    }
    await stores.off.close();
    await stores.on.close();
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const offMBs = (mib * MIB) / 1e6 / median(seconds.off);
    const onMBs = (mib * MIB) / 1e6 / median(seconds.on);
    const cpuRatio = median(cpuSeconds.off) / median(cpuSeconds.on);
    const scannerMBs = (mib * MIB) / 1e6 / median(scannerCpu);
    return { mib, rounds, seconds, cpuSeconds, offMBs, onMBs, ratio: onMBs / offMBs, cpuRatio, scannerMBs };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

const recallMib = Number(option("recall-mib", "100"));
const uploadMib = Number(option("upload-mib", "64"));
const rounds = Number(option("rounds", "3"));

const recalled = recall(recallMib);
const precise = precision();
const cost = await uploadCost(uploadMib, rounds);

const FIXED = new Set([...FIXED_SHAPE_RULES]);
console.log(
  `\nRecall on a ${recallMib} MiB generated log (64 KiB chunks; and as gzip cut into members inside secrets)`,
);
console.log(
  `scanner alone: ${((recallMib * MIB) / 1e6 / recalled.seconds).toFixed(0)} MB/s; masked output equals the expected text: ${recalled.identical} (gzip: ${recalled.identicalGzip})`,
);
console.table(
  recalled.rows
    .sort((a, b) => a.rule.localeCompare(b.rule))
    .map((row) => ({
      rule: row.rule,
      class: FIXED.has(row.rule) ? "fixed shape" : row.rule.startsWith("env:") ? "by value" : "generic",
      planted: row.planted,
      recall: `${((100 * row.found) / row.planted).toFixed(1)} %`,
      "recall (gzip)": `${((100 * row.foundGzip) / row.planted).toFixed(1)} %`,
      "findings on clean corpus": precise.byRule[row.rule] ?? 0,
    })),
);
console.log(
  `Precision: ${precise.files} real clean files (test/corpus/), findings in mask mode: ${JSON.stringify(precise.byRule)} (generic-secret: ${precise.byRule["generic-secret"] ?? 0})`,
);
console.log(
  `\nCost: ${uploadMib} MiB log upload, fs backend, native engines, median of ${rounds}: off ${cost.offMBs.toFixed(1)} MB/s, mask ${cost.onMBs.toFixed(1)} MB/s, ratio ${cost.ratio.toFixed(3)} (target >= 0.9); CPU seconds per upload off ${Math.min(...cost.cpuSeconds.off).toFixed(2)}-${Math.max(...cost.cpuSeconds.off).toFixed(2)}, mask ${Math.min(...cost.cpuSeconds.on).toFixed(2)}-${Math.max(...cost.cpuSeconds.on).toFixed(2)}: throughput per CPU second ratio ${cost.cpuRatio.toFixed(3)}`,
);
console.log(
  `Scanner alone on that log (64 KiB chunks, no secrets): ${cost.scannerMBs.toFixed(0)} MB per CPU second (median of 3)`,
);
const jsonPath = option("json", "");
if (jsonPath) await writeFile(jsonPath, JSON.stringify({ recall: recalled, precision: precise, cost }, null, 2));

/**
 * The CLI's commands that act on a store (local or `--server`): one function each, listed in
 * {@link STORE_COMMANDS}. Output goes to stdout (`--json` for scripts), progress and notes to
 * stderr.
 */
import { createHash } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseDuration } from "../config/section.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import { parseSearchParameters, SEARCH_PARAMETERS } from "../contracts/http-parameters.ts";
import { formatBytes } from "../core/format.ts";
import { parseMeta, parsePositive, requireRef, UsageError, type Values } from "./cli-args.ts";
import { type CliTarget, sourceSize } from "./cli-target.ts";
import { createProgress } from "./progress.ts";

/** What every command gets: parsed options, the positional arguments after the command, the store. */
export interface CommandInput {
  values: Values;
  positionals: string[];
  target: CliTarget;
}

type Command = (input: CommandInput) => Promise<number>;

/** Prints `human`, or `json` with --json. */
function printer(values: Values) {
  return (human: string, json: unknown) =>
    process.stdout.write(`${values.json ? JSON.stringify(json, null, 2) : human}\n`);
}

async function upload({ values, positionals, target }: CommandInput): Promise<number> {
  const print = printer(values);
  if (positionals.length > 1) {
    throw new UsageError(
      `upload takes one file, got ${positionals.length}: each run stores one version of --spec/--task/--type`,
    );
  }
  const [source] = positionals;
  if (!source) throw new UsageError("name the file to upload, or - for standard input");
  const ref = requireRef(values, false);
  const size = await sourceSize(source).catch(() => {
    throw new UsageError(`cannot read ${source}`);
  });
  const progress = createProgress(`uploading ${source === "-" ? "stdin" : source}`, size);
  const result = await target
    .upload({
      ref,
      source,
      tags: values.tag ?? [],
      metadata: parseMeta(values.meta ?? []),
      ...(values.sha256 ? { expectedChecksum: values.sha256 } : {}),
      onProgress: progress.update,
    })
    .finally(progress.done);
  for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
  print(result.uri, result);
  if (!values.json && process.stderr.isTTY) {
    process.stderr.write(
      `stored ${result.specName}/${result.taskId}/${result.type} v${result.version}: ${formatBytes(result.originalSize)}` +
        `${result.compressed ? ` (${formatBytes(result.size)} gzip)` : ""}, sha256 ${result.originalChecksum}\n`,
    );
  }
  return 0;
}

/** The search flags are the API's search parameters (contracts/http-parameters.ts) with `--` in front. */
function searchFlags(values: Values): URLSearchParams {
  const query = new URLSearchParams();
  for (const { name } of SEARCH_PARAMETERS) {
    const value = (values as Record<string, unknown>)[name];
    if (typeof value === "string") query.append(name, value);
    else if (Array.isArray(value)) for (const item of value) query.append(name, String(item));
    else if (value === true) query.append(name, "1");
  }
  return query;
}

async function search({ values, target }: CommandInput): Promise<number> {
  const print = printer(values);
  // A usage error (exit code 2) names the flag; the rest is the API's own parsing.
  if (values.limit) parsePositive(values.limit, "--limit");
  const filters = parseSearchParameters(searchFlags(values), { form: true });
  const items = [];
  let page = await target.search(filters);
  items.push(...page.items);
  while (values.all && page.nextCursor) {
    page = await target.search({ ...filters, cursor: page.nextCursor });
    items.push(...page.items);
  }
  if (values.json) print("", { items, nextCursor: values.all ? null : page.nextCursor });
  else {
    const rows = items.map((item) =>
      [
        item.createdAt.slice(0, 19).replace("T", " "),
        `${item.specName}/${item.taskId}`,
        item.type,
        `v${item.version}`,
        formatBytes(item.originalSize),
        item.tags.join(","),
      ].join("\t"),
    );
    process.stdout.write(
      rows.length ? `CREATED\tARTIFACT\tTYPE\tVERSION\tSIZE\tTAGS\n${rows.join("\n")}\n` : "no artifacts match\n",
    );
    if (page.nextCursor && !values.all) process.stderr.write(`more results: --cursor ${page.nextCursor} (or --all)\n`);
  }
  return 0;
}

async function remove({ values, positionals, target }: CommandInput): Promise<number> {
  const print = printer(values);
  const deleted = await target.delete(positionals[0] ?? requireRef(values, true));
  print(deleted === 1 ? "deleted 1 version" : `deleted ${deleted} versions`, { deleted });
  return deleted === 0 ? 3 : 0;
}

async function cleanup({ values, target }: CommandInput): Promise<number> {
  const print = printer(values);
  const progress = createProgress("deleting expired artifacts", undefined, "");
  const report = await target
    .cleanup({
      dryRun: Boolean(values["dry-run"]),
      ...(values.limit ? { limit: parsePositive(values.limit, "--limit") } : {}),
      onProgress: progress.update,
    })
    .finally(progress.done);
  const human =
    report.dryRun && report.expiredTotal === 0
      ? "nothing has expired"
      : report.dryRun
        ? `${report.expiredTotal} expired artifact(s) would be deleted${report.candidates.length < report.expiredTotal ? ` (first ${report.candidates.length} listed)` : ""}:\n` +
          report.candidates
            .map(
              (candidate) =>
                `  ${candidate.specName}/${candidate.taskId}/${candidate.type} v${candidate.version}: ${candidate.reason}`,
            )
            .join("\n")
        : `deleted ${report.deleted} expired artifact(s), freed ${formatBytes(report.freedBytes)} in ${report.durationMs} ms`;
  print(human, report);
  return 0;
}

async function stats({ values, target }: CommandInput): Promise<number> {
  const print = printer(values);
  const stats = await target.stats();
  const groups = (
    title: string,
    entries: Record<string, { count: number; storedBytes: number; originalBytes: number }>,
  ) =>
    `${title}:\n${
      Object.entries(entries)
        .map(
          ([key, group]) =>
            `  ${key}: ${group.count} version(s), ${formatBytes(group.originalBytes)} (${formatBytes(group.storedBytes)} stored)`,
        )
        .join("\n") || "  (none)"
    }`;
  const quota =
    stats.quota.maxBytes === null
      ? "no quota"
      : `${formatBytes(stats.quota.usedBytes)} of ${formatBytes(stats.quota.maxBytes)} (${((stats.quota.usedRatio ?? 0) * 100).toFixed(1)}%)`;
  print(
    [
      `${stats.artifacts} artifact version(s): ${formatBytes(stats.originalBytes)} of content, ${formatBytes(stats.storedBytes)} stored (ratio ${stats.compressionRatio})`,
      `quota: ${quota}${stats.quota.warning ? `\nwarning: ${stats.quota.warning}` : ""}`,
      groups("by type", stats.byType),
      groups("by spec", stats.bySpec),
    ].join("\n"),
    stats,
  );
  return 0;
}

async function gc({ values, target }: CommandInput): Promise<number> {
  const print = printer(values);
  const graceSeconds = values.grace === undefined ? undefined : parseDuration(values.grace);
  if (values.grace !== undefined && graceSeconds === undefined)
    throw new UsageError("--grace takes seconds or a duration such as 30m");
  const progress = createProgress("scanning objects", undefined, "");
  const report = await target
    .gc({
      dryRun: Boolean(values["dry-run"]),
      ...(graceSeconds === undefined ? {} : { graceSeconds }),
      onProgress: progress.update,
    })
    .finally(progress.done);
  const verb = report.dryRun ? "would remove" : "removed";
  const lines = [
    `scanned ${report.scannedObjects} object(s); ${verb} ${report.stalePending.length} interrupted upload(s), ` +
      `${report.orphanObjects.length} orphaned object(s), ${report.stagingFiles.length} staging file(s); finished ${report.finishedDeletes} interrupted delete(s)`,
    ...report.orphanObjects.map((key) => `  orphan: ${key}`),
    ...(report.recoverable.length > 0
      ? [
          `${report.recoverable.length} object(s) belong to complete versions without metadata: run artifact-store reindex`,
        ]
      : []),
  ];
  print(lines.join("\n"), report);
  return 0;
}

async function verify({ values, target }: CommandInput): Promise<number> {
  const print = printer(values);
  const progress = createProgress("verifying", undefined, "");
  const report = await target
    .verify({ deep: Boolean(values.deep), onProgress: (checked) => progress.update(checked) })
    .finally(progress.done);
  const human = [
    `checked ${report.checked} version(s), ${formatBytes(report.bytes)} in ${report.durationMs} ms: ${report.corrupt.length} corrupt`,
    ...report.corrupt.map((entry) => `  corrupt: ${entry.uri}: ${entry.reason}`),
    ...report.recovered.map((uri) => `  verifies again (flag cleared): ${uri}`),
  ].join("\n");
  print(human, report);
  return report.corrupt.length > 0 ? 4 : 0;
}

async function reindex({ values, target }: CommandInput): Promise<number> {
  const print = printer(values);
  const progress = createProgress("scanning objects", undefined, "");
  const report = await target
    .reindex({ dryRun: Boolean(values["dry-run"]), onProgress: progress.update })
    .finally(progress.done);
  const human = [
    `${report.metadataFiles} metadata.json file(s): ${report.restored.length} version(s) ${report.dryRun ? "would be restored" : "restored"}, ${report.present} already indexed, ${report.skipped.length} skipped`,
    ...report.skipped.map((entry) => `  skipped ${entry.key}: ${entry.reason}`),
  ].join("\n");
  print(human, report);
  return 0;
}

async function convertLayout({ values, target }: CommandInput): Promise<number> {
  const print = printer(values);
  if (!target.convertLegacyLayout) {
    throw new UsageError("convert-layout works on the local store (run it where base_path is), not with --server");
  }
  const progress = createProgress("converting versions", undefined, "");
  const report = await target
    .convertLegacyLayout({ dryRun: Boolean(values["dry-run"]), onProgress: progress.update })
    .finally(progress.done);
  const verb = report.dryRun ? "would move" : "moved";
  const human = [
    `${verb} ${report.converted} version(s) to the seed's tree, ${report.sidecarsRemoved} sidecar(s) ${report.dryRun ? "would be " : ""}removed, ` +
      `metadata.json for ${report.tasks} task(s); ${report.skipped.length} skipped`,
    ...report.skipped.map((entry) => `  skipped ${entry.key}: ${entry.reason}`),
  ].join("\n");
  print(human, report);
  return report.skipped.length > 0 ? 1 : 0;
}

async function download({ values, positionals, target }: CommandInput): Promise<number> {
  const output = values.output;
  // Checked before anything is fetched: a missing directory is the user's to fix, not a failure.
  if (output) await assertWritableDirectory(output);
  const opened = await target.open(positionals[0] ?? requireRef(values, true));
  const hash = createHash("sha256");
  const temporary = output ? `${output}.partial-${process.pid}` : undefined;
  const file = temporary ? await openOutput(temporary, output as string) : undefined;
  const sink = file ? file.createWriteStream() : process.stdout;
  const progress = output
    ? createProgress(`downloading to ${output}`, opened.length ?? undefined)
    : createProgress("", undefined, "", false);
  let received = 0;
  try {
    for await (const chunk of opened.body) {
      hash.update(chunk);
      received += chunk.length;
      progress.update(received);
      if (!sink.write(chunk)) await new Promise<void>((done) => sink.once("drain", () => done()));
    }
    const actual = hash.digest("hex");
    if (opened.checksum && actual !== opened.checksum) {
      throw new ArtifactStoreError("E_CORRUPT", `received content has SHA-256 ${actual}, expected ${opened.checksum}`);
    }
    // The progress line ends before the summary is printed under it.
    progress.done();
    if (temporary && output && file) {
      await new Promise<void>((done, fail) => sink.end((error?: Error | null) => (error ? fail(error) : done())));
      await rename(temporary, output);
      if (!values.json)
        process.stderr.write(
          `wrote ${formatBytes(received)} to ${output} (v${opened.version}, sha256 ${actual}, verified)\n`,
        );
    }
    if (values.json && output)
      process.stdout.write(
        `${JSON.stringify({ path: output, bytes: received, sha256: actual, version: opened.version })}\n`,
      );
    return 0;
  } catch (error) {
    progress.done();
    if (temporary) {
      if (sink !== process.stdout) sink.destroy();
      await file?.close().catch(() => {});
      await rm(temporary, { force: true });
    }
    throw error;
  }
}

/** `-o FILE`: its directory must exist and be a directory (exit code 2 otherwise). */
async function assertWritableDirectory(output: string): Promise<void> {
  const directory = dirname(resolve(output));
  const found = await stat(directory).catch(() => null);
  if (!found) throw new UsageError(`cannot write ${output}: the directory ${directory} does not exist`);
  if (!found.isDirectory()) throw new UsageError(`cannot write ${output}: ${directory} is not a directory`);
}

/** The partial file a download writes first; a refusal by the system is a clear message, not a stack. */
async function openOutput(temporary: string, output: string) {
  try {
    return await open(temporary, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
  } catch (error) {
    const code = (error as { code?: string }).code ?? "error";
    throw new UsageError(`cannot write ${output} (${code}): check the path and its permissions`);
  }
}

/** Every command that acts on a store, by name. */
export const STORE_COMMANDS: Record<string, Command> = {
  upload,
  download,
  search,
  rm: remove,
  cleanup,
  stats,
  gc,
  verify,
  reindex,
  "convert-layout": convertLayout,
};

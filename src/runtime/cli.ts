#!/usr/bin/env bun
/**
 * `artifact-store`: the command-line tool. Works on the local store directly, or against a
 * running server with `--server URL --token T`.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.ts";
import { BUILT_IN_TYPES, DEFAULT_CONFIG_YAML } from "../config/schema.ts";
import { parseDuration } from "../config/section.ts";
import { ArtifactStoreError, type ErrorCode } from "../contracts/errors.ts";
import { formatBytes } from "../core/format.ts";
import type { SearchFilters } from "../core/search.ts";
import { type CliTarget, openLocalTarget, openRemoteTarget, sourceSize } from "./cli-target.ts";
import { createProgress } from "./progress.ts";

const GLOBAL_HELP = `artifact-store: keep diffs, logs and test results per spec and task.

Usage: artifact-store <command> [options]

Commands:
  serve       start the HTTP server (Bun when run by bun, else Node)
  upload      store a file (or stdin) as a new version
  download    write a version to stdout or a file, verified
  search      list stored versions, newest first
  rm          delete one version, or every version of an artifact
  cleanup     delete expired artifacts (retention sweep); --dry-run lists them
  stats       usage per type and spec, and the quota
  gc          finish interrupted uploads and deletes, remove orphaned objects
  verify      check every stored checksum; flag and list corrupt versions
  reindex     rebuild the metadata database from the sidecar files
  config      show the configuration in effect (or every key with its default: --defaults)

Options for every command:
  --server URL    act on a running server instead of the local store  [env ARTIFACT_STORE_URL]
  --token T       bearer token for --server                           [env ARTIFACT_STORE_TOKEN]
  --config FILE   config file (default ~/.necrocode/config/artifact-store.yaml) [env ARTIFACT_STORE_CONFIG]
  --json          machine-readable output on stdout
  -h, --help      help for a command: artifact-store upload --help

Exit codes: 0 ok, 1 failure, 2 bad input or usage, 3 not found, 4 checksum mismatch or
corrupt data, 5 quota exceeded, disk full or too large, 6 unauthorized or forbidden, 7 bad config.`;

const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: artifact-store serve [--host H] [--port N] [--config FILE]

Starts the HTTP API (default 127.0.0.1:8787, from server.host/server.port in the config).
With no tokens configured it listens on loopback only. SIGTERM/SIGINT let in-flight
requests finish (server.shutdown_timeout) before exiting.`,
  upload: `Usage: artifact-store upload FILE|- --spec S --task T --type TYPE [--tag X]... [--meta k=v]... [--sha256 HEX]

Stores FILE (or standard input with -) as the next version of (spec, task, type).
Types: diff, log, test, or any declared in the config.
  --tag X        tag the version (repeatable)
  --meta k=v     metadata key and value (repeatable; values that parse as JSON are kept as JSON)
  --sha256 HEX   refuse to store unless the content has this SHA-256
Prints the URI (or the metadata with --json). Shows progress on a terminal.`,
  download: `Usage: artifact-store download (URI | --spec S --task T --type TYPE [--version N]) [-o FILE]

Writes the content to FILE (atomically: nothing is left behind on failure) or to stdout.
The SHA-256 is checked while streaming; a mismatch exits with code 4.`,
  search: `Usage: artifact-store search [--spec S] [--task T] [--type TYPE] [--tag X]... [--since DATE] [--until DATE]
                            [--latest] [--limit N] [--cursor C] [--all]

Lists committed versions, newest first (default 100). --all follows every page.
DATE is ISO 8601 (2026-11-01 or 2026-11-01T12:00:00Z).`,
  rm: `Usage: artifact-store rm (URI | --spec S --task T --type TYPE [--version N])

Deletes one version, or every version when --version is left out. Exits 3 when nothing matched.`,
  cleanup: `Usage: artifact-store cleanup [--dry-run] [--limit N]

Deletes versions past their retention (diff 30, log 7, test 14 days by default) that are not
pinned. --dry-run lists what would go and why, deleting nothing.`,
  gc: `Usage: artifact-store gc [--dry-run] [--grace DURATION]

Finishes uploads and deletes a crash interrupted, removes objects no metadata row refers to and
stale staging files, all only when older than the grace period (default 1h; e.g. --grace 30m).
Complete versions without a row are kept and reported: run reindex to restore them.`,
  verify: `Usage: artifact-store verify [--deep]

Reads every stored version and checks its SHA-256. Failures are flagged corrupt (their
downloads then fail closed) and listed; exit code 4 when any is corrupt. --deep also
decompresses and checks the content's checksum. Shows progress on a terminal.`,
  reindex: `Usage: artifact-store reindex [--dry-run]

Rebuilds missing metadata rows from the <type>.metadata.json sidecars stored next to each
version, e.g. after the metadata database was lost. Versions that already have a row are left
alone; a sidecar whose blob is missing or has the wrong size is skipped and reported.`,
  config: `Usage: artifact-store config [--defaults] [--config FILE]

Prints the configuration in effect after reading the config file and ARTIFACT_STORE_*
variables, as JSON (tokens appear as their SHA-256 only). --defaults prints every key with its
default value, in the YAML file's own form, ready to copy into
~/.necrocode/config/artifact-store.yaml.`,
  stats: `Usage: artifact-store stats

Artifact counts and bytes per type and spec, the compression ratio, and the quota.`,
};

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  E_INVALID_NAME: 2,
  E_INVALID_INPUT: 2,
  E_RANGE: 2,
  E_NOT_FOUND: 3,
  E_CHECKSUM_MISMATCH: 4,
  E_CORRUPT: 4,
  E_QUOTA_EXCEEDED: 5,
  E_STORAGE_FULL: 5,
  E_TOO_LARGE: 5,
  E_UNAUTHORIZED: 6,
  E_FORBIDDEN: 6,
  E_CONFIG: 7,
};

class UsageError extends Error {}

const OPTIONS = {
  server: { type: "string" },
  token: { type: "string" },
  config: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  spec: { type: "string" },
  task: { type: "string" },
  type: { type: "string" },
  version: { type: "string" },
  tag: { type: "string", multiple: true },
  meta: { type: "string", multiple: true },
  sha256: { type: "string" },
  output: { type: "string", short: "o" },
  since: { type: "string" },
  until: { type: "string" },
  latest: { type: "boolean" },
  limit: { type: "string" },
  cursor: { type: "string" },
  all: { type: "boolean" },
  "dry-run": { type: "boolean" },
  grace: { type: "string" },
  defaults: { type: "boolean" },
  deep: { type: "boolean" },
  host: { type: "string" },
  port: { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export async function main(argv: string[]): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`artifact-store: ${(error as Error).message}\nRun artifact-store --help for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (!command || (values.help && !command)) {
    process.stdout.write(`${GLOBAL_HELP}\n`);
    return command || values.help ? 0 : 2;
  }
  const help = COMMAND_HELP[command];
  if (!help) {
    process.stderr.write(`artifact-store: unknown command ${command}\n\n${GLOBAL_HELP}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  try {
    if (command === "serve") return await serve(values);
    if (command === "config") {
      if (values.defaults) {
        process.stdout.write(DEFAULT_CONFIG_YAML);
        return 0;
      }
      const { config, source } = await loadConfig(values.config ? { path: values.config } : {});
      process.stderr.write(`config from ${source ?? "defaults"} and ARTIFACT_STORE_* variables\n`);
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return 0;
    }
    const server = values.server ?? process.env.ARTIFACT_STORE_URL;
    const target = server
      ? openRemoteTarget(server, values.token ?? process.env.ARTIFACT_STORE_TOKEN, BUILT_IN_TYPES)
      : await openLocalTarget(values.config);
    try {
      return await run(command, values, rest, target);
    } finally {
      await target.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`artifact-store ${command}: ${error.message}\n\n${help}\n`);
      return 2;
    }
    if (error instanceof ArtifactStoreError) {
      if (values.json)
        process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
      process.stderr.write(`artifact-store ${command}: ${error.message} [${error.code}]\n`);
      return EXIT_BY_CODE[error.code] ?? 1;
    }
    process.stderr.write(`artifact-store ${command}: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}

async function run(command: string, values: Values, positionals: string[], target: CliTarget): Promise<number> {
  const print = (human: string, json: unknown) =>
    process.stdout.write(`${values.json ? JSON.stringify(json, null, 2) : human}\n`);
  switch (command) {
    case "upload": {
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
    case "download":
      return download(values, positionals, target);
    case "search": {
      const filters: SearchFilters = {};
      if (values.spec) filters.specName = values.spec;
      if (values.task) filters.taskId = values.task;
      if (values.type) filters.type = values.type;
      if (values.tag) filters.tags = values.tag;
      if (values.since) filters.since = values.since;
      if (values.until) filters.until = values.until;
      if (values.latest) filters.latestOnly = true;
      if (values.limit) filters.limit = parsePositive(values.limit, "--limit");
      if (values.cursor) filters.cursor = values.cursor;
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
        if (page.nextCursor && !values.all)
          process.stderr.write(`more results: --cursor ${page.nextCursor} (or --all)\n`);
      }
      return 0;
    }
    case "rm": {
      const deleted = await target.delete(positionals[0] ?? requireRef(values, true));
      print(deleted === 1 ? "deleted 1 version" : `deleted ${deleted} versions`, { deleted });
      return deleted === 0 ? 3 : 0;
    }
    case "cleanup": {
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
    case "stats": {
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
    case "gc": {
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
    case "verify": {
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
    case "reindex": {
      const progress = createProgress("scanning objects", undefined, "");
      const report = await target
        .reindex({ dryRun: Boolean(values["dry-run"]), onProgress: progress.update })
        .finally(progress.done);
      const human = [
        `${report.sidecars} sidecar(s): ${report.restored.length} version(s) ${report.dryRun ? "would be restored" : "restored"}, ${report.present} already indexed, ${report.skipped.length} skipped`,
        ...report.skipped.map((entry) => `  skipped ${entry.key}: ${entry.reason}`),
      ].join("\n");
      print(human, report);
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

async function download(values: Values, positionals: string[], target: CliTarget): Promise<number> {
  const opened = await target.open(positionals[0] ?? requireRef(values, true));
  const hash = createHash("sha256");
  const output = values.output;
  const temporary = output ? `${output}.partial-${process.pid}` : undefined;
  const sink = temporary ? createWriteStream(temporary) : process.stdout;
  const progress = output
    ? createProgress(`downloading to ${output}`, opened.length ?? undefined)
    : createProgress("", undefined, "", false);
  let received = 0;
  try {
    for await (const chunk of opened.body) {
      hash.update(chunk);
      received += chunk.length;
      progress.update(received);
      if (!sink.write(chunk)) await new Promise<void>((resolve) => sink.once("drain", () => resolve()));
    }
    const actual = hash.digest("hex");
    if (opened.checksum && actual !== opened.checksum) {
      throw new ArtifactStoreError("E_CORRUPT", `received content has SHA-256 ${actual}, expected ${opened.checksum}`);
    }
    if (temporary && output) {
      await new Promise<void>((resolve, reject) =>
        (sink as ReturnType<typeof createWriteStream>).end((error?: Error | null) =>
          error ? reject(error) : resolve(),
        ),
      );
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
    if (temporary) {
      (sink as ReturnType<typeof createWriteStream>).destroy();
      await rm(temporary, { force: true });
    }
    throw error;
  } finally {
    progress.done();
  }
}

function requireRef(values: Values, allowVersion: boolean) {
  const missing = (["spec", "task", "type"] as const).filter((name) => !values[name]);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(", ")}`);
  const ref = { specName: values.spec as string, taskId: values.task as string, type: values.type as string };
  if (values.version !== undefined) {
    if (!allowVersion) throw new UsageError("--version is chosen by the store on upload");
    return { ...ref, version: parsePositive(values.version, "--version") };
  }
  return ref;
}

function parseMeta(pairs: string[]): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const pair of pairs) {
    const index = pair.indexOf("=");
    if (index <= 0) throw new UsageError(`--meta ${pair}: expected key=value`);
    const value = pair.slice(index + 1);
    try {
      metadata[pair.slice(0, index)] = /^(true|false|null|-?\d+(\.\d+)?|[[{"].*)$/.test(value)
        ? JSON.parse(value)
        : value;
    } catch {
      metadata[pair.slice(0, index)] = value;
    }
  }
  return metadata;
}

function parsePositive(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} must be a positive integer`);
  return Number(value);
}

async function serve(values: Values): Promise<number> {
  const options = {
    ...(values.config ? { path: values.config } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(values.port ? { port: Number(values.port) } : {}),
  };
  const { onShutdownSignal, createLineLogger } = await import("./server-common.ts");
  const server =
    typeof process.versions.bun === "string"
      ? await (await import("./bun.ts")).startBunServer(options)
      : await (await import("./node.ts")).startNodeServer(options);
  onShutdownSignal(createLineLogger("warn"), () => server.stop());
  await new Promise(() => {}); // serve until a signal ends the process
  return 0;
}

const entry = process.argv[1] ?? "";
if (import.meta.main || entry.endsWith("/runtime/cli.js") || entry.endsWith("/bin/artifact-store.js")) {
  process.exitCode = await main(process.argv.slice(2));
}

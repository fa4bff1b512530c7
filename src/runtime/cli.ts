#!/usr/bin/env bun
/**
 * `artifact-store`: the command-line tool. Works on the local store directly, or against a
 * running server with `--server URL --token T`. This file parses the command line, picks the
 * store and turns failures into exit codes; the commands live in `cli-commands.ts`.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { loadConfig } from "../config/load.ts";
import { BUILT_IN_TYPES, DEFAULT_CONFIG_YAML } from "../config/schema.ts";
import { ArtifactStoreError, type ErrorCode } from "../contracts/errors.ts";
import { OPTIONS, parseServerUrl, UsageError, type Values } from "./cli-args.ts";
import { STORE_COMMANDS } from "./cli-commands.ts";
import { COMMAND_HELP, GLOBAL_HELP } from "./cli-help.ts";
import { openLocalTarget, openRemoteTarget } from "./cli-target.ts";

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  E_INVALID_NAME: 2,
  E_INVALID_INPUT: 2,
  E_RANGE: 2,
  E_NOT_FOUND: 3,
  E_CHECKSUM_MISMATCH: 4,
  E_SECRET_DETECTED: 4,
  E_CORRUPT: 4,
  E_QUOTA_EXCEEDED: 5,
  E_STORAGE_FULL: 5,
  E_TOO_LARGE: 5,
  E_UNAUTHORIZED: 6,
  E_FORBIDDEN: 6,
  E_CONFIG: 7,
};

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "-V") {
    process.stdout.write(`artifact-store ${await packageVersion()}\n`);
    return 0;
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`artifact-store: ${(error as Error).message}\nRun artifact-store --help for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (!command) {
    process.stdout.write(`${GLOBAL_HELP}\n`);
    return values.help ? 0 : 2;
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
    return await runCommand(command, values, rest);
  } catch (error) {
    return reportFailure(command, help, values, error);
  }
}

/** `serve` and `config` stand alone; every other command acts on a store, local or remote. */
async function runCommand(command: string, values: Values, positionals: string[]): Promise<number> {
  if (command === "serve") return serve(values);
  const server = values.server ?? process.env.ARTIFACT_STORE_URL;
  if (command === "config") return showConfig(values, server);
  const run = STORE_COMMANDS[command];
  if (!run) throw new UsageError(`unknown command ${command}`);
  const target = server
    ? openRemoteTarget(parseServerUrl(server), values.token ?? process.env.ARTIFACT_STORE_TOKEN, BUILT_IN_TYPES)
    : await openLocalTarget(values.config);
  try {
    return await run({ values, positionals, target });
  } finally {
    await target.close();
  }
}

/** The exit code for a failure, after saying what went wrong on one line (never a stack). */
function reportFailure(command: string, help: string, values: Values, error: unknown): number {
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
  const described =
    error instanceof Error ? `${error.message}${"code" in error ? ` [${String(error.code)}]` : ""}` : String(error);
  process.stderr.write(`artifact-store ${command}: ${described}\n`);
  return 1;
}

/** `config`: this machine's settings; a server's are not published, so --server is refused. */
async function showConfig(values: Values, server: string | undefined): Promise<number> {
  if (values.defaults) {
    process.stdout.write(DEFAULT_CONFIG_YAML);
    return 0;
  }
  if (values.server !== undefined) {
    throw new UsageError(
      `config shows this machine's configuration; a server does not publish its own (--server ${server} was given)`,
    );
  }
  const { config, source } = await loadConfig(values.config ? { path: values.config } : {});
  process.stderr.write(`config from ${source ?? "defaults"} and ARTIFACT_STORE_* variables\n`);
  // null means "auto" (one thread per CPU, at most 4): say so, as the config file would.
  const shown = { ...config, compressionThreads: config.compressionThreads ?? "auto" };
  process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  return 0;
}

/** The package's version: package.json is two levels up from src/runtime/ and from dist/runtime/. */
async function packageVersion(): Promise<string> {
  const text = await readFile(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
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

/** The CLI's options and the small parsers its commands share. */
import type { parseArgs } from "node:util";

/** Bad usage: the message is printed with the command's help, exit code 2. */
export class UsageError extends Error {}

export const OPTIONS = {
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

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export function requireRef(values: Values, allowVersion: boolean) {
  const missing = (["spec", "task", "type"] as const).filter((name) => !values[name]);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((name) => `--${name}`).join(", ")}`);
  const ref = { specName: values.spec as string, taskId: values.task as string, type: values.type as string };
  if (values.version !== undefined) {
    if (!allowVersion) throw new UsageError("--version is chosen by the store on upload");
    return { ...ref, version: parsePositive(values.version, "--version") };
  }
  return ref;
}

export function parseMeta(pairs: string[]): Record<string, unknown> {
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

export function parsePositive(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} must be a positive integer`);
  return Number(value);
}

/** `--server`: an http(s) URL, or a usage error (exit code 2) naming what was given. */
export function parseServerUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`--server ${JSON.stringify(value)} is not an http(s) URL such as http://127.0.0.1:8787`);
  }
  return value;
}

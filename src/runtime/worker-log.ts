/** The edge entry's logger: one JSON object per console line. */
import type { Logger } from "../contracts/types.ts";
import type { WorkerEnv } from "./worker-config.ts";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/** One JSON object per line on the console: what Workers Logs and `wrangler tail` index. */
export function createConsoleLogger(env: WorkerEnv = {}): Logger {
  const configured = typeof env.LOG_LEVEL === "string" ? env.LOG_LEVEL.toLowerCase() : "info";
  const threshold = LEVELS[configured as keyof typeof LEVELS] ?? LEVELS.info;
  const log = (level: keyof typeof LEVELS) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < threshold) return;
    const line = JSON.stringify({ level, message, ...fields });
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

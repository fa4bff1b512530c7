/**
 * Runs a bundled Worker on workerd through Miniflare, on 127.0.0.1 with a free port. `cf: false`:
 * Miniflare would otherwise fetch Cloudflare's request metadata at start, which fails offline.
 * Logs the Worker writes with console.* are collected in `logs`.
 */
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Miniflare } from "miniflare";

/** The date the Worker runs under; the newest this Miniflare's workerd supports is 2026-04-26. */
export const COMPATIBILITY_DATE = "2026-04-01";

export interface RunningWorker {
  url: URL;
  /** Every console line the Worker wrote, as text. */
  logs: string[];
  /** Runs the Worker's `scheduled()` handler as a cron trigger would. */
  scheduled(cron?: string): Promise<{ outcome: string }>;
  dispose(): Promise<void>;
}

export async function startWorker(options: {
  scriptPath: string;
  bindings?: Record<string, unknown>;
}): Promise<RunningWorker> {
  const logs: string[] = [];
  const miniflare = new Miniflare({
    modules: true,
    script: await readFile(options.scriptPath, "utf8"),
    scriptPath: options.scriptPath,
    // Module names are paths relative to this root; a bundle in a temp dir would otherwise be "../…".
    modulesRoot: dirname(options.scriptPath),
    compatibilityDate: COMPATIBILITY_DATE,
    host: "127.0.0.1",
    port: 0,
    cf: false,
    bindings: options.bindings ?? {},
    structuredWorkerdLogs: true,
    handleStructuredLogs: ({ message }: { message: string }) => {
      logs.push(message);
    },
  });
  const url = await miniflare.ready;
  return {
    url,
    logs,
    async scheduled(cron = "0 * * * *") {
      // Miniflare's own type for this is built from workers-types, which this project does not install.
      const worker = (await miniflare.getWorker()) as unknown as {
        scheduled(options: { cron: string }): Promise<{ outcome: string }>;
      };
      const result = await worker.scheduled({ cron });
      return { outcome: result.outcome };
    },
    dispose: () => miniflare.dispose(),
  };
}

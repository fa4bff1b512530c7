/**
 * Headless Chromium for the browser tests: Debian's `chromium`, installed with apt-get when
 * /usr/bin/chromium is missing (the machines run as root), driven through playwright-core.
 * Never a downloaded browser build. If Chromium cannot be installed the suite fails, loudly.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Installs Debian's chromium unless it is there; throws with what to do when that fails. */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const run = (args: string[]) =>
    spawnSync("apt-get", args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  let result = run(["install", "-y", "-q", "chromium"]);
  if (result.status !== 0 || !existsSync(CHROMIUM)) {
    run(["update", "-q"]);
    result = run(["install", "-y", "-q", "chromium"]);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the browser tests need Chromium at ${CHROMIUM} and could not install it with apt-get ` +
        `(run as root: apt-get update && apt-get install -y chromium):\n${result.stdout ?? ""}${result.stderr ?? result.error ?? ""}`,
    );
  }
}

/** A fresh Chromium profile in a temp dir; `close` stops the browser and removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  ensureChromium();
  const profile = await mkdtemp(join(tmpdir(), "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1100, height: 720 },
    deviceScaleFactor: 1,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

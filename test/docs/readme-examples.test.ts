/**
 * The README's examples run as written: the HTTP API's curl walkthrough against a server on the
 * default config (only `S=` is pointed at the test's server), and the library example with the
 * values it names (`diffText`, `logText`, …) defined first. Every curl answer is recorded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeLog, makeTempDir } from "../helpers/store.ts";

const repoRoot = resolve(import.meta.dir, "..", "..");
const bun = join(repoRoot, "node_modules", ".bin", "bun");

/** The first fenced block of `language` after the heading `heading`. */
async function readmeBlock(heading: string, language: string): Promise<string> {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const start = section.indexOf(`\`\`\`${language}\n`) + language.length + 4;
  return section.slice(start, section.indexOf("\n```", start));
}

describe("the README's examples, verbatim", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let server: ServerProcess;
  beforeAll(async () => {
    dir = await makeTempDir("readme");
    server = await startServerProcess({ runtime: "bun", basePath: join(dir.path, "artifacts") });
  });
  afterAll(async () => {
    await server?.stop();
    await dir?.cleanup();
  });

  test("the curl walkthrough of the HTTP API answers every request on the default config", async () => {
    const walkthrough = (await readmeBlock("## HTTP API", "sh")).replace(/^S=.*$/m, `S=${server.url}`);
    const work = join(dir.path, "curl");
    await mkdir(work);
    await writeFile(join(work, "build.log"), makeLog(3000));
    // Each curl's HTTP status on stderr, after what it prints: the walkthrough itself is unchanged.
    const script = `curl() { command curl -sS -w '%{stderr}STATUS %{http_code}\\n' "$@"; }\n${walkthrough}\n`;
    const run = spawnSync("bash", ["-c", script], { cwd: work, encoding: "utf8", maxBuffer: 1 << 26 });
    const statuses = [...run.stderr.matchAll(/STATUS (\d{3})/g)].map((match) => Number(match[1]));
    const requests = walkthrough
      .split("\n")
      .flatMap((line) => line.replace(/#.*$/, "").match(/(^|\| |\$\()curl /g) ?? []);
    console.log(`[figure] README walkthrough: ${requests.length} curl commands, statuses ${statuses.join(" ")}`);
    expect(run.status).toBe(0);
    expect(statuses).toHaveLength(requests.length);
    // Nothing refused, missing or failing: 2xx, and the 304 the walkthrough asks for.
    expect(statuses.filter((status) => status >= 400)).toEqual([]);
    expect(statuses).toContain(304);
    expect(run.stderr.replace(/STATUS \d{3}\n/g, "")).toBe("");
  });

  test("the library example runs with the values it names", async () => {
    const example = await readmeBlock("## Library", "ts");
    const work = join(dir.path, "library");
    await mkdir(join(work, "node_modules", "@necrocode"), { recursive: true });
    await symlink(repoRoot, join(work, "node_modules", "@necrocode", "artifact-store"));
    const diffText = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n";
    const [imports, ...body] = example.split("\n\n");
    const script = [
      imports,
      `const diffText = ${JSON.stringify(diffText)};`,
      `const sha256Hex = ${JSON.stringify(createHash("sha256").update(diffText).digest("hex"))};`,
      `const logText = "build ok\\n";`,
      "const previous = { nextCursor: undefined };",
      body.join("\n\n"),
      'console.log("library example done");',
    ].join("\n");
    await writeFile(join(work, "example.ts"), script);
    const run = spawnSync(bun, ["example.ts"], {
      cwd: work,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: work },
    });
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("library example done");
    expect(run.status).toBe(0);
  });
});

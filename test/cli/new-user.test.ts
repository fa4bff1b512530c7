/**
 * The CLI as a newcomer meets it: --version, a missing output directory, several files, a
 * --server that is not a URL, `config --server`, the stats counters and the progress line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bunBinary, ensureBuilt, repoRoot, type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeTempDir } from "../helpers/store.ts";

let dir: { path: string; cleanup(): Promise<void> };
let env: Record<string, string>;

function cli(args: string[], runtime: "bun" | "node" = "bun") {
  const [command, script] =
    runtime === "bun"
      ? [bunBinary, join(repoRoot, "src/runtime/cli.ts")]
      : ["node", join(repoRoot, "bin/artifact-store.js")];
  const result = spawnSync(command, [script, ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  dir = await makeTempDir("cli-newcomer");
  env = { HOME: dir.path, ARTIFACT_STORE_BASE_PATH: join(dir.path, "store") };
  await writeFile(join(dir.path, "a.log"), "line a\n");
  await writeFile(join(dir.path, "b.log"), "line b\n");
});
afterAll(() => dir.cleanup());

describe("the CLI for a new user", () => {
  test("--version prints the package version, under Bun and Node", async () => {
    ensureBuilt();
    const { version } = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8"));
    for (const runtime of ["bun", "node"] as const) {
      const result = cli(["--version"], runtime);
      expect({ runtime, status: result.status, stdout: result.stdout }).toEqual({
        runtime,
        status: 0,
        stdout: `artifact-store ${version}\n`,
      });
    }
  });

  test("download -o into a missing directory: a clear message and exit code 2, no stack", () => {
    expect(cli(["upload", join(dir.path, "a.log"), "--spec", "s", "--task", "t", "--type", "log"]).status).toBe(0);
    const result = cli(["download", "--spec", "s", "--task", "t", "--type", "log", "-o", "/missing/dir/x"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("the directory /missing/dir does not exist");
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain("ENOENT");
  });

  test("upload with several files is refused (exit 2) and stores nothing", () => {
    const result = cli([
      "upload",
      join(dir.path, "a.log"),
      join(dir.path, "b.log"),
      "--spec",
      "multi",
      "--task",
      "t",
      "--type",
      "log",
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("upload takes one file, got 2");
    const search = JSON.parse(cli(["search", "--spec", "multi", "--json"]).stdout);
    expect(search.items).toEqual([]);
  });

  test("--server that is not an http(s) URL is a usage error (exit 2) on every command", () => {
    for (const server of ["not-a-url", "ftp://127.0.0.1/", "127.0.0.1:8787"]) {
      for (const args of [
        ["stats"],
        ["search"],
        ["upload", join(dir.path, "a.log"), "--spec", "s", "--task", "t", "--type", "log"],
      ]) {
        const result = cli([...args, "--server", server]);
        expect({ server, args, status: result.status }).toEqual({ server, args, status: 2 });
        expect(result.stderr).toContain("is not an http(s) URL");
      }
    }
  });

  test("config --server refuses instead of printing the local config", () => {
    const result = cli(["config", "--server", "http://127.0.0.1:9"]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("a server does not publish its own");
  });
});

describe("stats counters and the progress line", () => {
  let server: ServerProcess;
  let serverDir: { path: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    serverDir = await makeTempDir("cli-newcomer-server");
    server = await startServerProcess({ runtime: "bun", basePath: serverDir.path });
  });
  afterAll(async () => {
    await server?.stop();
    await serverDir.cleanup();
  });

  test("stats --json shows a server's real counters; the local store has none to show, so they are left out", () => {
    expect(
      cli(["upload", join(dir.path, "a.log"), "--spec", "s", "--task", "c", "--type", "log", "--server", server.url])
        .status,
    ).toBe(0);
    expect(cli(["download", "--spec", "s", "--task", "c", "--type", "log", "--server", server.url]).stdout).toBe(
      "line a\n",
    );
    const remote = JSON.parse(cli(["stats", "--json", "--server", server.url]).stdout);
    expect(remote.counters.uploads).toBe(1);
    expect(remote.counters.downloads).toBe(1);
    const local = JSON.parse(cli(["stats", "--json"]).stdout);
    expect(local.artifacts).toBeGreaterThan(0);
    expect(local.counters).toBeUndefined();
  });

  test("on a terminal the progress line ends before the summary line", async () => {
    const big = join(dir.path, "big.log");
    await writeFile(big, "progress line\n".repeat(400_000));
    expect(cli(["upload", big, "--spec", "s", "--task", "big", "--type", "log"]).status).toBe(0);
    const out = join(dir.path, "big.out");
    const command = [
      bunBinary,
      join(repoRoot, "src/runtime/cli.ts"),
      "download",
      "--spec",
      "s",
      "--task",
      "big",
      "--type",
      "log",
      "-o",
      out,
    ]
      .map((part) => `'${part}'`)
      .join(" ");
    // `script` gives the command a terminal, as a user's shell would.
    const result = spawnSync("script", ["-qec", command, "/dev/null"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    expect(result.status).toBe(0);
    const screen = result.stdout;
    const lastProgress = screen.lastIndexOf("downloading to");
    const summary = screen.indexOf("wrote ");
    expect(lastProgress).toBeGreaterThanOrEqual(0);
    expect(summary).toBeGreaterThan(lastProgress);
    expect(screen.slice(lastProgress, summary)).toContain("\n");
  });
});

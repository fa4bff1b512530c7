/**
 * The real `artifact-store` binary: `node bin/artifact-store.js` (the npm bin, on dist/) for the
 * local store, and against a running server with --server/--token.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureBuilt, repoRoot, type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { makeLog, makeTempDir, sha256Hex } from "../helpers/store.ts";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>, input?: string): Run {
  const result = spawnSync("node", [join(repoRoot, "bin/artifact-store.js"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
    ...(input === undefined ? {} : { input }),
    maxBuffer: 1 << 28,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("artifact-store CLI on the local store", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let env: Record<string, string>;
  beforeAll(async () => {
    ensureBuilt();
    dir = await makeTempDir("cli");
    env = {
      HOME: dir.path,
      ARTIFACT_STORE_BASE_PATH: join(dir.path, "store"),
      ARTIFACT_STORE_VERSIONING_ENABLED: "true",
    };
  });
  afterAll(() => dir.cleanup());

  test("--help explains every command, and each command has its own help", () => {
    const help = cli(["--help"], env);
    expect(help.status).toBe(0);
    for (const command of ["serve", "upload", "download", "search", "rm", "cleanup", "stats"])
      expect(help.stdout).toContain(command);
    expect(help.stdout).toContain("Exit codes");
    const upload = cli(["upload", "--help"], env);
    expect(upload.status).toBe(0);
    expect(upload.stdout).toContain("--spec S --task T --type TYPE");
  });

  test("upload prints the URI; download writes the same bytes; --json gives metadata", async () => {
    const file = join(dir.path, "build.log");
    const log = makeLog(5000);
    await writeFile(file, log);
    const upload = cli(
      [
        "upload",
        file,
        "--spec",
        "chat-app",
        "--task",
        "1.1",
        "--type",
        "log",
        "--tag",
        "ci",
        "--meta",
        "runner=gha-3",
        "--meta",
        "attempt=2",
      ],
      env,
    );
    expect(upload.status).toBe(0);
    // With versioning on the CLI prints the version-specific URI of what it stored.
    expect(upload.stdout.trim()).toBe(`file://${join(dir.path, "store")}/chat-app/1.1/log.txt.gz?version=1`);
    const out = join(dir.path, "out.log");
    const download = cli(["download", "--spec", "chat-app", "--task", "1.1", "--type", "log", "-o", out], env);
    expect(download.status).toBe(0);
    expect(await readFile(out, "utf8")).toBe(log);
    const viaUri = cli(["download", upload.stdout.trim()], env);
    expect(viaUri.stdout).toBe(log);
    const json = cli(["upload", file, "--spec", "chat-app", "--task", "1.1", "--type", "log", "--json"], env);
    const metadata = JSON.parse(json.stdout);
    expect(metadata).toMatchObject({ version: 2, originalChecksum: await sha256Hex(log), tags: [] });
  });

  test("upload reads standard input with -", () => {
    const upload = cli(
      ["upload", "-", "--spec", "chat-app", "--task", "stdin", "--type", "diff", "--json"],
      env,
      "+added line\n",
    );
    expect(upload.status).toBe(0);
    expect(JSON.parse(upload.stdout).originalSize).toBe(12);
    expect(cli(["download", "--spec", "chat-app", "--task", "stdin", "--type", "diff"], env).stdout).toBe(
      "+added line\n",
    );
  });

  test("search lists newest first, as a table or JSON", () => {
    const table = cli(["search", "--spec", "chat-app", "--type", "log"], env);
    expect(table.status).toBe(0);
    expect(table.stdout.split("\n")[0]).toBe("CREATED\tARTIFACT\tTYPE\tVERSION\tSIZE\tTAGS");
    const json = JSON.parse(cli(["search", "--spec", "chat-app", "--type", "log", "--json"], env).stdout);
    expect(json.items.map((item: { version: number }) => item.version)).toEqual([2, 1]);
  });

  test("exit codes a script can rely on", async () => {
    const file = join(dir.path, "x.log");
    await writeFile(file, "x");
    expect(cli(["upload", file, "--spec", "../etc", "--task", "1", "--type", "log"], env).status).toBe(2);
    expect(cli(["upload", file, "--spec", "s"], env).status).toBe(2);
    expect(cli(["frobnicate"], env).status).toBe(2);
    expect(cli(["download", "--spec", "s", "--task", "none", "--type", "log"], env).status).toBe(3);
    expect(
      cli(["upload", file, "--spec", "s", "--task", "t", "--type", "log", "--sha256", "0".repeat(64)], env).status,
    ).toBe(4);
    const missingConfig = cli(["stats", "--config", join(dir.path, "nope.yaml")], env);
    expect(missingConfig.status).toBe(7);
    expect(missingConfig.stderr).toContain("nope.yaml");
  });

  test("a failed download to a file leaves no file behind", async () => {
    const out = join(dir.path, "never.log");
    const result = cli(["download", "--spec", "s", "--task", "none", "--type", "log", "-o", out], env);
    expect(result.status).toBe(3);
    expect((await readdir(dir.path)).filter((name) => name.startsWith("never.log"))).toEqual([]);
  });

  test("rm, cleanup --dry-run, cleanup and stats", () => {
    expect(
      cli(["rm", "--spec", "chat-app", "--task", "1.1", "--type", "log", "--version", "1"], env).stdout.trim(),
    ).toBe("deleted 1 version");
    const dry = cli(["cleanup", "--dry-run"], env);
    expect(dry.stdout.trim()).toBe("nothing has expired");
    const stats = JSON.parse(cli(["stats", "--json"], env).stdout);
    expect(stats.artifacts).toBe(2);
    const human = cli(["stats"], env).stdout;
    expect(human).toContain("2 artifact version(s)");
    expect(human).toContain("by type:");
    expect(cli(["rm", "--spec", "chat-app", "--task", "1.1", "--type", "log"], env).stdout.trim()).toBe(
      "deleted 1 version",
    );
    expect(cli(["rm", "--spec", "chat-app", "--task", "1.1", "--type", "log"], env).status).toBe(3);
  });
});

describe("artifact-store CLI maintenance: verify, gc, reindex", () => {
  test("verify finds a damaged file (exit 4), reindex rebuilds a deleted database, gc reports nothing to do", async () => {
    ensureBuilt();
    const dir = await makeTempDir("cli-maintenance");
    const env = {
      HOME: dir.path,
      ARTIFACT_STORE_BASE_PATH: join(dir.path, "store"),
      ARTIFACT_STORE_VERSIONING_ENABLED: "true",
    };
    const file = join(dir.path, "a.log");
    await writeFile(file, makeLog(2000));
    const uris = [1, 2, 3].map((index) =>
      cli(["upload", file, "--spec", "s", "--task", `t${index}`, "--type", "log"], env).stdout.trim(),
    );
    expect(cli(["verify"], env).stdout).toContain("checked 3 version(s)");
    const victim = new URL(uris[1] as string);
    const bytes = await readFile(victim);
    bytes[20] = (bytes[20] as number) ^ 1;
    await writeFile(victim, bytes);
    const verify = cli(["verify", "--json"], env);
    expect(verify.status).toBe(4);
    expect(JSON.parse(verify.stdout).corrupt.map((entry: { uri: string }) => entry.uri)).toEqual([uris[1]]);

    const database = join(dir.path, "store", ".store", "metadata.db");
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${database}${suffix}`, { force: true });
    expect(cli(["search", "--json"], env).stdout).toContain('"items": []');
    const reindex = cli(["reindex"], env);
    expect(reindex.status).toBe(0);
    expect(reindex.stdout).toContain("metadata.json file(s): 3 version(s) restored");
    expect(JSON.parse(cli(["search", "--json"], env).stdout).items).toHaveLength(3);

    const gc = cli(["gc", "--dry-run", "--grace", "0"], env);
    expect(gc.status).toBe(0);
    expect(gc.stdout).toContain("would remove 0 interrupted upload(s), 0 orphaned object(s)");
    expect(cli(["gc", "--grace", "soon"], env).status).toBe(2);
    await dir.cleanup();
  });
});

describe("artifact-store CLI against a server", () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let server: ServerProcess;
  const token = "cli-test-token";
  const readToken = "cli-read-token";
  beforeAll(async () => {
    dir = await makeTempDir("cli-remote");
    const hash = (value: string) => new Bun.CryptoHasher("sha256").update(value).digest("hex");
    server = await startServerProcess({
      runtime: "bun",
      basePath: dir.path,
      env: {
        ARTIFACT_STORE_SERVER__TOKENS: JSON.stringify([
          { name: "ci", sha256: hash(token), scopes: ["read", "write", "admin"] },
          { name: "viewer", sha256: hash(readToken), scopes: ["read"] },
        ]),
      },
    });
  });
  afterAll(async () => {
    await server.stop();
    await dir.cleanup();
  });

  test("upload, search, download, cleanup and stats through --server with --token", async () => {
    const file = join(dir.path, "remote.log");
    const log = makeLog(3000);
    await writeFile(file, log);
    const env = { HOME: dir.path, ARTIFACT_STORE_URL: server.url, ARTIFACT_STORE_TOKEN: token };
    const upload = cli(["upload", file, "--spec", "chat-app", "--task", "9.9", "--type", "log", "--json"], env);
    expect(upload.status).toBe(0);
    expect(JSON.parse(upload.stdout).originalChecksum).toBe(await sha256Hex(log));
    expect(cli(["download", "--spec", "chat-app", "--task", "9.9", "--type", "log"], env).stdout).toBe(log);
    expect(JSON.parse(cli(["search", "--json"], env).stdout).items).toHaveLength(1);
    expect(JSON.parse(cli(["cleanup", "--dry-run", "--json"], env).stdout).dryRun).toBe(true);
    expect(JSON.parse(cli(["stats", "--json"], env).stdout).artifacts).toBe(1);
  });

  test("a missing or read-only token gets exit code 6 with the server's message", async () => {
    const file = join(dir.path, "denied.log");
    await writeFile(file, "x");
    const anonymous = cli(["search", "--server", server.url], { HOME: dir.path });
    expect(anonymous.status).toBe(6);
    expect(anonymous.stderr).toContain("Bearer");
    const readOnly = cli(
      ["upload", file, "--server", server.url, "--token", readToken, "--spec", "s", "--task", "t", "--type", "log"],
      {
        HOME: dir.path,
      },
    );
    expect(readOnly.status).toBe(6);
    expect(readOnly.stderr).toContain("lacks the write scope");
  });
});

/**
 * The servers' log on stderr (createLineLogger): lines are written in batches, once per turn of
 * the event loop, yet none is lost when the process exits, and a warning or an error is out at
 * once with everything logged before it.
 */
import { describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { bunBinary, repoRoot } from "../helpers/server-process.ts";

/** A Bun child that logs `count` info lines through the default writer, then does `then`. */
function script(count: number, then: string): string {
  return `
    const { createLineLogger } = await import(${JSON.stringify(join(repoRoot, "src/runtime/server-common.ts"))});
    const log = createLineLogger("info");
    for (let index = 0; index < ${count}; index++) log.info("request", { index });
    ${then}`;
}

const infoLines = (text: string) => text.split("\n").filter((line) => / INFO request index=\d+$/.test(line));

describe("the line logger's batched writes", () => {
  test("lines pending at the exit are written: process.exit, an uncaught error, the script's end, a burst past the batch size", () => {
    const endings: [ending: string, count: number][] = [
      ["process.exit(0);", 3],
      ["throw new Error('boom');", 3],
      ["", 3],
      ["process.exit(3);", 20_000],
    ];
    for (const [ending, count] of endings) {
      const child = spawnSync(bunBinary, ["-e", script(count, ending)], { encoding: "utf8", timeout: 60_000 });
      const lines = infoLines(child.stderr);
      expect({ ending, count: lines.length }).toEqual({ ending, count });
      expect(lines.map((line) => Number(line.split("index=")[1]))).toEqual(Array.from({ length: count }, (_, i) => i));
    }
  });

  test("a line with non-ASCII text is written whole, in UTF-8", () => {
    const ending = `log.info("request", { path: "/v1/artifacts/spéc/tâsk/日志" }); process.exit(0);`;
    const child = spawnSync(bunBinary, ["-e", script(2, ending)], { encoding: "utf8", timeout: 60_000 });
    expect(infoLines(child.stderr)).toHaveLength(2);
    expect(child.stderr.trim().split("\n").at(-1)).toMatch(/ INFO request path=\/v1\/artifacts\/spéc\/tâsk\/日志$/);
  });

  test("a warning is out at once, after the info lines before it, while the process is still running", async () => {
    // The child blocks its event loop right after the warning: no later turn would write anything.
    const child = spawn(bunBinary, [
      "-e",
      script(
        5,
        `log.warn("disk nearly full", { free: 1 }); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);`,
      ),
    ]);
    let stderr = "";
    const seen = new Promise<void>((resolve) => {
      child.stderr.on("data", (chunk) => {
        stderr += chunk;
        if (stderr.includes("WARN disk nearly full")) resolve();
      });
    });
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 30_000));
    await Promise.race([seen, timeout]);
    expect(child.exitCode).toBeNull(); // still blocked: the warning was not written on exit
    child.kill("SIGKILL");
    expect(infoLines(stderr)).toHaveLength(5);
    expect(stderr.trim().split("\n").at(-1)).toContain("WARN disk nearly full free=1");
  });
});

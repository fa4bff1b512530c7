/**
 * Artifacts a reviewer meets, shared by the viewer's browser tests, its tests on workerd and the
 * page-cost benchmark: a JUnit report in two suites, a 64-file format-patch, a CI log with
 * GitHub groups, colour codes and errors (built around a real log from the corpus).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const corpus = (file: string) => readFile(join(import.meta.dir, "..", "corpus", "real", file), "utf8");

/** A JUnit report: `name:status` entries (p, f, s, or k for flaky) in two suites. */
export function junit(cases: string[]): string {
  const row = (entry: string) => {
    const [name, status, seconds = "0.05"] = entry.split(":");
    const body =
      status === "f"
        ? `<failure message="expected ${name} to work">AssertionError: expected ${name} to work\n    at room.spec.ts:12:7\n    at run (runner.ts:40:3)</failure><system-out>joining room r1\nsent hello</system-out>`
        : status === "s"
          ? "<skipped/>"
          : status === "k"
            ? `<flakyFailure message="timeout" type="Timeout"><stackTrace>Timeout after 5000 ms</stackTrace></flakyFailure>`
            : "";
    return `<testcase classname="room.spec.ts" name="${name}" time="${status === "s" ? "0" : seconds}">${body}</testcase>`;
  };
  const half = Math.ceil(cases.length / 2);
  return `<?xml version="1.0"?><testsuites><testsuite name="chat › rooms">${cases.slice(0, half).map(row).join("")}</testsuite><testsuite name="chat › members">${cases.slice(half).map(row).join("")}</testsuite></testsuites>`;
}

/** A `git format-patch` of one commit touching 64 files: a rename, a mode change, a binary file, small edits. */
export function bigPatch(): string {
  const parts = [
    "From 3f2c1a9e8eac7b117442a607d5a9b3950ae34d5a Mon Sep 17 00:00:00 2001",
    "From: Ada Reviewer <ada@example.com>",
    "Date: Mon, 30 Nov 2026 09:15:00 +0000",
    "Subject: [PATCH] Rooms: members join once, logo refreshed",
    "",
    "Joining twice kept two entries; the room now checks first.",
    "---",
    " 64 files changed",
    "",
  ];
  for (let index = 1; index <= 61; index++) {
    const path = `src/rooms/module-${String(index).padStart(2, "0")}.ts`;
    parts.push(
      `diff --git a/${path} b/${path}`,
      "index 3b18e51..a2c4f0e 100644",
      `--- a/${path}`,
      `+++ b/${path}`,
      "@@ -1,3 +1,3 @@",
      ` export const id = ${index};`,
      `-export const limit = ${index * 10}; // members per room`,
      `+export const limit = ${index * 10 + 5}; // members per room`,
      " export default id;",
    );
  }
  parts.push(
    "diff --git a/docs/old-rooms.md b/docs/rooms.md",
    "similarity index 100%",
    "rename from docs/old-rooms.md",
    "rename to docs/rooms.md",
    "diff --git a/bin/serve b/bin/serve",
    "old mode 100644",
    "new mode 100755",
    "diff --git a/assets/logo.png b/assets/logo.png",
    "index 0000000..4b825dc 100644",
    "GIT binary patch",
    "literal 343040",
    "zcmeIuF#!Mo0K%a4Pi+hZR7O+",
    "",
    "literal 0",
    "HcmV?d00001",
    "",
    "-- ",
    "2.47.0",
    "",
  );
  return parts.join("\n");
}

/** A CI log with GitHub groups, colour codes and errors, about 1 MiB so it opens at its tail. */
export async function ciLog(fillerLines = 14_000): Promise<string> {
  const lines = (await corpus("log/gh-run-view-eslint.log")).split("\n");
  const filler: string[] = [];
  for (let index = 0; index < fillerLines; index++)
    filler.push(
      `2026-11-30T09:00:${String(index % 60).padStart(2, "0")}Z step ${index} ok: compiled module ${index % 97}`,
    );
  return [
    "##[group]Run npm test",
    "npm test",
    "\u001b[32m✔ joins a room\u001b[39m",
    "##[endgroup]",
    ...filler,
    ...lines,
    "##[group]Run npm run typecheck",
    "\u001b[31m✖ failing assertion\u001b[39m \u001b[90m(12ms)\u001b[39m",
    "src/rooms/room.ts(3,7): error TS2769: No overload matches this call.",
    "##[endgroup]",
    "##[error]Process completed with exit code 2.",
    "",
  ].join("\n");
}

/**
 * Symbolic links inside base_path that the store did not create (`base/evil -> /outside`):
 * uploads, downloads, deletes, listing and gc never follow them, so nothing outside base_path
 * is written, read or removed.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFsBackend } from "../../src/backends/fs.ts";
import { createApp } from "../../src/http/app.ts";
import { makeFsStore, makeTempDir, type TestStore } from "../helpers/store.ts";

let fixture: TestStore;
let outside: { path: string; cleanup(): Promise<void> };

/** Every file under `dir`, relative, with its content. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(dir.length + 1)] = await readFile(path, "utf8");
  }
  return files;
}

beforeEach(async () => {
  fixture = await makeFsStore();
  outside = await makeTempDir("outside-base-path");
  // What an attacker wants: the store's layout, outside base_path, to be overwritten or collected.
  await mkdir(join(outside.path, "t1", "v1"), { recursive: true });
  await writeFile(join(outside.path, "t1", "v1", "log.txt.gz"), "someone else's file");
  await writeFile(join(outside.path, "keep.txt"), "keep me");
  await symlink(outside.path, join(fixture.root, "evil"));
  await mkdir(join(fixture.root, "spec", "t1", "v1"), { recursive: true });
  await symlink(join(outside.path, "keep.txt"), join(fixture.root, "spec", "t1", "v1", "log.txt.gz"));
});
afterEach(async () => {
  await fixture.cleanup();
  await outside.cleanup();
});

describe("the fs backend and symbolic links it did not create", () => {
  test("an upload to a spec that is a link is refused and writes nothing outside base_path", async () => {
    const before = await snapshot(outside.path);
    const error = await fixture.store
      .upload({ specName: "evil", taskId: "t2", type: "log", content: "written through the link\n" })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "E_BACKEND" });
    expect((error as Error).message).toContain("symbolic link");
    expect(await snapshot(outside.path)).toEqual(before);
  });

  test("gc, listing, reads and deletes leave files behind a link alone", async () => {
    const before = await snapshot(outside.path);
    const report = await fixture.store.gc({ graceMs: 0 });
    expect(report.orphanObjects).toEqual([]);
    const { backend } = fixture;
    expect((await backend.list()).objects.map((object) => object.key)).toEqual([]);
    expect(await backend.get("evil/keep.txt")).toBeNull();
    expect(await backend.get("evil/t1/v1/log.txt.gz")).toBeNull();
    expect(await backend.head("evil/t1/v1/log.txt.gz")).toBeNull();
    expect(await backend.get("spec/t1/v1/log.txt.gz")).toBeNull();
    // Missing behind the link, or through a link that loops: nothing, and no error either.
    expect(await backend.head("evil/t9/log.txt.gz")).toBeNull();
    expect(await backend.get("evil/t9/log.txt.gz", { range: { offset: 0, length: 1 } })).toBeNull();
    await symlink("loop", join(fixture.root, "loop"));
    expect(await backend.head("loop/t1/log.txt.gz")).toBeNull();
    await backend.delete("evil/t1/v1/log.txt.gz");
    await backend.delete("evil/keep.txt");
    expect(await snapshot(outside.path)).toEqual(before);
  });

  test("over HTTP: PUT to the linked spec and POST /v1/maintenance/gc touch nothing outside", async () => {
    const before = await snapshot(outside.path);
    const app = createApp({ store: fixture.store });
    const put = await app.request("/v1/artifacts/evil/t3/log", { method: "PUT", body: "through the link\n" });
    expect(put.status).toBe(502);
    const body = await put.text();
    expect(body).not.toContain(outside.path);
    expect(body).not.toContain(fixture.root);
    const gc = await app.request("/v1/maintenance/gc?grace=0", { method: "POST" });
    expect(gc.status).toBe(200);
    const read = await app.request("/v1/artifacts/evil/t1/log");
    expect(read.status).toBe(404);
    expect(await snapshot(outside.path)).toEqual(before);
  });

  test("the store's own uploads, reads and gc still work beside the links", async () => {
    const stored = await fixture.store.upload({ specName: "real", taskId: "t1", type: "log", content: "fine\n" });
    expect(await fixture.store.downloadText(stored.uri)).toBe("fine\n");
    expect((await fixture.store.gc({ graceMs: 0 })).orphanObjects).toEqual([]);
    expect(await fixture.store.downloadText(stored.uri)).toBe("fine\n");
  });

  test("a named pipe at an object's path, or behind a linked folder, is no object and never blocks the server", () => {
    // Someone with write access to base_path places FIFOs where the store reads. Opening one for
    // reading blocks until a writer comes: a synchronous open would freeze every request.
    execFileSync("mkfifo", [join(fixture.root, "spec", "t1", "v1", "diff.txt.gz")]);
    execFileSync("mkfifo", [join(outside.path, "t1", "v1", "test-result.json.gz")]);
    const script = `
      const { createFsBackend } = await import(${JSON.stringify(join(import.meta.dir, "../../src/backends/fs.ts"))});
      const backend = createFsBackend({ root: ${JSON.stringify(fixture.root)} });
      const found = [];
      for (const key of ["spec/t1/v1/diff.txt.gz", "evil/t1/v1/test-result.json.gz"]) found.push(await backend.get(key));
      console.log(JSON.stringify(found));`;
    // Run apart: a blocked open would freeze this process too; the timeout ends only a child that never answers.
    const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000 });
    expect({ signal: child.signal, stderr: child.stderr }).toEqual({ signal: null, stderr: "" });
    expect(JSON.parse(child.stdout)).toEqual([null, null]);
  });

  test("a folder swapped for a link after the store wrote through it is refused on the next write; nothing outside changes", async () => {
    // The backend remembers folders it has checked; a swap after that check must still be seen.
    const { backend } = fixture;
    const put = (text: string) => backend.put("spec2/t1/v1/log.txt.gz", new Blob([text]).stream());
    await put("first\n");
    const before = await snapshot(outside.path);
    // Each folder on the way, moved aside and replaced by a link to an outside copy of what was below it.
    const swaps: [folder: string, target: string][] = [
      ["spec2", outside.path],
      ["spec2/t1", join(outside.path, "t1")],
      ["spec2/t1/v1", join(outside.path, "t1", "v1")],
    ];
    for (const [folder, target] of swaps) {
      const path = join(fixture.root, ...folder.split("/"));
      await rename(path, `${path}.moved`);
      await symlink(target, path);
      const error = await put("through the link\n").catch((caught: unknown) => caught);
      expect({ folder, error }).toMatchObject({ folder, error: { code: "E_BACKEND" } });
      expect(await backend.get("spec2/t1/v1/log.txt.gz")).toBeNull();
      expect(await backend.head("spec2/t1/v1/log.txt.gz")).toBeNull();
      expect(await backend.copy?.("spec2/t1/v1/log.txt.gz", "spec2/t1/v1/copy.txt.gz").catch(() => false)).toBe(false);
      await backend.delete("spec2/t1/v1/log.txt.gz");
      expect(await snapshot(outside.path)).toEqual(before);
      await rm(path);
      await rename(`${path}.moved`, path);
      await put("back in place\n");
    }
    expect(await readFile(join(fixture.root, "spec2", "t1", "v1", "log.txt.gz"), "utf8")).toBe("back in place\n");
  });

  test("an upload after its task's folders were swapped for links is refused, the store's own uploads folder too", async () => {
    await fixture.store.upload({ specName: "real", taskId: "t1", type: "log", content: "first\n" });
    const before = await snapshot(outside.path);
    for (const folder of [join(".store", "uploads", "real"), "real"]) {
      const path = join(fixture.root, folder);
      await rename(path, `${path}.moved`);
      await symlink(outside.path, path); // outside holds t1/: the task's folder would resolve there
      const error = await fixture.store
        .upload({ specName: "real", taskId: "t1", type: "log", content: "through the link\n" })
        .catch((caught: unknown) => caught);
      expect({ folder, error }).toMatchObject({ folder, error: { code: "E_BACKEND" } });
      expect(await snapshot(outside.path)).toEqual(before);
      await rm(path);
      await rename(`${path}.moved`, path);
    }
    const stored = await fixture.store.upload({ specName: "real", taskId: "t1", type: "log", content: "last\n" });
    expect(await fixture.store.downloadText(stored.uri)).toBe("last\n");
  });

  test("a folder removed and made again (a new inode at the same name) is written to as before", async () => {
    const { backend } = fixture;
    await backend.put("spec3/t1/log.txt", new Blob(["one\n"]).stream());
    await rm(join(fixture.root, "spec3"), { recursive: true });
    await mkdir(join(fixture.root, "spec3", "t1"), { recursive: true });
    await backend.put("spec3/t1/log.txt", new Blob(["two\n"]).stream());
    expect(await readFile(join(fixture.root, "spec3", "t1", "log.txt"), "utf8")).toBe("two\n");
    await rm(join(fixture.root, "spec3"), { recursive: true });
    await backend.put("spec3/t1/log.txt", new Blob(["three\n"]).stream());
    expect(await readFile(join(fixture.root, "spec3", "t1", "log.txt"), "utf8")).toBe("three\n");
  });

  test("a base_path reached through a link the operator made still serves its files", async () => {
    await fixture.backend.put("real/t1/v1/log.txt", new Blob(["through the root's link\n"]).stream());
    const linkedRoot = join(outside.path, "base-link");
    await symlink(fixture.root, linkedRoot);
    const object = await createFsBackend({ root: linkedRoot }).get("real/t1/v1/log.txt");
    expect(await new Response(object?.body).text()).toBe("through the root's link\n");
  });
});

/**
 * The server gives memory back around large uploads: collections while one runs and once after
 * the last ends, young-generation ones often while it runs (Bun), none for small requests, and
 * none left scheduled after stop. After the last one ends, the runtime's release (Bun: compiled
 * code and free allocator pages too) runs at most once per interval.
 */
import { expect, test } from "bun:test";
import { createMemoryReleaser } from "../../src/runtime/memory-release.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const put = (headers: Record<string, string>, body: BodyInit | null = "x") =>
  new Request("http://localhost/v1/artifacts/s/t/log", { method: "PUT", headers, body });

test("a large upload is collected while it runs and once after it ends; small requests never", async () => {
  let collections = 0;
  const releaser = createMemoryReleaser({ full: () => collections++ });
  releaser.track(new Request("http://localhost/v1/artifacts/s/t/log"))();
  releaser.track(put({ "content-length": "4096" }))();
  await sleep(400);
  expect(collections).toBe(0);

  const done = releaser.track(put({ "content-length": String(64 * 1024 * 1024) }));
  await sleep(600);
  const during = collections;
  expect(during).toBeGreaterThanOrEqual(1);
  done();
  await sleep(300);
  expect(collections).toBe(during + 1);
  await sleep(400);
  expect(collections).toBe(during + 1);
  releaser.stop();
});

test("a streamed body of unknown length counts as large; stop cancels what is scheduled", async () => {
  let collections = 0;
  const releaser = createMemoryReleaser({ full: () => collections++ });
  const stream = new ReadableStream({ start: (controller) => controller.close() });
  const done = releaser.track(
    new Request("http://localhost/x", { method: "PUT", body: stream, duplex: "half" } as RequestInit),
  );
  done();
  releaser.stop();
  await sleep(300);
  expect(collections).toBe(0);
  const again = releaser.track(
    new Request("http://localhost/x", { method: "PUT", body: stream, duplex: "half" } as RequestInit),
  );
  again();
  await sleep(300);
  expect(collections).toBe(1);
});

test("young collections run often while a large upload runs, and stop with it", async () => {
  let young = 0;
  let full = 0;
  const releaser = createMemoryReleaser({ full: () => full++, young: () => young++ });
  releaser.track(put({ "content-length": "4096" }))();
  await sleep(100);
  expect(young).toBe(0);
  const done = releaser.track(put({ "content-length": String(64 * 1024 * 1024) }));
  await sleep(300);
  // Every 20 ms: far more often than the full collections (every 250 ms).
  expect(young).toBeGreaterThanOrEqual(5);
  expect(young).toBeGreaterThan(full * 4);
  done();
  const after = young;
  await sleep(200);
  expect(young).toBe(after);
  releaser.stop();
});

test("the end of a large upload releases memory at most once per interval, and collects otherwise", async () => {
  const calls: string[] = [];
  const releaser = createMemoryReleaser(
    { full: () => calls.push("full"), release: () => calls.push("release") },
    1_000,
  );
  const large = () => put({ "content-length": String(64 * 1024 * 1024) });
  releaser.track(large())();
  await sleep(200);
  expect(calls).toEqual(["release"]);
  releaser.track(large())();
  await sleep(200);
  expect(calls).toEqual(["release", "full"]);
  await sleep(800);
  releaser.track(large())();
  await sleep(200);
  expect(calls).toEqual(["release", "full", "release"]);
  releaser.track(put({ "content-length": "4096" }))();
  await sleep(200);
  expect(calls).toHaveLength(3);
  releaser.stop();
});

test("on Bun the runtime's collector has a young-generation collection and a release", async () => {
  const { runtimeCollector } = await import("../../src/runtime/memory-release.ts");
  const collector = runtimeCollector();
  expect(typeof collector?.full).toBe("function");
  expect(typeof collector?.young).toBe("function");
  expect(typeof collector?.release).toBe("function");
  collector?.young?.();
  collector?.release?.();
});

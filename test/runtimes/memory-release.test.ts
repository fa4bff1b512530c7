/**
 * The server gives memory back around large uploads: collections while one runs and once after
 * the last ends, none for small requests, and none left scheduled after stop.
 */
import { expect, test } from "bun:test";
import { createMemoryReleaser } from "../../src/runtime/memory-release.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const put = (headers: Record<string, string>, body: BodyInit | null = "x") =>
  new Request("http://localhost/v1/artifacts/s/t/log", { method: "PUT", headers, body });

test("a large upload is collected while it runs and once after it ends; small requests never", async () => {
  let collections = 0;
  const releaser = createMemoryReleaser(() => collections++);
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
  const releaser = createMemoryReleaser(() => collections++);
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

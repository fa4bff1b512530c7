/**
 * A read that races a delete or a replacement of what it looked up: it gets a complete version
 * (the one that is current when it opens) or "not found", never a backend error or a false
 * corruption. The race is made exact: the fs backend's `get` has looked at the file (it opens
 * it on the first read), then the change happens, then the reader opens it.
 */
import { describe, expect, test } from "bun:test";
import type { StorageBackend } from "../../src/contracts/storage-backend.ts";
import type { ArtifactRef } from "../../src/contracts/types.ts";
import { freshStorePerTest, makeLog, type TestStore } from "../helpers/store.ts";

const open = freshStorePerTest();
const series = { specName: "s", taskId: "t", type: "log" } as const;
const OLD = makeLog(40, 1);
const NEW = makeLog(400, 2);

/** A store whose next `get` of `key` runs `change` after looking at the object, before it is read. */
async function racingStore(): Promise<{ fixture: TestStore; arm(key: string, change: () => Promise<unknown>): void }> {
  let armed: { key: string; change: () => Promise<unknown> } | undefined;
  const fixture = await open(
    { versioningEnabled: true },
    (backend) =>
      ({
        ...backend,
        async get(key, options) {
          const object = await backend.get(key, options);
          if (armed?.key === key) {
            const { change } = armed;
            armed = undefined;
            await change();
          }
          return object;
        },
      }) satisfies StorageBackend,
  );
  await fixture.store.upload({ ...series, content: OLD });
  await fixture.store.upload({ ...series, content: NEW });
  return {
    fixture,
    arm(key, change) {
      armed = { key, change };
    },
  };
}

/** Read as the HTTP routes read: opened, then streamed. */
async function openAndRead(fixture: TestStore, target: ArtifactRef): Promise<string> {
  return new Response((await fixture.store.open(target)).body).text();
}

async function expectNothingFlagged(fixture: TestStore): Promise<void> {
  const flagged = (await fixture.store.search({})).filter((item) => item.integrity !== "ok");
  expect(flagged).toEqual([]);
  expect(fixture.logs.filter((entry) => entry.level === "error")).toEqual([]);
}

describe("a download racing a change of what it looked up (fs, versioning on)", () => {
  test("the current version deleted in between: the latest read gets the version now current, whole", async () => {
    const { fixture, arm } = await racingStore();
    arm("s/t/log.txt.gz", () => fixture.store.delete({ ...series, version: 2 }));
    expect(await openAndRead(fixture, series)).toBe(OLD);
    await expectNothingFlagged(fixture);
  });

  test("that version asked for by number and deleted in between: not found", async () => {
    const { fixture, arm } = await racingStore();
    arm("s/t/log.txt.gz", () => fixture.store.delete({ ...series, version: 2 }));
    const ref: ArtifactRef = { ...series, version: 2 };
    await expect(fixture.store.downloadText(ref)).rejects.toMatchObject({ code: "E_NOT_FOUND" });
    await expectNothingFlagged(fixture);
  });

  test("every version deleted in between: not found (no backend error)", async () => {
    const { fixture, arm } = await racingStore();
    arm("s/t/log.txt.gz", () => fixture.store.delete(series));
    await expect(openAndRead(fixture, series)).rejects.toMatchObject({ code: "E_NOT_FOUND" });
    await expectNothingFlagged(fixture);
  });

  test("a kept version moved to the seed path in between (its newer one deleted): it is read from there", async () => {
    const { fixture, arm } = await racingStore();
    arm("s/t/versions/v1/log.txt.gz", () => fixture.store.delete({ ...series, version: 2 }));
    expect(await openAndRead(fixture, { ...series, version: 1 })).toBe(OLD);
    await expectNothingFlagged(fixture);
  });

  test("a new version published in between: the latest read gets a complete version, verified", async () => {
    const { fixture, arm } = await racingStore();
    const NEWEST = makeLog(10, 3);
    arm("s/t/log.txt.gz", () => fixture.store.upload({ ...series, content: NEWEST }));
    expect([NEW, NEWEST]).toContain(await openAndRead(fixture, series));
    expect(await fixture.store.downloadText({ ...series, version: 2 })).toBe(NEW);
    await expectNothingFlagged(fixture);
  });
});

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

/**
 * A replacement (versioning off) whose bytes move onto the seed path between a reader's lookup
 * and its open, with nothing committed in between: the reader must not take the lookup's
 * confirmation for one made after opening (record-cache.ts answers it from the change stamp).
 */
describe("a download racing a replacement that moves bytes onto the seed path (fs, versioning off)", () => {
  const SEED = "s/t/log.txt.gz";

  /** `replace` runs when the reader gets the seed path; its move is held until `moveNow`. */
  async function replacingStore() {
    let held: (() => void) | undefined;
    let replacing = false;
    let onGet: (() => Promise<void>) | undefined;
    let moveDone: () => void = () => {};
    const moved = new Promise<void>((resolve) => {
      moveDone = resolve;
    });
    const fixture = await open(
      { versioningEnabled: false },
      (backend) =>
        ({
          ...backend,
          async get(key, options) {
            if (key === SEED && onGet) {
              const run = onGet;
              onGet = undefined;
              await run();
            }
            return backend.get(key, options);
          },
          async move(from, to) {
            const holding = to === SEED && replacing;
            if (holding) await new Promise<void>((resolve) => (held = resolve));
            const result = await (backend.move as NonNullable<StorageBackend["move"]>)(from, to);
            if (holding) {
              moveDone();
              // Committing waits a little: the reader confirms while nothing was committed since the move.
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return result;
          },
        }) satisfies StorageBackend,
    );
    await fixture.store.upload({ ...series, content: OLD });
    replacing = true;
    const untilHeld = async () => {
      while (!held) await new Promise((resolve) => setTimeout(resolve, 1));
    };
    return {
      fixture,
      moveNow: async () => {
        await untilHeld();
        held?.();
        await moved;
      },
      untilHeld,
      onGet(run: () => Promise<void>) {
        onGet = run;
      },
    };
  }

  test("looked up before the replacement's mark: the read gets the old or the new version, verified", async () => {
    const { fixture, moveNow, onGet } = await replacingStore();
    let replacing: Promise<unknown> = Promise.resolve();
    onGet(async () => {
      replacing = fixture.store.upload({ ...series, content: NEW });
      await moveNow();
    });
    expect([OLD, NEW]).toContain(await openAndRead(fixture, series));
    await replacing;
    expect(await fixture.store.downloadText(series)).toBe(NEW);
    await expectNothingFlagged(fixture);
  });

  test("looked up while the replacement is publishing: the read gets the old or the new version, verified", async () => {
    const { fixture, moveNow, untilHeld, onGet } = await replacingStore();
    const replacing = fixture.store.upload({ ...series, content: NEW });
    await untilHeld();
    onGet(moveNow);
    expect([OLD, NEW]).toContain(await openAndRead(fixture, series));
    await replacing;
    expect(await fixture.store.downloadText(series)).toBe(NEW);
    await expectNothingFlagged(fixture);
  });
});

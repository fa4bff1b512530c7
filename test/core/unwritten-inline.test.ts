/** The list of versions a process committed inline and has not written out stays bounded, oldest out first. */
import { expect, test } from "bun:test";
import { createUnwrittenInline } from "../../src/core/unwritten-inline.ts";

test("past its bound the oldest ids leave first; written ones leave at once", () => {
  const unwritten = createUnwrittenInline(3);
  for (const id of [1, 2, 3, 4]) unwritten.add(id);
  expect([1, 2, 3, 4].map((id) => unwritten.has(id))).toEqual([false, true, true, true]);
  unwritten.delete([3]);
  unwritten.add(5);
  expect([2, 3, 4, 5].map((id) => unwritten.has(id))).toEqual([true, false, true, true]);
});

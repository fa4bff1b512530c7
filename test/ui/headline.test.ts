/** What a failed test shows before it is expanded: the line that says what went wrong. */
import { describe, expect, test } from "bun:test";
import { createStructureExtractor } from "../../src/core/structure/extract.ts";
import { messageHeadline } from "../../src/http/ui/view-test.tsx";

function failureOf(report: string): string | null {
  const extractor = createStructureExtractor("test");
  extractor?.write(new TextEncoder().encode(report));
  return extractor?.finish().tests.find((test) => test.status === "failed")?.message ?? null;
}

describe("a failure's headline", () => {
  test("Playwright: its message attribute is the test's path; the headline is the error inside", () => {
    // The start of a failure in dorny/test-reporter's __tests__/fixtures/external/java/playwright-report.xml.
    const report = `<testsuites><testsuite name="tests/grid.spec.ts"><testcase name="Grid › sorts" classname="tests/grid.spec.ts" time="10"><failure message="grid.spec.ts:202:11 should display correct data when sorting by OFF FORM column" type="FAILURE"><![CDATA[  [chrome] › tests/grid.spec.ts:202:11 › Grid › Column Sorting › AmFb Column Sets › should display correct data when sorting by OFF FORM column › Sort grid by OFF FORM in ascending order 

    Test timeout of 10000ms exceeded.

    Error: locator.click: Target closed
    =========================== logs ===========================
]]></failure></testcase></testsuite></testsuites>`;
    const message = failureOf(report);
    expect(message).toStartWith("grid.spec.ts:202:11 should display correct data");
    expect(message).toContain("Test timeout of 10000ms exceeded.");
    expect(messageHeadline(message)).toBe("Error: locator.click: Target closed");
  });

  test("a message without an error line shows its first line", () => {
    expect(messageHeadline("\n  expected 2 got 3\n  at x.ts:1")).toBe("expected 2 got 3");
    expect(messageHeadline(null)).toBe("");
  });
});

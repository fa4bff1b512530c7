/**
 * One definition of the search parameters: what the HTTP client writes, the server reads back
 * as the same filters, and /openapi.json documents exactly those parameters.
 */
import { describe, expect, test } from "bun:test";
import { createClient } from "@libsql/client";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { parseSearchParameters, SEARCH_PARAMETERS, searchParametersOf } from "../../src/contracts/http-parameters.ts";
import type { SearchFilters } from "../../src/contracts/types.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { createApp } from "../../src/http/app.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";

describe("search parameters", () => {
  test("every filter the client sends is read back by the server as the same filter", () => {
    const filters: SearchFilters = {
      specName: "chat-app",
      taskId: "1.1",
      type: "log",
      tags: ["ci", "nightly"],
      anyTags: ["a", "b"],
      since: "2026-12-01T00:00:00.000Z",
      until: "2026-12-02T00:00:00.000Z",
      latestOnly: true,
      pinned: false,
      integrity: "corrupt",
      limit: 25,
      cursor: "abc",
      failedTest: "adds numbers",
      touchedPath: "src/",
      hasErrors: true,
      hasFailures: false,
      parseError: true,
      hasSecrets: true,
      secretRule: "github-token",
    };
    expect(parseSearchParameters(searchParametersOf(filters))).toEqual(filters);
    // Every row of the table is exercised above.
    expect(SEARCH_PARAMETERS.map((parameter) => String(parameter.field)).sort()).toEqual(Object.keys(filters).sort());
  });

  test("an unknown parameter is refused naming the known ones; a viewer form's blanks are ignored", () => {
    expect(() => parseSearchParameters(new URLSearchParams("spec=s&colour=red"))).toThrow(
      /unknown search parameter colour; use spec, task/,
    );
    expect(parseSearchParameters(new URLSearchParams("spec=+s+&type=&colour=red"), { form: true })).toEqual({
      specName: "s",
    });
  });

  test("/openapi.json documents exactly the parameters the server reads", async () => {
    const store = createArtifactStore({
      backend: createMemoryBackend(),
      metadata: await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) }),
    });
    const app = createApp({ store });
    const document = await (await app.request("/openapi.json")).json();
    const parameters = document.paths["/v1/artifacts"].get.parameters as { name: string; schema: { type: string } }[];
    expect(parameters.map((parameter) => parameter.name)).toEqual(SEARCH_PARAMETERS.map((parameter) => parameter.name));
    expect(parameters.find((parameter) => parameter.name === "limit")?.schema.type).toBe("integer");
    await store.close();
  });
});

/** Search, stats, the retention sweep, and the operational endpoints. */
import type { Hono } from "hono";
import { parseDuration } from "../config/section.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { SearchFilters } from "../core/search.ts";
import { authorize, requireUnlimited } from "./auth.ts";
import { refuseBody } from "./body.ts";
import type { AppEnv, RouteContext } from "./env.ts";
import { openApiDocument } from "./openapi.ts";

const SEARCH_PARAMETERS = new Set([
  "spec",
  "task",
  "type",
  "tag",
  "any_tag",
  "since",
  "until",
  "limit",
  "cursor",
  "latest",
  "pinned",
  "integrity",
  "failed_test",
  "touched",
  "has_errors",
  "has_failures",
  "parse_error",
]);

export function registerAdminRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  const { store } = context;

  app.get("/v1/artifacts", async (c) => {
    const principal = c.get("principal");
    const url = new URL(c.req.url);
    const unknown = [...url.searchParams.keys()].find((key) => !SEARCH_PARAMETERS.has(key));
    if (unknown) {
      throw new ArtifactStoreError(
        "E_INVALID_INPUT",
        `unknown search parameter ${unknown}; use ${[...SEARCH_PARAMETERS].join(", ")}`,
      );
    }
    const filters: SearchFilters = {};
    const single = (name: string) => url.searchParams.get(name) ?? undefined;
    let spec = single("spec");
    if (principal.specs && spec === undefined) {
      // A spec-limited token searches its own spec; with several, it must say which.
      if (principal.specs.size !== 1)
        throw new ArtifactStoreError("E_FORBIDDEN", "this token is limited to some specs: pass spec=");
      spec = [...principal.specs][0];
    }
    authorize(principal, "read", spec);
    if (spec !== undefined) filters.specName = spec;
    const task = single("task");
    if (task !== undefined) filters.taskId = task;
    const type = single("type");
    if (type !== undefined) filters.type = type;
    const tags = url.searchParams.getAll("tag");
    if (tags.length > 0) filters.tags = tags;
    const anyTags = url.searchParams.getAll("any_tag");
    if (anyTags.length > 0) filters.anyTags = anyTags;
    const since = single("since");
    if (since !== undefined) filters.since = since;
    const until = single("until");
    if (until !== undefined) filters.until = until;
    const limit = single("limit");
    if (limit !== undefined) filters.limit = parseInteger(limit, "limit");
    const cursor = single("cursor");
    if (cursor !== undefined) filters.cursor = cursor;
    if (isTrue(single("latest"))) filters.latestOnly = true;
    const pinned = single("pinned");
    if (pinned !== undefined) filters.pinned = isTrue(pinned);
    const integrity = single("integrity");
    if (integrity !== undefined) filters.integrity = integrity as "ok" | "corrupt";
    const failedTest = single("failed_test");
    if (failedTest !== undefined) filters.failedTest = failedTest;
    const touched = single("touched");
    if (touched !== undefined) filters.touchedPath = touched;
    for (const [parameter, field] of [
      ["has_errors", "hasErrors"],
      ["has_failures", "hasFailures"],
      ["parse_error", "parseError"],
    ] as const) {
      const value = single(parameter);
      if (value !== undefined) filters[field] = isTrue(value);
    }
    return c.json(await store.searchPage(filters));
  });

  app.get("/v1/stats", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "read");
    requireUnlimited(principal, "see usage of every spec");
    return c.json(await store.stats());
  });

  app.post("/v1/maintenance/cleanup", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "admin");
    requireUnlimited(principal, "run the retention sweep");
    await refuseBody(c.req.raw);
    const limit = c.req.query("limit");
    const report = await store.cleanup({
      dryRun: isTrue(c.req.query("dry_run")),
      ...(limit === undefined ? {} : { limit: parseInteger(limit, "limit") }),
    });
    return c.json(report);
  });

  app.post("/v1/maintenance/gc", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "admin");
    requireUnlimited(principal, "collect garbage");
    await refuseBody(c.req.raw);
    const grace = c.req.query("grace");
    return c.json(
      await store.gc({
        dryRun: isTrue(c.req.query("dry_run")),
        ...(grace === undefined ? {} : { graceMs: parseDurationParameter(grace, "grace") * 1000 }),
      }),
    );
  });

  app.post("/v1/maintenance/verify", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "admin");
    requireUnlimited(principal, "verify the whole store");
    await refuseBody(c.req.raw);
    return c.json(await store.verify({ deep: isTrue(c.req.query("deep")) }));
  });

  app.post("/v1/maintenance/reindex", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "admin");
    requireUnlimited(principal, "rebuild the metadata");
    await refuseBody(c.req.raw);
    return c.json(await store.reindex({ dryRun: isTrue(c.req.query("dry_run")) }));
  });

  app.get("/healthz", async (c) => {
    try {
      const quota = await store.quota();
      // Reads, deletes and cleanup work below the floor: the store stays healthy, and says so.
      const disk = await store.disk().catch(() => null);
      return c.json({ status: "ok", backend: store.backend.name, artifacts: quota.artifacts, disk });
    } catch (error) {
      throw new ArtifactStoreError("E_BACKEND_UNAVAILABLE", "metadata database unreachable", { cause: error });
    }
  });

  app.get("/metrics", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "read");
    requireUnlimited(principal, "read store-wide metrics");
    const body = context.metrics.render(store.metrics(), await store.quota());
    return c.body(body, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.get("/openapi.json", (c) => c.json(openApiDocument(store.types.map((type) => type.name))));
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ["1", "true", "yes", ""].includes(value.toLowerCase());
}

function parseDurationParameter(value: string, field: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined)
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be seconds or a duration such as 30m`, {
      details: { field },
    });
  return seconds;
}

function parseInteger(value: string, field: string): number {
  if (!/^\d{1,9}$/.test(value))
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be a positive integer`, { details: { field } });
  return Number(value);
}

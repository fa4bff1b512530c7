/** `POST /v1/maintenance/*`: the retention sweep, gc, verify and reindex (admin, every spec). */
import type { Hono } from "hono";
import { parseDuration } from "../config/section.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";
import { isOn, parseCount } from "../contracts/http-parameters.ts";
import { authorize, requireUnlimited } from "./auth.ts";
import { refuseBody } from "./body.ts";
import type { AppEnv, RouteContext } from "./env.ts";

export function registerMaintenanceRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  const { store } = context;

  app.post("/v1/maintenance/cleanup", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "admin");
    requireUnlimited(principal, "run the retention sweep");
    await refuseBody(c.req.raw);
    const limit = c.req.query("limit");
    const report = await store.cleanup({
      dryRun: isOn(c.req.query("dry_run")),
      ...(limit === undefined ? {} : { limit: parseCount(limit, "limit") }),
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
        dryRun: isOn(c.req.query("dry_run")),
        ...(grace === undefined ? {} : { graceMs: parseDurationParameter(grace, "grace") * 1000 }),
      }),
    );
  });

  app.post("/v1/maintenance/verify", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "admin");
    requireUnlimited(principal, "verify the whole store");
    await refuseBody(c.req.raw);
    return c.json(await store.verify({ deep: isOn(c.req.query("deep")) }));
  });

  app.post("/v1/maintenance/reindex", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "admin");
    requireUnlimited(principal, "rebuild the metadata");
    await refuseBody(c.req.raw);
    return c.json(await store.reindex({ dryRun: isOn(c.req.query("dry_run")) }));
  });
}

function parseDurationParameter(value: string, field: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined)
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be seconds or a duration such as 30m`, {
      details: { field },
    });
  return seconds;
}

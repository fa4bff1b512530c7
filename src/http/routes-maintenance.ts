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
  /** An admin action over the whole store: admin scope, no spec limit, parameters in the query only. */
  const adminAction = (
    path: string,
    what: string,
    run: (query: (name: string) => string | undefined) => Promise<unknown>,
  ) =>
    app.post(path, async (c) => {
      const principal = c.get("principal");
      authorize(principal, "admin");
      requireUnlimited(principal, what);
      await refuseBody(c.req.raw);
      return c.json(await run((name) => c.req.query(name)));
    });

  adminAction("/v1/maintenance/cleanup", "run the retention sweep", (query) => {
    const limit = query("limit");
    return store.cleanup({
      dryRun: isOn(query("dry_run")),
      ...(limit === undefined ? {} : { limit: parseCount(limit, "limit") }),
    });
  });
  adminAction("/v1/maintenance/gc", "collect garbage", (query) => {
    const grace = query("grace");
    return store.gc({
      dryRun: isOn(query("dry_run")),
      ...(grace === undefined ? {} : { graceMs: parseDurationParameter(grace, "grace") * 1000 }),
    });
  });
  adminAction("/v1/maintenance/verify", "verify the whole store", (query) =>
    store.verify({ deep: isOn(query("deep")) }),
  );
  adminAction("/v1/maintenance/reindex", "rebuild the metadata", (query) =>
    store.reindex({ dryRun: isOn(query("dry_run")) }),
  );
}

function parseDurationParameter(value: string, field: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined)
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be seconds or a duration such as 30m`, {
      details: { field },
    });
  return seconds;
}

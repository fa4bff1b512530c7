/** `GET /v1/artifacts`: search, with the parameters of `contracts/http-parameters.ts`. */
import type { Hono } from "hono";
import { ArtifactStoreError } from "../contracts/errors.ts";
import { parseSearchParameters } from "../contracts/http-parameters.ts";
import { authorize } from "./auth.ts";
import type { AppEnv, RouteContext } from "./env.ts";

export function registerSearchRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  const { store } = context;

  app.get("/v1/artifacts", async (c) => {
    const principal = c.get("principal");
    const url = new URL(c.req.url);
    const filters = parseSearchParameters(url.searchParams);
    let spec = filters.specName;
    if (principal.specs && spec === undefined) {
      // A spec-limited token searches its own spec; with several, it must say which.
      if (principal.specs.size !== 1)
        throw new ArtifactStoreError("E_FORBIDDEN", "this token is limited to some specs: pass spec=");
      spec = [...principal.specs][0];
    }
    authorize(principal, "read", spec);
    if (spec !== undefined) filters.specName = spec;
    return c.json(await store.searchPage(filters));
  });
}

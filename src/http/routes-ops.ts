/** The operational endpoints: usage stats, health, Prometheus metrics and the OpenAPI document. */
import type { Hono } from "hono";
import { ArtifactStoreError } from "../contracts/errors.ts";
import { authorize, requireUnlimited } from "./auth.ts";
import type { AppEnv, RouteContext } from "./env.ts";
import { openApiDocument } from "./openapi.ts";

export function registerOpsRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  const { store } = context;

  app.get("/v1/stats", async (c) => {
    const principal = c.get("principal");
    authorize(principal, "read");
    requireUnlimited(principal, "see usage of every spec");
    return c.json(await store.stats());
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

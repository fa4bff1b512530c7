/** What every route module shares with the app: Hono's per-request variables and the route context. */
import type { ArtifactStore } from "../core/store.ts";
import type { Principal } from "./auth.ts";
import type { HttpMetrics } from "./metrics.ts";

export interface AppEnv {
  /** `nonce`: the viewer's per-page CSP nonce. */
  Variables: { principal: Principal; nonce: string };
}

/** What the route modules get from `createApp`. */
export interface RouteContext {
  store: ArtifactStore;
  bodyLimit: number;
  metrics: HttpMetrics;
}

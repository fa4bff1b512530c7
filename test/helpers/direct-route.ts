/**
 * What the tests of the router's shortcuts (a plain download, a plain upload) share: the tokens
 * they send and a count of the requests the router matched.
 */
import type { Hono } from "hono";
import type { TokenConfig } from "../../src/config/schema.ts";
import type { AppEnv } from "../../src/http/env.ts";
import { sha256Hex } from "./store.ts";

export const TOKENS = {
  reader: "reader-token-1",
  writer: "writer-token-1",
  /** Limited to `another-spec`, with the scope `tokenConfig` is given. */
  other: "other-spec-token-1",
  admin: "admin-token-1",
};

export async function tokenConfig(otherScope: "read" | "write"): Promise<TokenConfig[]> {
  return [
    { name: "reader", sha256: await sha256Hex(TOKENS.reader), scopes: ["read"] },
    { name: "writer", sha256: await sha256Hex(TOKENS.writer), scopes: ["write"] },
    { name: "other", sha256: await sha256Hex(TOKENS.other), scopes: [otherScope], specs: ["another-spec"] },
    { name: "admin", sha256: await sha256Hex(TOKENS.admin), scopes: ["admin"] },
  ];
}

/** Counts the router's matches from now on. Hono's router settles its match on its first request: send one before. */
export function countRouterMatches(app: Hono<AppEnv>): { count: number } {
  const routed = { count: 0 };
  const match = app.router.match.bind(app.router);
  app.router.match = (method, path) => {
    routed.count++;
    return match(method, path);
  };
  return routed;
}

/**
 * What the tests of the router's shortcuts (a plain download, a plain upload) share: the tokens
 * they send, a count of the requests the router matched, and what a request leaves in the log
 * and in `/metrics`.
 */
import type { Hono } from "hono";
import type { TokenConfig } from "../../src/config/schema.ts";
import type { AppEnv } from "../../src/http/env.ts";
import { sha256Hex, type TestStore } from "./store.ts";

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

/** The `request` lines of a recorded log, their durations set to 0. */
export function requestLines(logs: TestStore["logs"]): Record<string, unknown>[] {
  return logs.filter((line) => line.message === "request").map((line) => ({ ...line.fields, ms: 0 }));
}

/** The request-count lines of the app's `/metrics`, but those of `/metrics` itself (asked with `token`). */
export async function requestCounts(app: Hono<AppEnv>, token?: string): Promise<string[]> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const text = await (await app.request("http://localhost/metrics", { headers })).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("artifact_store_http_requests_total") && !line.includes("/metrics"));
}

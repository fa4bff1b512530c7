/**
 * `GET /v1/compare`: two attempts of a task (or two tasks) compared, for test reports (tests
 * newly failing, fixed, still failing, added, removed) and diffs (files whose change differs).
 */
import type { Hono } from "hono";
import { ArtifactStoreError } from "../contracts/errors.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import { compareDiffs, compareTestReports, type DiffComparison, type TestComparison } from "../core/compare.ts";
import { assertValidName, assertValidVersion } from "../core/names.ts";
import type { ArtifactStore } from "../core/store.ts";
import { authorize, type Principal } from "./auth.ts";
import type { AppEnv, RouteContext } from "./env.ts";

/**
 * `task` or `task@version` (the latest version when none is named), in `spec` and of `type`.
 *
 * @example
 * parseComparedRef("chat-app", "test", "task-42@3"); // { specName: "chat-app", taskId: "task-42", type: "test", version: 3 }
 */
export function parseComparedRef(specName: string, type: string, value: string | undefined, name: string): ArtifactRef {
  if (!value) throw new ArtifactStoreError("E_INVALID_INPUT", `${name} is required: a task id, or task@version`);
  const at = value.lastIndexOf("@");
  const ref: ArtifactRef = {
    specName: assertValidName("specName", specName),
    taskId: assertValidName("taskId", at === -1 ? value : value.slice(0, at)),
    type: assertValidName("type", type),
  };
  if (at !== -1) {
    const version = value.slice(at + 1);
    if (!/^\d{1,15}$/.test(version))
      throw new ArtifactStoreError("E_INVALID_INPUT", `${name}: the version after @ must be a positive integer`);
    ref.version = assertValidVersion(Number(version));
  }
  return ref;
}

/** Compares the versions `before` and `after` name, as test reports or diffs (what `before` holds decides). */
export async function compareVersions(
  store: ArtifactStore,
  principal: Principal,
  query: Record<string, string | undefined>,
): Promise<TestComparison | DiffComparison> {
  const specName = query.spec ?? "";
  const type = query.type ?? "";
  const before = parseComparedRef(specName, type, query.before, "before");
  const after = parseComparedRef(specName, type, query.after, "after");
  authorize(principal, "read", before.specName);
  const metadata = await store.stat(before);
  const kind = metadata?.summary?.kind ?? (type === "diff" || type === "test" ? type : null);
  if (kind === "test") return compareTestReports(store, before, after);
  if (kind === "diff") return compareDiffs(store, before, after);
  if (!metadata) throw new ArtifactStoreError("E_NOT_FOUND", `no artifact ${specName}/${before.taskId}/${type}`);
  throw new ArtifactStoreError("E_INVALID_INPUT", `only test reports and diffs can be compared, not a ${kind ?? type}`);
}

export function registerCompareRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  app.get("/v1/compare", async (c) => c.json(await compareVersions(context.store, c.get("principal"), c.req.query())));
}

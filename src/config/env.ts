/** `ARTIFACT_STORE_*` environment variables (and Workers bindings) as config overrides. Pure. */
import { fail, type Raw } from "./section.ts";

/**
 * Applies `ARTIFACT_STORE_<KEY>` overrides (`__` between nesting levels, case-insensitive) to a
 * raw config document. Values are read as JSON when they parse as JSON (`true`, `30`, `null`,
 * `[...]`), as strings otherwise.
 *
 * @example
 * applyEnvOverrides({}, { ARTIFACT_STORE_S3__BUCKET: "ci-artifacts" });
 * // → { artifact_store: { s3: { bucket: "ci-artifacts" } } }
 */
export function applyEnvOverrides(document: unknown, env: Record<string, string | undefined>): Raw {
  const base = (typeof document === "object" && document !== null ? structuredClone(document) : {}) as Raw;
  base.artifact_store ??= {};
  const root = base.artifact_store as Raw;
  if (typeof root !== "object" || root === null || Array.isArray(root)) {
    fail("artifact_store", "a mapping of keys", root);
  }
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (value === undefined || !name.startsWith("ARTIFACT_STORE_") || NOT_CONFIG_KEYS.has(name)) continue;
    const path = name.slice("ARTIFACT_STORE_".length).toLowerCase().split("__");
    let target = root;
    for (const segment of path.slice(0, -1)) {
      const next = target[segment];
      if (typeof next !== "object" || next === null || Array.isArray(next)) target[segment] = {};
      target = target[segment] as Raw;
    }
    target[path.at(-1) as string] = parseEnvValue(value);
  }
  return base;
}

/** Variables in the same namespace that are not config keys: the config file path and the CLI's client settings. */
export const NOT_CONFIG_KEYS = new Set([
  "ARTIFACT_STORE_CONFIG",
  "ARTIFACT_STORE_URL",
  "ARTIFACT_STORE_TOKEN",
  // The engine switch of the Bun runtime (src/runtime/engines.ts), not a setting of a store.
  // The test suite's switches are named TEST_* and never reach the config.
  "ARTIFACT_STORE_ENGINE_ZLIB",
]);

function parseEnvValue(value: string): unknown {
  const trimmed = value.trim();
  if (/^(true|false|null|-?\d+(\.\d+)?)$/.test(trimmed) || /^[[{"]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value;
    }
  }
  return value;
}

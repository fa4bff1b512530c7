import { describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { applyEnvOverrides, DEFAULT_CONFIG_YAML, parseConfig } from "../../src/config/schema.ts";

const configError = (redaction: unknown): string => {
  try {
    parseConfig({ artifact_store: { redaction } });
  } catch (error) {
    expect((error as { code?: string }).code).toBe("E_CONFIG");
    return (error as Error).message;
  }
  throw new Error("expected E_CONFIG");
};

describe("redaction config", () => {
  test("defaults: mask every type, every rule on, generic at 3.5 bits per character from 16 characters", () => {
    const { redaction } = parseConfig({});
    expect(redaction).toEqual({
      mode: "mask",
      types: {},
      disabledRules: [],
      valuesFromEnv: [],
      generic: { enabled: true, minEntropy: 3.5, minLength: 16 },
    });
    // The documented defaults parse to the same thing.
    expect(parseConfig(parseYaml(DEFAULT_CONFIG_YAML)).redaction).toEqual(redaction);
  });

  test("modes per type, disabled rules, values from env and the generic rule's threshold are read", () => {
    const { redaction } = parseConfig({
      artifact_store: {
        types: { coverage: { file_name: "coverage.json", mime_type: "application/json" } },
        redaction: {
          mode: "flag",
          types: { log: "mask", coverage: "off", test: "reject" },
          disabled_rules: ["generic-secret", "url-credentials"],
          values_from_env: ["NPM_TOKEN", "DEPLOY_KEY"],
          generic: { min_entropy: 4, min_length: 20 },
        },
      },
    });
    expect(redaction.mode).toBe("flag");
    expect(redaction.types).toEqual({ log: "mask", coverage: "off", test: "reject" });
    expect(redaction.disabledRules).toEqual(["generic-secret", "url-credentials"]);
    expect(redaction.valuesFromEnv).toEqual(["NPM_TOKEN", "DEPLOY_KEY"]);
    expect(redaction.generic).toEqual({ enabled: true, minEntropy: 4, minLength: 20 });
  });

  test("ARTIFACT_STORE_REDACTION__* variables override the file", () => {
    const raw = applyEnvOverrides(
      {},
      { ARTIFACT_STORE_REDACTION__MODE: "reject", ARTIFACT_STORE_REDACTION__VALUES_FROM_ENV: '["CI_TOKEN"]' },
    );
    const { redaction } = parseConfig(raw);
    expect(redaction.mode).toBe("reject");
    expect(redaction.valuesFromEnv).toEqual(["CI_TOKEN"]);
  });

  test("bad values are refused with a message naming the key and the expected form", () => {
    expect(configError({ mode: "hide" })).toContain("artifact_store.redaction.mode must be mask | flag | reject | off");
    expect(configError({ types: { logs: "mask" } })).toContain(
      "artifact_store.redaction.types.logs must be a known artifact type (diff, log, test)",
    );
    expect(configError({ types: { log: "blur" } })).toContain(
      "artifact_store.redaction.types.log must be mask | flag | reject | off",
    );
    expect(configError({ disabled_rules: ["github-tokens"] })).toContain("did you mean github-token?");
    expect(configError({ values_from_env: ["NPM TOKEN"] })).toContain(
      "artifact_store.redaction.values_from_env must be a list of environment variable names",
    );
    expect(configError({ generic: { min_entropy: 9 } })).toContain("artifact_store.redaction.generic.min_entropy");
    expect(configError({ generic: { min_length: 4 } })).toContain("artifact_store.redaction.generic.min_length");
    expect(configError({ mdoe: "mask" })).toContain(
      "unknown key artifact_store.redaction.mdoe (did you mean artifact_store.redaction.mode?)",
    );
  });
});

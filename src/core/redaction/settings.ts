/**
 * Redaction settings (the `redaction:` config section) and the one place that turns them into a
 * scanner for an artifact type: every upload path (streamed, in memory, gzip, live appends)
 * asks {@link createRedaction} and nothing else.
 */

import { compileScannerRules, type KnownValue } from "./anchors.ts";
import { FIXED_RULES, GENERIC_DEFAULTS, genericAssignmentRule, PEM_RULE_NAME, type SecretRule } from "./rules.ts";
import { createSecretScanner, type RedactionMode, type SecretScanner } from "./scanner.ts";

export interface RedactionConfig {
  /** The mode of every type not listed in `types`. */
  mode: RedactionMode;
  /** Per artifact type. */
  types: Record<string, RedactionMode>;
  /** Built-in rule names to skip. */
  disabledRules: string[];
  /** Environment variables (Workers: bindings) whose values are masked wherever they appear. */
  valuesFromEnv: string[];
  generic: { enabled: boolean; minEntropy: number; minLength: number };
}

export const REDACTION_MODES: readonly RedactionMode[] = ["mask", "flag", "reject", "off"];

export const DEFAULT_REDACTION: RedactionConfig = {
  mode: "mask",
  types: {},
  disabledRules: [],
  valuesFromEnv: [],
  generic: { enabled: true, ...GENERIC_DEFAULTS },
};

/** Values shorter than this are not masked by value (they would mask ordinary words and numbers). */
export const MIN_KNOWN_VALUE_LENGTH = 8;

export interface Redaction {
  modeFor(type: string): RedactionMode;
  /** A fresh scanner for one piece of content of `type`, or undefined when its mode is `off`. */
  scannerFor(type: string): SecretScanner | undefined;
  /** Rule names a finding may carry (bounded: metrics labels and search filters use them). */
  ruleNames(): string[];
}

/**
 * @example
 * const redaction = createRedaction(DEFAULT_REDACTION, [{ rule: "env:NPM_TOKEN", value: process.env.NPM_TOKEN ?? "" }]);
 * const scanner = redaction.scannerFor("log");
 */
export function createRedaction(config: RedactionConfig = DEFAULT_REDACTION, values: KnownValue[] = []): Redaction {
  const disabled = new Set(config.disabledRules);
  const rules: SecretRule[] = FIXED_RULES.filter((rule) => !disabled.has(rule.name));
  if (config.generic.enabled && !disabled.has("generic-secret")) {
    rules.push(genericAssignmentRule({ minEntropy: config.generic.minEntropy, minLength: config.generic.minLength }));
  }
  const knownValues = usableValues(values);
  const privateKeys = !disabled.has(PEM_RULE_NAME);
  const names = [
    ...rules.map((rule) => rule.name),
    ...(privateKeys ? [PEM_RULE_NAME] : []),
    ...new Set(knownValues.map((value) => value.rule)),
  ];
  const markerRules = new Set(names);
  const compiled = compileScannerRules({ rules, privateKeys, knownValues, markerRules });
  const modeFor = (type: string): RedactionMode => config.types[type] ?? config.mode;
  return {
    modeFor,
    scannerFor(type) {
      const mode = modeFor(type);
      if (mode === "off") return undefined;
      return createSecretScanner({ mode, rules, privateKeys, knownValues, markerRules, compiled });
    },
    ruleNames: () => [...names],
  };
}

/** Drops empty and short values, and repeats (one value named twice keeps its first name). */
function usableValues(values: KnownValue[]): KnownValue[] {
  const seen = new Set<string>();
  const usable: KnownValue[] = [];
  for (const value of values) {
    if (typeof value.value !== "string" || value.value.length < MIN_KNOWN_VALUE_LENGTH || seen.has(value.value))
      continue;
    seen.add(value.value);
    usable.push(value);
  }
  return usable;
}

/** The store's own credentials, by the config keys and environment variables that carry them. */
const CREDENTIAL_ENV = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ARTIFACT_STORE_TOKEN"];

/**
 * The values to mask: each `values_from_env` variable's value (`env:NAME`) and the store's own
 * credentials (`store-credential`) from its config and the conventional environment variables.
 * Returns the names of listed variables that are unset or too short to mask, for a warning.
 */
export function knownValuesFrom(
  config: RedactionConfig,
  credentials: Array<string | undefined>,
  env: Record<string, unknown>,
): { values: KnownValue[]; skipped: string[] } {
  const values: KnownValue[] = [];
  const skipped: string[] = [];
  for (const name of config.valuesFromEnv) {
    const value = env[name];
    if (typeof value === "string" && value.length >= MIN_KNOWN_VALUE_LENGTH)
      values.push({ rule: `env:${name}`, value });
    else skipped.push(name);
  }
  for (const name of CREDENTIAL_ENV) {
    const value = env[name];
    if (typeof value === "string") values.push({ rule: "store-credential", value });
  }
  for (const value of credentials) if (value) values.push({ rule: "store-credential", value });
  return { values, skipped };
}

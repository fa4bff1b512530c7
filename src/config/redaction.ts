/** The `redaction:` section: which secrets are masked, flagged or refused, per artifact type. */

import type { Logger } from "../contracts/types.ts";
import type { KnownValue } from "../core/redaction/anchors.ts";
import { BUILT_IN_RULE_NAMES } from "../core/redaction/rules.ts";
import type { RedactionMode } from "../core/redaction/scanner.ts";
import {
  DEFAULT_REDACTION,
  knownValuesFrom,
  MIN_KNOWN_VALUE_LENGTH,
  REDACTION_MODES,
  type RedactionConfig,
} from "../core/redaction/settings.ts";
import { editDistance, fail, type Section } from "./section.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Parses `artifact_store.redaction`; `typeNames` are the types the store knows (built-in and declared). */
export function parseRedaction(section: Section, typeNames: readonly string[]): RedactionConfig {
  const modes = REDACTION_MODES.join(" | ");
  const mode = section.enumeration("mode", REDACTION_MODES, DEFAULT_REDACTION.mode);
  const typesSection = section.section("types");
  const types: Record<string, RedactionMode> = {};
  for (const [name, value] of typesSection.entries()) {
    if (!typeNames.includes(name))
      fail(typesSection.key(name), `a known artifact type (${typeNames.join(", ")})`, name);
    if (typeof value !== "string" || !REDACTION_MODES.includes(value as RedactionMode))
      fail(typesSection.key(name), modes, value);
    typesSection.get(name);
    types[name] = value as RedactionMode;
  }
  const disabledRules = section.stringList("disabled_rules");
  for (const rule of disabledRules) {
    if (!BUILT_IN_RULE_NAMES.includes(rule)) {
      const suggestion = BUILT_IN_RULE_NAMES.find((known) => editDistance(known, rule) <= 3);
      fail(
        section.key("disabled_rules"),
        `a list of rule names${suggestion ? ` (did you mean ${suggestion}?)` : ""}: ${BUILT_IN_RULE_NAMES.join(", ")}`,
        rule,
      );
    }
  }
  const valuesFromEnv = section.stringList("values_from_env");
  for (const name of valuesFromEnv) {
    if (!ENV_NAME.test(name)) fail(section.key("values_from_env"), "a list of environment variable names", name);
  }
  const genericSection = section.section("generic");
  const generic = {
    enabled: genericSection.boolean("enabled", DEFAULT_REDACTION.generic.enabled),
    minEntropy: genericSection.number("min_entropy", DEFAULT_REDACTION.generic.minEntropy, { min: 0, max: 8 }),
    minLength: genericSection.number("min_length", DEFAULT_REDACTION.generic.minLength, {
      min: 8,
      max: 256,
      integer: true,
    }),
  };
  genericSection.rejectUnknownKeys();
  section.rejectUnknownKeys();
  return { mode, types, disabledRules, valuesFromEnv, generic };
}

/**
 * The values a store masks by value: each `redaction.values_from_env` variable of `env` (a
 * process environment, or a Worker's bindings) and the store's own credentials. Logs (names
 * only) the listed variables that are unset or too short to mask.
 *
 * @example
 * const store = createArtifactStore({ backend, metadata, config, secretValues: secretValuesFor(config, process.env) });
 */
export function secretValuesFor(
  config: {
    redaction: RedactionConfig;
    s3: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string };
    gcs: { accessToken?: string };
    metadata: { authToken?: string };
  },
  env: Record<string, unknown>,
  logger?: Pick<Logger, "warn">,
): KnownValue[] {
  const { values, skipped } = knownValuesFrom(
    config.redaction,
    [
      config.s3.accessKeyId,
      config.s3.secretAccessKey,
      config.s3.sessionToken,
      config.gcs.accessToken,
      config.metadata.authToken,
    ],
    env,
  );
  if (skipped.length > 0) {
    logger?.warn(
      `redaction.values_from_env: ${skipped.join(", ")} unset or shorter than ${MIN_KNOWN_VALUE_LENGTH} characters; not masked by value`,
    );
  }
  return values;
}

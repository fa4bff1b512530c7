/**
 * Reading one level of a raw config document with errors that name the full key, and the
 * value forms config accepts (sizes, durations).
 */
import { ArtifactStoreError } from "../contracts/errors.ts";

export const GIB = 1024 ** 3;

export type Raw = Record<string, unknown>;

/** Reads and checks one level of the raw config, reporting problems by their full key. */
/** YAML 1.1's boolean words (https://yaml.org/type/bool.html), compared lower-cased. */
const YAML11_TRUE = new Set(["true", "yes", "y", "on"]);
const YAML11_FALSE = new Set(["false", "no", "n", "off"]);

export class Section {
  private readonly seen = new Set<string>();
  constructor(
    private readonly raw: Raw,
    private readonly path: string,
  ) {}

  static of(value: unknown, path: string): Section {
    if (value === undefined || value === null) return new Section({}, path);
    if (typeof value !== "object" || Array.isArray(value)) fail(path, "a mapping of keys", value);
    return new Section(value as Raw, path);
  }

  key(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  get(name: string): unknown {
    this.seen.add(name);
    return this.raw[name];
  }

  section(name: string): Section {
    return Section.of(this.get(name), this.key(name));
  }

  /**
   * A boolean key. Besides YAML 1.2's true/false, the YAML 1.1 spellings PyYAML writes and
   * reads (yes/no, on/off, y/n, any case) are taken, as are the same words from environment
   * variables.
   */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.get(name);
    if (value === undefined || value === null) return fallback;
    if (typeof value === "boolean") return value;
    const word = typeof value === "string" ? value.trim().toLowerCase() : undefined;
    if (word !== undefined && YAML11_TRUE.has(word)) return true;
    if (word !== undefined && YAML11_FALSE.has(word)) return false;
    return fail(this.key(name), "true or false (or yes/no, on/off)", value);
  }

  string(name: string, fallback: string): string {
    return this.optionalString(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    const value = this.get(name);
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") fail(this.key(name), "a string", value);
    return value;
  }

  number(name: string, fallback: number, check: { min?: number; max?: number; integer?: boolean } = {}): number {
    const value = this.get(name);
    if (value === undefined || value === null) return fallback;
    const valid =
      typeof value === "number" &&
      Number.isFinite(value) &&
      (check.min === undefined || value >= check.min) &&
      (check.max === undefined || value <= check.max) &&
      (!check.integer || Number.isInteger(value));
    if (!valid) {
      const bounds = [
        check.min !== undefined ? `>= ${check.min}` : "",
        check.max !== undefined ? `<= ${check.max}` : "",
      ]
        .filter(Boolean)
        .join(" and ");
      fail(this.key(name), `${check.integer ? "an integer" : "a number"}${bounds ? ` ${bounds}` : ""}`, value);
    }
    return value as number;
  }

  enumeration<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.get(name);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "string" || !allowed.includes(value as T)) fail(this.key(name), allowed.join(" | "), value);
    return value as T;
  }

  bytes(name: string, fallback: number | null): number | null {
    const value = this.get(name);
    if (value === undefined) return fallback;
    if (value === null) return null;
    const parsed = parseByteSize(value);
    if (parsed === undefined) fail(this.key(name), 'a byte size such as 1048576, "512MiB" or "5GiB"', value);
    return parsed;
  }

  seconds(name: string, fallback: number): number {
    const value = this.get(name);
    if (value === undefined || value === null) return fallback;
    const parsed = parseDuration(value);
    if (parsed === undefined) fail(this.key(name), 'seconds, or a duration such as "30s", "15m", "1h", "1d"', value);
    return parsed;
  }

  stringList(name: string): string[] {
    const value = this.get(name);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
      fail(this.key(name), "a list of strings", value);
    }
    return value as string[];
  }

  /** Fails on keys nobody asked for: a typo must not silently fall back to a default. */
  rejectUnknownKeys(): void {
    for (const name of Object.keys(this.raw)) {
      if (!this.seen.has(name)) {
        const suggestion = [...this.seen].find((known) => editDistance(known, name) <= 2);
        throw new ArtifactStoreError(
          "E_CONFIG",
          `Invalid config: unknown key ${this.key(name)}${suggestion ? ` (did you mean ${this.key(suggestion)}?)` : ""}`,
          { details: { key: this.key(name) } },
        );
      }
    }
  }

  entries(): [string, unknown][] {
    return Object.entries(this.raw);
  }
}

export function fail(key: string, expected: string, value: unknown): never {
  throw new ArtifactStoreError("E_CONFIG", `Invalid config: ${key} must be ${expected} (got ${describe(value)})`, {
    details: { key, expected },
  });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: GIB,
  gb: 1000 ** 3,
  gib: GIB,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** `1048576`, `"512MiB"`, `"5 GB"` → bytes; `undefined` when not a size. */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? "-"];
  if (!match || unit === undefined) return undefined;
  return Math.floor(Number(match[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = { "": 1, ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** `30`, `"30s"`, `"15m"`, `"1h"`, `"1d"` → seconds; `undefined` when not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? ""] ?? 1);
}

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

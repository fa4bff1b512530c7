/**
 * Fake secrets of every rule, generated from a seed (never real ones), and realistic content
 * to plant them in: CI logs, diffs, JSON and XML reports. Used by the recall tests and the
 * redaction benchmark.
 */

/** A deterministic PRNG (mulberry32), so a failing case can be reproduced from its seed. */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (alphabet: string, length: number) => {
    let out = "";
    for (let index = 0; index < length; index++) out += alphabet[Math.floor(next() * alphabet.length)];
    return out;
  };
  return { next, pick, int: (below: number) => Math.floor(next() * below) };
}

export type Random = ReturnType<typeof createRandom>;

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64 = `${BASE62}+/`;
const BASE64URL = `${BASE62}-_`;

/** A planted secret: the text as it appears, the part that must disappear, and the rule that must find it. */
export interface FakeSecret {
  rule: string;
  /** What is written into the content. */
  text: string;
  /** What must never reach a reader. */
  secret: string;
}

function base64url(text: string): string {
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A random base62 string with at least one digit and one letter (so entropy rules see a random value). */
function mixed(random: Random, length: number): string {
  for (;;) {
    const value = random.pick(BASE62, length);
    if (/[0-9]/.test(value) && /[A-Za-z]/.test(value) && new Set(value).size >= length * 0.6) return value;
  }
}

/** One generator per rule with a fixed shape, plus the generic rule and a value from env. */
export const FAKE_SECRET_MAKERS: Record<string, (random: Random) => FakeSecret> = {
  "aws-access-key-id": (random) => {
    const secret = `${["AKIA", "ASIA"][random.int(2)]}${random.pick(BASE32, 16)}`;
    return { rule: "aws-access-key-id", text: secret, secret };
  },
  "aws-secret-access-key": (random) => {
    const secret = random.pick(BASE64, 40);
    const key = ["aws_secret_access_key = ", "AWS_SECRET_ACCESS_KEY=", '"SecretAccessKey": "'][random.int(3)] as string;
    return { rule: "aws-secret-access-key", text: `${key}${secret}${key.endsWith('"') ? '"' : ""}`, secret };
  },
  "github-token": (random) => {
    const secret =
      random.int(4) === 0
        ? `github_pat_${random.pick(BASE62, 22)}_${random.pick(BASE62, 59)}`
        : `gh${"pousr"[random.int(5)]}_${random.pick(BASE62, 36)}`;
    return { rule: "github-token", text: secret, secret };
  },
  "gitlab-token": (random) => {
    const secret = `${["glpat", "gldt", "glrt", "glptt"][random.int(4)]}-${random.pick(`${BASE62}_-`, 20)}`;
    return { rule: "gitlab-token", text: secret, secret };
  },
  "slack-token": (random) => {
    const secret = `xox${"bpars"[random.int(5)]}-${random.pick("0123456789", 12)}-${random.pick("0123456789", 13)}-${random.pick(BASE62, 24)}`;
    return { rule: "slack-token", text: secret, secret };
  },
  "slack-webhook": (random) => {
    const secret = `T${random.pick(BASE32, 8)}/B${random.pick(BASE32, 10)}/${random.pick(BASE62, 24)}`;
    return { rule: "slack-webhook", text: `https://hooks.slack.com/services/${secret}`, secret };
  },
  "stripe-live-key": (random) => {
    const secret = `${"sr"[random.int(2)]}k_live_${random.pick(BASE62, 24 + random.int(76))}`;
    return { rule: "stripe-live-key", text: secret, secret };
  },
  "google-api-key": (random) => {
    const secret = `AIza${random.pick(BASE64URL, 35)}`;
    return { rule: "google-api-key", text: secret, secret };
  },
  "npm-token": (random) => {
    const secret = `npm_${random.pick(BASE62, 36)}`;
    return { rule: "npm-token", text: secret, secret };
  },
  jwt: (random) => {
    const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const payload = base64url(JSON.stringify({ sub: random.pick(BASE62, 10), iat: 1700000000 + random.int(1e6) }));
    const secret = `${header}.${payload}.${random.pick(BASE64URL, 43)}`;
    return { rule: "jwt", text: secret, secret };
  },
  "authorization-header": (random) => {
    const secret = mixed(random, 32);
    return { rule: "authorization-header", text: `Authorization: Bearer ${secret}`, secret };
  },
  "url-credentials": (random) => {
    const secret = mixed(random, 16);
    return { rule: "url-credentials", text: `postgres://app:${secret}@db.internal:5432/app`, secret };
  },
  "private-key": (random) => {
    const kind = ["RSA ", "EC ", "OPENSSH ", ""][random.int(4)] as string;
    const body = Array.from({ length: 20 + random.int(30) }, () => random.pick(BASE64, 64)).join("\n");
    const secret = `-----BEGIN ${kind}PRIVATE KEY-----\n${body}\n-----END ${kind}PRIVATE KEY-----`;
    return { rule: "private-key", text: secret, secret };
  },
  "generic-secret": (random) => {
    const secret = mixed(random, 24);
    const key = ["DB_PASSWORD=", "client_secret: ", '"api_key": "', "export SERVICE_TOKEN="][random.int(4)] as string;
    return { rule: "generic-secret", text: `${key}${secret}${key.endsWith('"') ? '"' : ""}`, secret };
  },
};

/** The rules whose recall must be 100 % (every fixed-shape rule and values from env). */
export const FIXED_SHAPE_RULES = Object.keys(FAKE_SECRET_MAKERS).filter((rule) => rule !== "generic-secret");

/** A value given by env (`values_from_env: [DEPLOY_KEY]`) in the content. */
export function envValueSecret(random: Random, name = "DEPLOY_KEY"): FakeSecret & { value: string } {
  const value = `dk-${random.pick(BASE62, 29)}`;
  return { rule: `env:${name}`, text: value, secret: value, value };
}

const LOG_LINES = [
  "2026-11-29T12:00:01.123Z INFO  [build] Compiling 214 modules with tsc --build",
  "2026-11-29T12:00:02.456Z WARN  [deps] npm WARN deprecated inflight@1.0.6: This module is not supported",
  "    at Object.<anonymous> (/home/runner/work/app/app/node_modules/jest-circus/build/utils.js:298:28)",
  "\u001b[32m✓\u001b[39m test/core/upload.test.ts > stores a 1 MiB log (45 ms)",
  "Run actions/checkout@v4 with: repository: necrocode/app, token: ***, ssh-strict: true",
  "2026-11-29T12:00:03.001Z DEBUG [http] GET /v1/artifacts?spec=chat&limit=50 200 12ms",
  "+  const retries = Number(process.env.RETRIES ?? 3); // café ☕ résumé",
];

/** A realistic log line (ANSI colours and non-ASCII included). */
export function logLine(random: Random): string {
  return LOG_LINES[random.int(LOG_LINES.length)] as string;
}

/** Wraps a planted secret the ways logs, diffs, JSON and XML reports carry them. */
export function plant(random: Random, secret: FakeSecret): string {
  const forms = [
    () => secret.text, // a line of its own: line start and line end
    () => `2026-11-29T12:00:04Z INFO deploy with ${secret.text}`,
    () => `\u001b[31m${secret.text}\u001b[0m`, // inside ANSI colour codes
    () => `\u001b[1;33mWARN\u001b[0m ${secret.text} \u001b[2m(env)\u001b[22m`,
    () => `+  ${secret.text}`, // a diff line
    () => `-export CONFIG=${secret.text}`,
    () => `{"step":"deploy","output":"${secret.text.replace(/\n/g, "\\n")}","ok":true}`, // JSON string
    () => `<system-out>${secret.text}</system-out>`, // JUnit XML
  ];
  return (forms[random.int(forms.length)] as () => string)();
}

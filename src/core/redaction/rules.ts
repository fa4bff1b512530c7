/**
 * The secret rules: each one a name (it appears in markers, findings, metrics and errors), a
 * precision class, and a pattern written from the vendor's published token format.
 *
 * Patterns run on the content decoded one byte per character (see `scanner.ts`), so they are
 * written in ASCII only and a match's character offsets are its byte offsets.
 */

/**
 * How far a rule's matches can be trusted, from the documentation's point of view:
 * - `vendor-prefix`: a vendor-reserved prefix and a fixed alphabet and length; a match is a token.
 * - `structural`: a structure only secrets have (a PEM private-key block, a signed JWT).
 * - `keyword`: a secret-bearing key or header (`aws_secret_access_key=`, `Authorization: Bearer`)
 *   followed by a value of the right shape.
 * - `by-value`: a value the operator named (environment variables, the store's own credentials).
 * - `generic`: a `password=` / `secret:` / `token=` assignment whose value looks random
 *   (entropy threshold): catches what no vendor rule knows, and may flag a random-looking
 *   non-secret.
 */
export type PrecisionClass = "vendor-prefix" | "structural" | "keyword" | "by-value" | "generic";

export interface SecretRule {
  name: string;
  precision: PrecisionClass;
  /** What it finds, and the vendor document the format comes from. */
  description: string;
  /**
   * Literals every match starts with (after lookbehinds): the scanner finds them with `indexOf`
   * and runs the pattern only there, so clean content costs a few substring searches per rule.
   */
  anchors: readonly string[];
  /** The anchors are lowercase and searched for in any letter case. */
  caseless?: boolean;
  /**
   * By anchor: what the pattern needs right after it (any letter case), when the anchor is only
   * a keyword's start. The scanner then passes over `api/v1`, `passed` or `author` without
   * decoding the block. Anchors not listed may be followed by anything.
   */
  followedBy?: Readonly<Record<string, readonly string[]>>;
  /** Regex tried at each anchor; when it has a capture group 1, only that group is the secret. */
  pattern: RegExp;
  /** Longest match in characters: the scanner keeps at least this much carry-over between chunks. */
  maxLength: number;
  /** A further check on the secret text (entropy, placeholders); false drops the match. */
  accept?: (secret: string) => boolean;
}

/**
 * Not preceded by a letter or digit, except right after an ANSI colour code (`ESC[31m`), which
 * ends in a letter: tokens printed in colour are still found.
 */
const START = String.raw`(?:(?<![A-Za-z0-9])|(?<=\x1b\[[0-9;]{0,20}m))`;
/** Not followed by another character of the token alphabet. */
const END_ALNUM = `(?![A-Za-z0-9])`;

interface RuleSpec {
  name: string;
  precision: PrecisionClass;
  description: string;
  anchors: readonly string[];
  /** Anchors (lowercase) and pattern match in any letter case. */
  caseless?: boolean;
  followedBy?: SecretRule["followedBy"];
  pattern: string;
  maxLength: number;
  accept?: (secret: string) => boolean;
}

function rule(spec: RuleSpec): SecretRule {
  const { pattern, caseless, accept, ...rest } = spec;
  return {
    ...rest,
    ...(caseless ? { caseless } : {}),
    pattern: new RegExp(pattern, caseless ? "gi" : "g"),
    ...(accept ? { accept } : {}),
  };
}

/** Shannon entropy of `text` in bits per character. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  let bits = 0;
  for (const count of counts.values()) {
    const share = count / text.length;
    bits -= share * Math.log2(share);
  }
  return bits;
}

/** Values that are obviously not secrets: placeholders, repeated characters, references. */
function looksLikePlaceholder(value: string): boolean {
  return (
    /^(?:x+|\*+|\.+|-+|_+|0+)$/i.test(value) ||
    /(?:example|placeholder|changeme|redacted|dummy|your[_-]|xxxx|\*\*\*)/i.test(value) ||
    /^\$|^%|^\{|^<|^env\./i.test(value)
  );
}

/** Options of the generic rule. */
export interface GenericRuleOptions {
  /** Bits per character a value needs (Shannon entropy); default 3.5. */
  minEntropy: number;
  /** Shortest value considered; default 16. */
  minLength: number;
}

export const GENERIC_DEFAULTS: GenericRuleOptions = { minEntropy: 3.5, minLength: 16 };

/** The generic assignment rule with its entropy threshold. */
export function genericAssignmentRule(options: GenericRuleOptions = GENERIC_DEFAULTS): SecretRule {
  const value = `([A-Za-z0-9_+/=.~-]{${options.minLength},256})`;
  return rule({
    name: "generic-secret",
    precision: "generic",
    description:
      "A key that ends in a password, secret, token, API key or credentials keyword (or goes on after _ . -: SECRET_KEY, not tokenizer) assigned (`=`, `:`, `=>`) a value of at least min_length characters with at least min_entropy bits per character and both letters and digits.",
    // The keyword is the anchor (DB_PASSWORD, client_secret, githubToken all hold one). Short
    // anchors make a short search pattern; the pattern checks the whole keyword where one is.
    anchors: ["pass", "secret", "token", "api", "access", "private", "auth", "credential"],
    caseless: true,
    // The keywords below, past their anchor: password|passwd|passphrase, api[_-]?key, …
    followedBy: {
      pass: ["w", "p"],
      api: ["key", "_key", "-key"],
      access: ["key", "_key", "-key"],
      private: ["key", "_key", "-key"],
      auth: ["key", "_key", "-key"],
    },
    pattern: String.raw`(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key|credentials?)(?:[_.-][A-Za-z0-9_.-]{0,23})?["']?[ \t]{0,4}(?:=>|=|:)[ \t]{0,4}["']?${value}(?![A-Za-z0-9_+/=.~-])`,
    maxLength: 320,
    accept: (secret) =>
      /[0-9]/.test(secret) &&
      /[A-Za-z]/.test(secret) &&
      !looksLikePlaceholder(secret) &&
      shannonEntropy(secret) >= options.minEntropy,
  });
}

/** A PEM private-key block's header and footer; the scanner masks everything between them. */
export const PEM_ANCHOR = "-----BEGIN";
export const PEM_BEGIN = /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
export const PEM_END = /-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
/** A private-key block masks at most this many characters when its footer never comes (a truncated log). */
export const PEM_MAX_LENGTH = 64 * 1024;
export const PEM_RULE_NAME = "private-key";

/** The fixed-shape rules, in priority order (an earlier rule wins a tie at the same offset). */
export const FIXED_RULES: readonly SecretRule[] = [
  rule({
    name: "aws-access-key-id",
    precision: "vendor-prefix",
    description:
      "AWS access key ids: AKIA (long-term), ASIA (temporary), ABIA, ACCA + 16 base32 characters (AWS IAM User Guide, 'Understanding unique ID prefixes').",
    anchors: ["AKIA", "ASIA", "ABIA", "ACCA"],
    pattern: `${START}(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}${END_ALNUM}`,
    maxLength: 20,
  }),
  rule({
    name: "aws-secret-access-key",
    precision: "keyword",
    description:
      "An AWS secret access key (40 characters of base64) assigned to aws_secret_access_key / AWS_SECRET_ACCESS_KEY / SecretAccessKey (AWS CLI 'Configuration and credential file settings').",
    anchors: ["secret"],
    caseless: true,
    pattern: String.raw`secret_?access_?key["']?[ \t]{0,4}(?:=>|=|:)[ \t]{0,4}["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
    maxLength: 90,
  }),
  rule({
    name: "github-token",
    precision: "vendor-prefix",
    description:
      "GitHub tokens: ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server), ghr_ (refresh) + 36 base62 characters, and github_pat_ fine-grained PATs (GitHub Docs, 'About authentication to GitHub', token formats).",
    anchors: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    pattern: `${START}(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})${END_ALNUM}`,
    maxLength: 262,
  }),
  rule({
    name: "gitlab-token",
    precision: "vendor-prefix",
    description:
      "GitLab tokens: glpat- (personal, project, group access), gldt- (deploy), glrt- (runner), glptt- (pipeline trigger), glft- (feed), glsoat- (SCIM), glcbt- (CI/CD job) + 20 or more URL-safe characters (GitLab Docs, 'Token prefixes').",
    anchors: ["glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-"],
    pattern: String.raw`${START}(?:glpat|gldt|glrt|glptt|glft|glsoat|glcbt)-[A-Za-z0-9_-]{20,300}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?(?![A-Za-z0-9_-])`,
    maxLength: 330,
  }),
  rule({
    name: "slack-token",
    precision: "vendor-prefix",
    description:
      "Slack tokens: xoxb- (bot), xoxp- (user), xoxa-, xoxr- (refresh), xoxs-, xoxe- and xapp- (app-level) (Slack API docs, 'Token types').",
    anchors: ["xox", "xapp-"],
    pattern: String.raw`${START}(?:xox[abprse](?:\.xox[abprse])?-[0-9A-Za-z-]{10,250}|xapp-[0-9]-[A-Z0-9]{6,}-[0-9]{6,}-[A-Za-z0-9]{20,128})(?![A-Za-z0-9-])`,
    maxLength: 300,
  }),
  rule({
    name: "slack-webhook",
    precision: "vendor-prefix",
    description:
      "Slack incoming-webhook URLs, hooks.slack.com/services/T…/B…/… (Slack API docs, 'Sending messages using incoming webhooks').",
    anchors: ["hooks.slack.com/services/"],
    pattern: String.raw`hooks\.slack\.com/services/(T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32})(?![A-Za-z0-9])`,
    maxLength: 100,
  }),
  rule({
    name: "stripe-live-key",
    precision: "vendor-prefix",
    description:
      "Stripe live secret (sk_live_) and restricted (rk_live_) keys; publishable pk_ keys are public and test keys reach no money (Stripe docs, 'API keys').",
    anchors: ["sk_live_", "rk_live_"],
    pattern: `${START}[sr]k_live_[0-9A-Za-z]{24,247}${END_ALNUM}`,
    maxLength: 255,
  }),
  rule({
    name: "google-api-key",
    precision: "vendor-prefix",
    description: "Google API keys: AIza + 35 characters of [0-9A-Za-z_-] (Google Cloud docs, 'Manage API keys').",
    anchors: ["AIza"],
    pattern: `${START}AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])`,
    maxLength: 39,
  }),
  rule({
    name: "npm-token",
    precision: "vendor-prefix",
    description: "npm access tokens: npm_ + 36 base62 characters (npm Docs, 'About access tokens').",
    anchors: ["npm_"],
    pattern: `${START}npm_[A-Za-z0-9]{36}${END_ALNUM}`,
    maxLength: 40,
  }),
  rule({
    name: "jwt",
    precision: "structural",
    description:
      "Signed JSON Web Tokens: three base64url parts, header and payload JSON objects (eyJ…), a signature of 16+ characters (RFC 7519; RFC 7515 compact serialization).",
    anchors: ["eyJ"],
    pattern: String.raw`${START}eyJ[A-Za-z0-9_-]{8,1000}\.eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{16,1000}(?![A-Za-z0-9_-])`,
    maxLength: 6010,
  }),
  rule({
    name: "authorization-header",
    precision: "keyword",
    description:
      "Credentials in an HTTP Authorization header (Bearer, Basic, token schemes), as printed by curl -v or a failing request (RFC 9110 §11.6.2).",
    anchors: ["auth"],
    caseless: true,
    followedBy: { auth: ["orization"] },
    pattern: String.raw`${START}authorization["']?[ \t]{0,4}[:=][ \t]{0,4}["']?(?:bearer|basic|token)[ \t]{1,4}([A-Za-z0-9._~+/-]{16,2048}=*)(?![A-Za-z0-9._~+/=-])`,
    maxLength: 2120,
    accept: (secret) => /[0-9]/.test(secret) && /[A-Za-z]/.test(secret) && !looksLikePlaceholder(secret),
  }),
  rule({
    name: "url-credentials",
    precision: "keyword",
    description: "A password in a URL's userinfo, scheme://user:password@host (RFC 3986 §3.2.1).",
    anchors: ["://"],
    pattern: `(?<=[A-Za-z0-9])://[A-Za-z0-9._~%!$&'()*+,;=-]{1,64}:([A-Za-z0-9._~%!$&'()*+,;=-]{6,128})@(?=[A-Za-z0-9[])`,
    maxLength: 200,
    accept: (secret) => !looksLikePlaceholder(secret) && !/^(?:password|passwd|pass|secret|pw)$/i.test(secret),
  }),
];

/** Every built-in rule name, for config validation and documentation. */
export const BUILT_IN_RULE_NAMES: readonly string[] = [
  ...FIXED_RULES.map((candidate) => candidate.name),
  PEM_RULE_NAME,
  "generic-secret",
];

/** The precision class of each built-in rule name (by-value rules are named `env:NAME` and `store-credential`). */
export function precisionOf(ruleName: string): PrecisionClass {
  if (ruleName === PEM_RULE_NAME) return "structural";
  if (ruleName === "generic-secret") return "generic";
  return FIXED_RULES.find((candidate) => candidate.name === ruleName)?.precision ?? "by-value";
}

import { describe, expect, test } from "bun:test";
import { FIXED_RULES, genericAssignmentRule, precisionOf, shannonEntropy } from "../../src/core/redaction/rules.ts";
import { createSecretScanner, type SecretScanner } from "../../src/core/redaction/scanner.ts";
import { createRedaction, DEFAULT_REDACTION, knownValuesFrom } from "../../src/core/redaction/settings.ts";
import {
  createRandom,
  envValueSecret,
  FAKE_SECRET_MAKERS,
  type FakeSecret,
  FIXED_SHAPE_RULES,
  logLine,
  plant,
} from "../helpers/fake-secrets.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const RULES = [...FIXED_RULES, genericAssignmentRule()];

/** Feeds `content` to a scanner in chunks of the given sizes (cycling) and returns the output text. */
function run(scanner: SecretScanner, content: string | Uint8Array, chunkSizes: number[] = [65536]): Uint8Array {
  const bytes = typeof content === "string" ? encoder.encode(content) : content;
  const parts: Uint8Array[] = [];
  let offset = 0;
  let turn = 0;
  while (offset < bytes.length) {
    const size = chunkSizes[turn++ % chunkSizes.length] as number;
    parts.push(scanner.write(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  parts.push(scanner.end());
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const masker = (values: { rule: string; value: string }[] = []) =>
  createSecretScanner({ mode: "mask", rules: RULES, knownValues: values });

describe("secret rules", () => {
  test("every rule has a name, a precision class and a description", () => {
    for (const rule of RULES) {
      expect(rule.name).toMatch(/^[a-z0-9-]+$/);
      expect(["vendor-prefix", "structural", "keyword", "generic"]).toContain(rule.precision);
      expect(rule.description.length).toBeGreaterThan(30);
    }
    expect(precisionOf("private-key")).toBe("structural");
    expect(precisionOf("env:NPM_TOKEN")).toBe("by-value");
  });

  for (const rule of Object.keys(FAKE_SECRET_MAKERS)) {
    test(`${rule}: a fake secret is masked with a marker naming the rule, and recorded with its line`, () => {
      const random = createRandom(rule.length * 7919);
      for (let round = 0; round < 20; round++) {
        const secret = (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
        const scanner = masker();
        const content = `${logLine(random)}\n${plant(random, secret)}\n${logLine(random)}\n`;
        const out = decoder.decode(run(scanner, content));
        expect(out).not.toContain(secret.secret);
        expect(out).toContain(`[REDACTED:${rule}]`);
        const finding = scanner.findings().find((each) => each.rule === rule);
        expect(finding?.count).toBe(1);
        expect(finding?.lines).toEqual([2]);
      }
    });
  }

  test("the vendor rules do not match look-alikes: wrong length, wrong alphabet, inside a longer word", () => {
    const lookAlikes = [
      "ghp_tooShort123",
      "AKIAlowercase0123456",
      "xAKIAIOSFODNN7EXAMPLEx",
      "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
      "pk_live_4eC39HqLyjWDarjtT1zdp7dc",
      "AIzaTooShort",
      "eyJhbGciOiJIUzI1NiJ9.notjson.sig",
      "Authorization: Bearer $TOKEN",
      "Authorization: Bearer <token>",
      "password=changeme",
      ["password: $", "{{ secrets.DB_PASSWORD }}"].join(""),
      "token=refresh_token_expired",
      "tokenizer: bert-base-uncased-v2x9",
      "passwords: Zq8vX29fjQ0pLm3Nab",
      "https://user:password@example.com",
      "git@github.com:necrocode/app.git",
    ];
    const scanner = masker();
    const content = lookAlikes.join("\n");
    expect(decoder.decode(run(scanner, content))).toBe(content);
    expect(scanner.findings()).toEqual([]);
  });

  test("the generic rule needs a random-looking value: entropy threshold, letters and digits", () => {
    expect(shannonEntropy("aaaaaaaaaaaaaaaa")).toBe(0);
    expect(shannonEntropy("abcdefghijklmnop")).toBe(4);
    const strict = createSecretScanner({
      mode: "flag",
      rules: [genericAssignmentRule({ minEntropy: 4.5, minLength: 16 })],
    });
    run(strict, "password=Zq8vX29fjQ0pLm3N\n");
    expect(strict.findings()).toEqual([]);
    const loose = createSecretScanner({ mode: "flag", rules: [genericAssignmentRule()] });
    run(loose, "password=Zq8vX29fjQ0pLm3N\nversion_token=1111111111111111\n");
    expect(loose.findings()).toEqual([{ rule: "generic-secret", count: 1, lines: [1] }]);
  });
});

describe("streaming", () => {
  test("recall is 100 % for every fixed-shape rule and env values across chunk boundaries of any size", () => {
    const random = createRandom(18);
    const env = envValueSecret(random);
    const planted: FakeSecret[] = [];
    const lines: string[] = [];
    const expectedLines: string[] = [];
    while (lines.length < 40_000) {
      if (lines.length % 7 === 3) {
        const rule = FIXED_SHAPE_RULES[planted.length % FIXED_SHAPE_RULES.length] as string;
        const secret =
          planted.length % 13 === 0 ? env : (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
        planted.push(secret);
        const line = plant(random, secret);
        lines.push(line);
        // In a JSON string a private key's line breaks are written as \n.
        const asWritten = line.includes(secret.secret) ? secret.secret : secret.secret.replace(/\n/g, "\\n");
        expectedLines.push(line.replace(asWritten, `[REDACTED:${secret.rule}]`));
      } else {
        const line = logLine(random);
        lines.push(line);
        expectedLines.push(line);
      }
    }
    const content = `${lines.join("\n")}\n`;
    const expectedOutput = `${expectedLines.join("\n")}\n`;
    const expected = new Map<string, number>();
    for (const secret of planted) expected.set(secret.rule, (expected.get(secret.rule) ?? 0) + 1);
    for (const sizes of [[65536], [65537, 4093, 1], [1_000_000], [300_000, 17]]) {
      const scanner = masker([{ rule: env.rule, value: env.value }]);
      const out = decoder.decode(run(scanner, content, sizes));
      if (out !== expectedOutput) {
        const a = out.split("\n");
        const b = expectedOutput.split("\n");
        const i = a.findIndex((line, index) => line !== b[index]);
        expect(a[i]).toBe(b[i] as string);
      }
      const counts = new Map(scanner.findings().map((finding) => [finding.rule, finding.count]));
      expect(counts).toEqual(expected);
    }
  });

  test("a secret split across the 64 KiB chunk boundary at every offset is found, with its line", () => {
    const random = createRandom(64);
    for (const rule of ["github-token", "jwt", "private-key", "aws-access-key-id"]) {
      const secret = (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random);
      const filler = `${"x".repeat(99)}\n`.repeat(700); // 70 000 bytes, 700 lines
      for (let split = 0; split <= secret.text.length; split += Math.max(1, Math.floor(secret.text.length / 40))) {
        const before = `${filler.slice(0, 65535 - split)} `;
        const content = `${before}${secret.text}\n${filler}${filler}${filler}${filler}`;
        const scanner = masker();
        const out = decoder.decode(run(scanner, content, [65536]));
        expect(out.includes(secret.secret)).toBe(false);
        const line = before.split("\n").length;
        expect(scanner.findings()).toEqual([{ rule, count: 1, lines: [line] }]);
      }
    }
  });

  test("what a rule needs after its anchor (followedBy) only skips text it cannot match: same masks and findings as without it", () => {
    // Every keyword the keyword rules' patterns take, then near misses that share an anchor.
    const keywords = [
      ...["password", "passwd", "passphrase", "secret", "token", "credential", "credentials", "authorization"],
      ...["api", "access", "private", "auth"].flatMap((stem) => [`${stem}key`, `${stem}_key`, `${stem}-key`]),
    ];
    const nearMisses = [
      "passed",
      "pass",
      "GET /api/v1",
      "apis",
      "api_version",
      "access.log",
      "private",
      "author",
      "auth_token",
    ];
    const values = [
      `="Zq8vX29fjQ0pLm3N7bWc"`,
      `: Zq8vX29fjQ0pLm3N7bWc`,
      ` => 'Zq8vX29fjQ0pLm3N7bWc'`,
      `=${"a1".repeat(12)}`,
    ];
    const random = createRandom(7);
    const recase = (word: string) =>
      [...word].map((char) => (random.next() < 0.5 ? char.toUpperCase() : char.toLowerCase())).join("");
    const lines: string[] = [];
    for (let index = 0; index < 4000; index++) {
      const word = (
        index % 3 === 0 ? nearMisses[(index / 3) % nearMisses.length] : keywords[index % keywords.length]
      ) as string;
      const spelled = [word, word.toUpperCase(), `${word[0]?.toUpperCase()}${word.slice(1)}`, recase(word)][index % 4];
      const value =
        index % 2 === 1 ? `: Bearer ${"Zq8vX29fjQ0pLm3N7bWc".repeat(2)}` : values[(index >> 1) % values.length];
      lines.push(`${logLine(random)} ${index % 7 === 0 ? "DB_" : ""}${spelled}${value}`);
    }
    const content = `${lines.join("\n")}\n`;
    const withoutFollowers = RULES.map(({ followedBy: _followedBy, ...rule }) => rule);
    expect(withoutFollowers.length).toBe(RULES.length);
    expect(RULES.some((rule) => rule.followedBy !== undefined)).toBe(true);
    // A known value starting with a non-ASCII character: anchors are searched by the regex, not on the bytes.
    const nonAscii = [{ rule: "env:X", value: "übersecret-1234" }];
    const runs: Array<[number[], typeof nonAscii]> = [
      [[65536], []],
      [[4093, 7, 1], []],
      [[13], []],
      [[65536], nonAscii],
    ];
    for (const [sizes, values] of runs) {
      const shipped = masker(values);
      const plain = createSecretScanner({ mode: "mask", rules: withoutFollowers, knownValues: values });
      const out = decoder.decode(run(shipped, content, sizes));
      expect(out).toBe(decoder.decode(run(plain, content, sizes)));
      expect(shipped.findings()).toEqual(plain.findings());
      // The corpus holds secrets of both keyword rules, and clean near misses.
      expect(shipped.findings().map((finding) => finding.rule)).toEqual(["generic-secret", "authorization-header"]);
      expect(out.includes("GET /api/v1")).toBe(true);
    }
  });

  test("bytes that are not secrets pass through unchanged, invalid UTF-8 included", () => {
    const bytes = new Uint8Array(600_000);
    for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 7919) % 256;
    const scanner = masker();
    expect(run(scanner, bytes, [65536, 333])).toEqual(bytes);
  });

  test("secrets after long clean stretches and right after non-ASCII text are masked, with their lines", () => {
    // Clean blocks are passed on without being decoded: findings after many of them, next to
    // UTF-8 letters and invalid bytes, and values with non-ASCII characters must still be found.
    const random = createRandom(1818);
    const later = { rule: "env:UNICODE_PASSWORD", value: "Xk9-päss-wörd-7Q2x" };
    const first = { rule: "env:LATIN_HEAD", value: "éclair-8fK2mPq9Zt" };
    const cleanLine = "2026-12-07T04:00:00Z INFO résumé ✓ step compiled module.ts in 12 ms\n";
    const clean = encoder.encode(cleanLine.repeat(3000)); // ~210 KB: more than one scan block
    const join = (chunks: Uint8Array[]) => {
      const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      return out;
    };
    for (const values of [[later], [later, first]]) {
      const secrets = [
        ...Object.keys(FAKE_SECRET_MAKERS).map((rule) =>
          (FAKE_SECRET_MAKERS[rule] as (r: typeof random) => FakeSecret)(random),
        ),
        ...values.map((value) => ({ rule: value.rule, secret: value.value, text: value.value })),
      ];
      const parts: Uint8Array[] = [];
      const expected: Uint8Array[] = [];
      const lines = new Map<string, number[]>();
      let line = 1;
      for (const [index, secret] of secrets.entries()) {
        parts.push(clean);
        expected.push(clean);
        line += 3000;
        // Right after a UTF-8 letter, or after a lone invalid byte.
        const before = index % 2 === 0 ? encoder.encode("é ") : Uint8Array.of(0xff, 0x20);
        parts.push(before, encoder.encode(`${secret.text}\n`));
        expected.push(before, encoder.encode(`${secret.text.replace(secret.secret, `[REDACTED:${secret.rule}]`)}\n`));
        lines.set(secret.rule, [...(lines.get(secret.rule) ?? []), line]);
        line += secret.text.split("\n").length;
      }
      for (const sizes of [[65536], [7, 65536, 1000]]) {
        const scanner = masker(values);
        expect(decoder.decode(run(scanner, join(parts), sizes))).toBe(decoder.decode(join(expected)));
        expect(new Map(scanner.findings().map((finding) => [finding.rule, finding.lines]))).toEqual(lines);
      }
    }
  });

  test("a look-alike inside a longer word stays as it is when a chunk boundary cuts the word", () => {
    const token = `ghp_${"aB3".repeat(12)}`;
    for (const sizes of [[65536], [65536, 100], [1000]]) {
      const content = `${"x".repeat(65533)}abc${token}\n${"y".repeat(70_000)}\n`;
      const scanner = masker();
      expect(decoder.decode(run(scanner, content, sizes))).toBe(content);
      expect(scanner.findings()).toEqual([]);
    }
  });

  test("a secret starting in the first bytes of a chunk, or of the content, is masked with its line", () => {
    const token = `ghp_${"aB3".repeat(12)}`;
    for (let offset = 0; offset < 6; offset++) {
      const pad = " ".repeat(offset);
      const cases = [
        { content: `${"x".repeat(65535)}\n${pad}${token}\n${"y".repeat(70_000)}\n`, line: 2 },
        { content: `${pad}${token}\n`, line: 1 },
      ];
      for (const { content, line } of cases) {
        const scanner = masker();
        expect(decoder.decode(run(scanner, content, [65536]))).toBe(content.replace(token, "[REDACTED:github-token]"));
        expect(scanner.findings()).toEqual([{ rule: "github-token", count: 1, lines: [line] }]);
      }
    }
  });

  test("a private key without its footer is masked up to the bound; the rest of the log survives", () => {
    const random = createRandom(3);
    const header = "-----BEGIN RSA PRIVATE KEY-----\n";
    const body = Array.from({ length: 2000 }, () => random.pick("ABCDEFGHIJKLMNOP0123456789+/", 64)).join("\n");
    const scanner = masker();
    const out = decoder.decode(run(scanner, `${header}${body}\nlast line\n`));
    expect(out.startsWith("[REDACTED:private-key]")).toBe(true);
    expect(out.endsWith("last line\n")).toBe(true);
    expect(out.length).toBeLessThan(body.length - 64 * 1024 + 100);
  });

  test("flag leaves the content as sent and records the findings; reject names rule and line, never the value", () => {
    const random = createRandom(5);
    const secret = (FAKE_SECRET_MAKERS["npm-token"] as (r: typeof random) => FakeSecret)(random);
    const content = `one\ntwo\n//registry.npmjs.org/:_authToken=${secret.text}\n`;
    const flag = createSecretScanner({ mode: "flag", rules: RULES });
    expect(decoder.decode(run(flag, content, [5]))).toBe(content);
    expect(flag.findings()).toEqual([{ rule: "npm-token", count: 1, lines: [3] }]);
    const reject = createSecretScanner({ mode: "reject", rules: RULES });
    let error: { code?: string; message?: string; details?: unknown } = {};
    try {
      run(reject, content);
    } catch (thrown) {
      error = thrown as typeof error;
    }
    expect(error.code).toBe("E_SECRET_DETECTED");
    expect(error.message).toContain("npm-token");
    expect(error.message).toContain("line 3");
    expect(JSON.stringify(error)).not.toContain(secret.secret);
    expect(String(error.message)).not.toContain(secret.secret.slice(4, 12));
  });

  test("markers already in the content count as findings and stay as they are (a sealed live log, a re-upload)", () => {
    const redaction = createRedaction(DEFAULT_REDACTION);
    const scanner = redaction.scannerFor("log") as SecretScanner;
    const content = "a [REDACTED:github-token] b [REDACTED:made-up] c\n";
    expect(decoder.decode(run(scanner, content))).toBe(content);
    expect(scanner.findings()).toEqual([{ rule: "github-token", count: 1, lines: [1] }]);
  });
});

describe("settings", () => {
  test("modes per type; off gives no scanner; disabled rules are skipped", () => {
    const redaction = createRedaction({
      ...DEFAULT_REDACTION,
      types: { test: "flag", diff: "off" },
      disabledRules: ["jwt"],
    });
    expect(redaction.modeFor("log")).toBe("mask");
    expect(redaction.modeFor("test")).toBe("flag");
    expect(redaction.scannerFor("diff")).toBeUndefined();
    expect(redaction.ruleNames()).not.toContain("jwt");
    expect(redaction.ruleNames()).toContain("private-key");
  });

  test("values from env and the store's credentials are masked by value; unset or short ones are reported by name", () => {
    const { values, skipped } = knownValuesFrom(
      { ...DEFAULT_REDACTION, valuesFromEnv: ["DEPLOY_KEY", "MISSING", "SHORT"] },
      ["s3-secret-0123456789"],
      { DEPLOY_KEY: "dk-0123456789abcdef", SHORT: "abc", AWS_SECRET_ACCESS_KEY: "aws-secret-from-env-01" },
    );
    expect(skipped).toEqual(["MISSING", "SHORT"]);
    const scanner = createRedaction(DEFAULT_REDACTION, values).scannerFor("log") as SecretScanner;
    const out = decoder.decode(run(scanner, "k=dk-0123456789abcdef s=s3-secret-0123456789 a=aws-secret-from-env-01\n"));
    expect(out).toBe("k=[REDACTED:env:DEPLOY_KEY] s=[REDACTED:store-credential] a=[REDACTED:store-credential]\n");
  });
});

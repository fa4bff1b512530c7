/**
 * The rules compiled for the scanner: every rule's anchors (the literals a match starts with)
 * in one index, and the match that starts first at a position, tried rule by rule at each anchor.
 */

import { foldToAscii } from "./bytes.ts";
import { buildPrefilter, firstAnchor, type Prefilter, type Spelling } from "./prefilter.ts";
import type { SecretRule } from "./rules.ts";
import { PEM_ANCHOR, PEM_BEGIN, PEM_RULE_NAME } from "./rules.ts";

/** A value to mask wherever it appears, named by where it came from (`env:NAME`, `store-credential`). */
export interface KnownValue {
  rule: string;
  value: string;
}

/** What is looked for: the rules, private-key blocks, known values and markers already there. */
export interface RuleOptions {
  rules: readonly SecretRule[];
  /** Mask private-key blocks (`private-key`); default true. */
  privateKeys?: boolean;
  knownValues?: readonly KnownValue[];
  /** Rule names `[REDACTED:<name>]` markers may carry: markers already in the content count as findings. */
  markerRules?: ReadonlySet<string>;
}

/** Characters before the scan start that lookbehinds (word boundaries, ANSI codes) may look at. */
export const CONTEXT = 64;

const encoder = new TextEncoder();
const MARKER = /\[REDACTED:([a-z0-9:_-]{1,80})\]/g;

export interface Match {
  rule: string;
  /** Where the whole match starts (for ordering and the line number). */
  start: number;
  /** The part that is replaced. */
  secretStart: number;
  secretEnd: number;
  /** A marker already in the content: counted, left as it is. */
  existingMarker?: boolean;
  /** A private-key header: opens a block that runs to its footer. */
  pemHeader?: boolean;
}

interface Source {
  rule: string;
  kind: "rule" | "marker" | "pem" | "value";
  /** Lower wins a tie at the same offset. */
  priority: number;
  /** Sticky regex tried at each anchor (absent for values: the anchor is the whole match). */
  pattern?: RegExp;
  accept?: (secret: string) => boolean;
}

/** One literal a match starts with, and the source it belongs to. */
interface Anchor {
  literal: string;
  /** Compared in any letter case (`literal` is lowercase). */
  caseless: boolean;
  /** What must come right after `literal` (in any letter case) for the pattern to match there; absent: anything. */
  followedBy?: readonly string[];
  source: Source;
}

/**
 * Every rule's anchors, found in one pass whatever the number of rules (on the bytes with the
 * prefilter; with one regex when an anchor is too short or not ASCII), and each hit is handed to
 * the rules whose anchor is there.
 */
export interface AnchorIndex {
  search: RegExp;
  /** Anchors by their first character, lowercased. */
  byFirst: Map<string, Anchor[]>;
  longest: number;
  /** The same anchors found on the bytes (null when one is shorter than a trigram). */
  prefilter: Prefilter | null;
}

/** The rules compiled once (search pattern, sticky patterns, window); scanners of one store share them. */
export interface CompiledRules {
  anchors: AnchorIndex;
  window: number;
}

/**
 * Compiles the rules for the scanner's `compiled` option. Scanners may share
 * the result: every scan is synchronous, so their patterns never interleave.
 */
export function compileScannerRules(options: RuleOptions): CompiledRules {
  return {
    anchors: buildAnchorIndex(options, new TextDecoder("latin1")),
    window: Math.max(256, ...options.rules.map((rule) => rule.maxLength + CONTEXT), longestValue(options) + 64),
  };
}

function buildAnchorIndex(options: RuleOptions, decoder: TextDecoder): AnchorIndex {
  const anchors: Anchor[] = [];
  let priority = 0;
  const add = (
    rule: string,
    kind: Source["kind"],
    literals: readonly string[],
    caseless: boolean,
    pattern?: RegExp,
    accept?: (secret: string) => boolean,
    followedBy?: Readonly<Record<string, readonly string[]>>,
  ) => {
    const found: Source = {
      rule,
      kind,
      priority: priority++,
      // Sticky, with indices for capture group 1: tried exactly at an anchor.
      ...(pattern ? { pattern: new RegExp(pattern.source, `${pattern.flags.replace(/[gyd]/g, "")}yd`) } : {}),
      ...(accept ? { accept } : {}),
    };
    for (const literal of literals) {
      const next = followedBy?.[literal];
      anchors.push({
        literal: caseless ? literal.toLowerCase() : literal,
        caseless,
        source: found,
        ...(next ? { followedBy: next } : {}),
      });
    }
  };
  if (options.markerRules && options.markerRules.size > 0) add("", "marker", ["[REDACTED:"], false, MARKER);
  for (const rule of options.rules) {
    add(rule.name, "rule", rule.anchors, rule.caseless === true, rule.pattern, rule.accept, rule.followedBy);
  }
  if (options.privateKeys !== false) add(PEM_RULE_NAME, "pem", [PEM_ANCHOR], false, PEM_BEGIN);
  const values = [...(options.knownValues ?? [])].sort((a, b) => b.value.length - a.value.length);
  for (const { rule, value } of values) {
    // Compared byte for byte: the value's UTF-8 bytes read the way the content is read.
    add(rule, "value", [decoder.decode(foldToAscii(encoder.encode(value)))], false);
  }
  const byFirst = new Map<string, Anchor[]>();
  for (const anchor of anchors) {
    const first = (anchor.literal[0] as string).toLowerCase();
    byFirst.set(first, [...(byFirst.get(first) ?? []), anchor]);
  }
  const spellings = anchors.flatMap(spellingsOf);
  return {
    search: new RegExp(searchPattern(spellings), "g"),
    byFirst,
    // A spelling is its literal and what must follow it: at least as long.
    longest: Math.max(0, ...spellings.map((spelling) => spelling.text.length)),
    prefilter: buildPrefilter(spellings),
  };
}

/**
 * One pattern that finds where any anchor starts, as a trie (`g(?:h(?:p_|o_)|l(?:pat-|dt-))`):
 * each position is tested against the few anchors sharing its first character, not all of
 * them, which JavaScriptCore and V8 search about twice as fast as a flat list of alternatives.
 * Caseless anchors are searched in their three usual spellings (`token`, `Token`, `TOKEN`).
 * It only says where to look: each hit is checked against every anchor there.
 */
function searchPattern(spellings: readonly Spelling[]): string {
  interface TrieNode {
    children: Map<string, TrieNode>;
    end: boolean;
  }
  const root: TrieNode = { children: new Map(), end: false };
  const add = ({ text, exact }: Spelling) => {
    let node = root;
    for (let index = 0; index < text.length; index++) {
      const char = text[index] as string;
      const upper = char.toUpperCase();
      // Past the exact part a letter is taken in either case, as the prefilter takes it.
      const unit = index >= exact && upper !== char ? `[${char}${upper}]` : escapeRegExp(char);
      let next = node.children.get(unit);
      if (!next) {
        next = { children: new Map(), end: false };
        node.children.set(unit, next);
      }
      node = next;
    }
    node.end = true;
  };
  for (const spelling of spellings) add(spelling);
  // A shorter anchor ends the search where a longer one continues: the hit is checked anyway.
  const emit = (node: TrieNode): string => {
    if (node.end) return "";
    const branches = [...node.children].map(([unit, child]) => unit + emit(child));
    return branches.length === 1 ? (branches[0] as string) : `(?:${branches.join("|")})`;
  };
  return root.children.size === 0 ? "(?!)" : emit(root);
}

/**
 * The literals an anchor is searched as. A caseless anchor is searched as it is written in
 * practice: token, Token, TOKEN (camelCase and SNAKE_CASE keys included). Three literals search
 * about twice as fast as character classes; the rule's own pattern then takes any case. What
 * must follow the anchor (`followedBy`) is part of each spelling, in any letter case.
 */
function spellingsOf(anchor: Anchor): Spelling[] {
  const { literal } = anchor;
  const cased = anchor.caseless
    ? [...new Set([literal, `${literal.charAt(0).toUpperCase()}${literal.slice(1)}`, literal.toUpperCase()])]
    : [literal];
  const next = anchor.followedBy ?? [""];
  return cased.flatMap((text) => next.map((rest) => ({ text: text + rest.toLowerCase(), exact: text.length })));
}

/**
 * The match whose secret starts first at or after `position` (among those starting before
 * `limit`); a tie goes to the earlier rule. A rule's secret never starts before its anchor, so
 * once a match is known only anchors up to its secret's start can beat it.
 */
export function nextMatch(
  index: AnchorIndex,
  block: Uint8Array,
  text: string,
  position: number,
  limit: number,
  markerRules: ReadonlySet<string>,
): Match | null {
  const { search, prefilter } = index;
  let from = position;
  let best: { match: Match; priority: number } | null = null;
  for (;;) {
    // The next anchor: on the bytes when they can be searched, with the search pattern otherwise.
    let at = -1;
    if (prefilter) at = firstAnchor(prefilter, block, from, limit);
    else {
      search.lastIndex = from;
      at = search.exec(text)?.index ?? -1;
    }
    if (at === -1 || at >= limit || (best && at > best.match.secretStart)) break;
    from = at + 1;
    const candidates = index.byFirst.get((text[at] as string).toLowerCase());
    if (!candidates) continue;
    const head = text.slice(at, at + index.longest);
    const lowerHead = head.toLowerCase();
    for (const anchor of candidates) {
      if (!(anchor.caseless ? lowerHead : head).startsWith(anchor.literal)) continue;
      if (best && anchor.source.priority > best.priority && best.match.secretStart <= at) continue;
      const match = tryAt(anchor, text, at, markerRules);
      if (!match) continue;
      if (
        !best ||
        match.secretStart < best.match.secretStart ||
        (match.secretStart === best.match.secretStart && anchor.source.priority < best.priority)
      ) {
        best = { match, priority: anchor.source.priority };
      }
    }
  }
  return best?.match ?? null;
}

function tryAt(anchor: Anchor, text: string, start: number, markerRules: ReadonlySet<string>): Match | null {
  const { source: found } = anchor;
  const { pattern } = found;
  if (!pattern) {
    return { rule: found.rule, start, secretStart: start, secretEnd: start + anchor.literal.length };
  }
  pattern.lastIndex = start;
  const matched = pattern.exec(text);
  if (!matched) return null;
  const end = start + matched[0].length;
  if (found.kind === "marker") {
    const rule = matched[1] as string;
    return markerRules.has(rule) ? { rule, start, secretStart: start, secretEnd: end, existingMarker: true } : null;
  }
  const [secretStart, secretEnd] = matched.indices?.[1] ?? [start, end];
  if (found.accept && !found.accept(text.slice(secretStart, secretEnd))) return null;
  return { rule: found.rule, start, secretStart, secretEnd, ...(found.kind === "pem" ? { pemHeader: true } : {}) };
}

function longestValue(options: Pick<RuleOptions, "knownValues">): number {
  let longest = 0;
  for (const { value } of options.knownValues ?? []) longest = Math.max(longest, encoder.encode(value).length);
  return longest;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

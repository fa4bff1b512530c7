/**
 * The streaming secret scanner: finds every rule's matches in content that arrives in chunks of
 * any size, masks them (or only records them, or refuses the content), with memory bounded by
 * the scan block plus a carry-over window (and one chunk held as it came), whatever the content's size.
 *
 * Content is read one byte per character, with every byte above 0x7F read as DEL (0x7F): every
 * rule is ASCII, a match's character offsets are byte offsets, unchanged bytes pass through as
 * they came (invalid UTF-8 included) and only matched bytes are replaced. (Reading the bytes as
 * they are would give two-byte strings on JavaScriptCore, whose `latin1` is windows-1252, and
 * searching those is several times slower.)
 *
 * A match may span chunk boundaries: the last `window` characters of each block are scanned
 * again with the next one, and a match is decided only when it starts before that tail (all
 * rules are bounded, so such a match ends inside the block). A PEM private-key block may be
 * far longer than the window: a small state machine masks from its header until its footer,
 * or until {@link PEM_MAX_LENGTH} when the footer never comes.
 *
 * Most content holds no anchor at all: each chunk is held until the next one comes, searched for
 * the anchors on its bytes (a trigram bitmap, see {@link Prefilter}) and, without one, passed on
 * as it came, neither copied nor decoded. A chunk with one goes to the block scan: the block is
 * decoded, its anchors are found on its bytes the same way, and the rules' patterns run there.
 */
import { ArtifactStoreError } from "../../contracts/errors.ts";
import type { SecretFinding } from "../../contracts/types.ts";
import { PEM_ANCHOR, PEM_BEGIN, PEM_END, PEM_MAX_LENGTH, PEM_RULE_NAME, type SecretRule } from "./rules.ts";

/** What happens to content with a finding. */
export type RedactionMode = "mask" | "flag" | "reject" | "off";

/** A value to mask wherever it appears, named by where it came from (`env:NAME`, `store-credential`). */
export interface KnownValue {
  rule: string;
  value: string;
}

export interface ScannerOptions {
  mode: Exclude<RedactionMode, "off">;
  rules: readonly SecretRule[];
  /** Mask private-key blocks (`private-key`); default true. */
  privateKeys?: boolean;
  knownValues?: readonly KnownValue[];
  /** Rule names `[REDACTED:<name>]` markers may carry: markers already in the content count as findings. */
  markerRules?: ReadonlySet<string>;
  /** The same options compiled by {@link compileScannerRules} (saves compiling per scanner). */
  compiled?: CompiledRules;
}

export interface SecretScanner {
  /** Scans a chunk; returns the bytes to pass on (the chunk itself unless masking; may be empty while held back). */
  write(chunk: Uint8Array): Uint8Array;
  /** Scans what is left; returns the last bytes to pass on. */
  end(): Uint8Array;
  /** Findings so far, one entry per rule, in order of first appearance. */
  findings(): SecretFinding[];
}

export const MAX_LINES_PER_RULE = 100;
/** Blocks smaller than this are gathered before scanning, so the window is rescanned rarely. */
const SCAN_BLOCK = 128 * 1024;
/** Characters before the scan start that lookbehinds (word boundaries, ANSI codes) may look at. */
const CONTEXT = 64;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const MARKER = /\[REDACTED:([a-z0-9:_-]{1,80})\]/g;

/** The marker that replaces a match. */
export function redactionMarker(rule: string): string {
  return `[REDACTED:${rule}]`;
}

/** The error a `reject` upload fails with: the rule and line, never the value. */
export function secretDetected(rule: string, line: number): ArtifactStoreError {
  return new ArtifactStoreError(
    "E_SECRET_DETECTED",
    `the content holds a secret (rule ${rule}, line ${line}); nothing was stored. Remove it, or ask the operator to mask instead of reject`,
    { details: { rule, line } },
  );
}

interface Match {
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
  source: Source;
}

/**
 * Every rule's anchors, found in one pass whatever the number of rules (on the bytes with the
 * prefilter; with one regex when an anchor is too short or not ASCII), and each hit is handed to
 * the rules whose anchor is there.
 */
interface AnchorIndex {
  search: RegExp;
  /** Anchors by their first character, lowercased. */
  byFirst: Map<string, Anchor[]>;
  longest: number;
  /** The same anchors found on the bytes (null when one is shorter than a trigram). */
  prefilter: Prefilter | null;
}

/**
 * Every anchor spelling the search pattern looks for, found on the bytes without decoding them:
 * a bit per trigram (7 bits per byte) that starts a spelling, and the spellings by trigram to
 * confirm a hit. Most blocks hold no anchor at all; they are passed on without being decoded
 * or searched, which is most of what scanning clean content costs.
 */
interface Prefilter {
  /** A byte per pair of bytes (read as a Uint16) that starts or ends a spelling's first trigram. */
  pairs: Uint8Array;
  trigrams: Uint32Array;
  spellings: Map<number, Uint8Array[]>;
}

/**
 * @example
 * const scanner = createSecretScanner({ mode: "mask", rules: FIXED_RULES });
 * const out = scanner.write(new TextEncoder().encode("token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n"));
 * new TextDecoder().decode(concat(out, scanner.end())); // "token [REDACTED:github-token]\n"
 */
export function createSecretScanner(options: ScannerOptions): SecretScanner {
  const decoder = new TextDecoder("latin1");
  const { anchors, window } = options.compiled ?? compileScannerRules(options);
  const markerRules = options.markerRules ?? new Set<string>();
  const masking = options.mode === "mask";
  const found = new Map<string, SecretFinding>();
  const markers = new Map<string, Uint8Array>();

  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  /** Bytes kept from the previous block: context, then the undecided tail. */
  /** Decided bytes just before `undecided`, kept for lookbehinds (at most {@link CONTEXT}). */
  let context: Uint8Array = EMPTY;
  /** Bytes not yet passed on: the tail of the last block, or the last chunk as it came. */
  let undecided: Uint8Array = EMPTY;
  /** Line number at the start of `undecided`. */
  let line = 1;
  /** Inside a private-key block: where it started (line) and how much of it has been masked. */
  let pem: { masked: number } | null = null;

  const record = (rule: string, atLine: number, alreadyMasked = false) => {
    let finding = found.get(rule);
    if (!finding) {
      finding = { rule, count: 0, lines: [] };
      found.set(rule, finding);
    }
    finding.count++;
    if (finding.lines.length < MAX_LINES_PER_RULE && finding.lines.at(-1) !== atLine) finding.lines.push(atLine);
    if (options.mode === "reject" && !alreadyMasked) throw secretDetected(rule, atLine);
  };
  const markerBytes = (rule: string) => {
    let bytes = markers.get(rule);
    if (!bytes) {
      bytes = encoder.encode(redactionMarker(rule));
      markers.set(rule, bytes);
    }
    return bytes;
  };

  /** Scans `context + undecided + pending`, deciding everything that starts before the tail (everything when `final`). */
  const scan = (final: boolean): Uint8Array => {
    const block = concat([context, undecided, ...pending], context.length + undecided.length + pendingLength);
    pending = [];
    pendingLength = 0;
    const limit = final ? block.length : block.length - window;
    let position = context.length;
    if (limit <= position) {
      context = block.subarray(0, position);
      undecided = block.subarray(position);
      return EMPTY;
    }
    // Where the first anchor starts: nothing before it can match.
    let searchFrom = position;
    if (!pem && anchors.prefilter) {
      const first = firstAnchor(anchors.prefilter, block, position, limit);
      if (first === -1) {
        line += countNewlineBytes(block, position, limit);
        keepCarry(block, limit, limit);
        return masking ? block.subarray(position, limit) : EMPTY;
      }
      searchFrom = first;
    }
    const text = readAsText(block, decoder);
    const out: Uint8Array[] = [];
    let outLength = 0;
    const emit = (from: number, to: number) => {
      if (!masking || to <= from) return;
      const piece = block.subarray(from, to);
      out.push(piece);
      outLength += piece.length;
    };
    const emitMarker = (rule: string) => {
      if (!masking) return;
      const bytes = markerBytes(rule);
      out.push(bytes);
      outLength += bytes.length;
    };
    let lineAt = position;
    const lineOf = (index: number) => {
      line += countNewlines(text, lineAt, index);
      lineAt = index;
      return line;
    };
    while (position < limit) {
      if (pem) {
        PEM_END.lastIndex = position;
        const footer = PEM_END.exec(text);
        const room = PEM_MAX_LENGTH - pem.masked;
        if (footer && footer.index < limit && footer.index - position <= room) {
          pem = null;
          position = footer.index + footer[0].length;
          continue;
        }
        const to = Math.min(limit, position + room);
        pem.masked += to - position;
        if (pem.masked >= PEM_MAX_LENGTH) pem = null;
        position = to;
        continue;
      }
      const match = nextMatch(anchors, block, text, Math.max(position, searchFrom), limit, markerRules);
      if (!match) {
        emit(position, limit);
        position = limit;
        break;
      }
      emit(position, match.secretStart);
      record(match.rule, lineOf(match.start), match.existingMarker === true);
      if (match.existingMarker) {
        emit(match.secretStart, match.secretEnd);
      } else {
        emitMarker(match.rule);
      }
      position = match.secretEnd;
      if (match.pemHeader) pem = { masked: 0 };
    }
    lineOf(position);
    keepCarry(block, position, limit);
    return outLength === 0 ? EMPTY : concat(out, outLength);
  };
  /** Keeps the undecided tail (from `position`) plus some context for lookbehinds. */
  const keepCarry = (block: Uint8Array, position: number, limit: number) => {
    const kept = copyOf(block.subarray(Math.max(0, Math.min(position, limit) - CONTEXT)));
    const split = kept.length - (block.length - position);
    context = kept.subarray(0, split);
    undecided = kept.subarray(split);
  };
  /**
   * The common case, without copying or decoding: when no anchor starts in `undecided` (the
   * last chunk as it came), it is passed on as it is and `chunk` is held in its place. Returns
   * null when an anchor may start there: the block scan decides.
   */
  const passClean = (prefilter: Prefilter, chunk: Uint8Array): Uint8Array | null => {
    const held = undecided;
    const reach = anchors.longest - 1;
    if (chunk.length < reach) return null;
    // Spellings that start in `held` and end in it, then those that run on into `chunk`.
    const inside = Math.max(0, held.length - reach);
    if (firstAnchor(prefilter, held, 0, inside) !== -1) return null;
    const edge = concat([held.subarray(inside), chunk.subarray(0, reach)], held.length - inside + reach);
    if (firstAnchor(prefilter, edge, 0, held.length - inside) !== -1) return null;
    line += countNewlineBytes(held, 0, held.length);
    context =
      held.length >= CONTEXT
        ? copyOf(held.subarray(held.length - CONTEXT))
        : copyOf(concat([context, held], context.length + held.length).subarray(-CONTEXT));
    undecided = chunk;
    return held;
  };

  return {
    write(chunk) {
      if (chunk.length === 0) return masking ? EMPTY : chunk;
      if (pendingLength === 0 && !pem && anchors.prefilter) {
        const passed = passClean(anchors.prefilter, chunk);
        if (passed) return masking ? passed : chunk;
      }
      pending.push(chunk);
      pendingLength += chunk.length;
      if (undecided.length + pendingLength < SCAN_BLOCK + window) {
        return masking ? EMPTY : chunk;
      }
      const out = scan(false);
      return masking ? out : chunk;
    },
    end() {
      const out = scan(true);
      context = EMPTY;
      undecided = EMPTY;
      return masking ? out : EMPTY;
    },
    findings() {
      return [...found.values()].map((finding) => ({ ...finding, lines: [...finding.lines] }));
    },
  };
}

/** The rules compiled once (search pattern, sticky patterns, window); scanners of one store share them. */
export interface CompiledRules {
  anchors: AnchorIndex;
  window: number;
}

/**
 * Compiles the rules for {@link createSecretScanner}'s `compiled` option. Scanners may share
 * the result: every scan is synchronous, so their patterns never interleave.
 */
export function compileScannerRules(options: Omit<ScannerOptions, "mode" | "compiled">): CompiledRules {
  return {
    anchors: buildAnchorIndex(options, new TextDecoder("latin1")),
    window: Math.max(256, ...options.rules.map((rule) => rule.maxLength + CONTEXT), longestValue(options) + 64),
  };
}

function buildAnchorIndex(options: Omit<ScannerOptions, "mode" | "compiled">, decoder: TextDecoder): AnchorIndex {
  const anchors: Anchor[] = [];
  let priority = 0;
  const add = (
    rule: string,
    kind: Source["kind"],
    literals: readonly string[],
    caseless: boolean,
    pattern?: RegExp,
    accept?: (secret: string) => boolean,
  ) => {
    const found: Source = {
      rule,
      kind,
      priority: priority++,
      // Sticky, with indices for capture group 1: tried exactly at an anchor.
      ...(pattern ? { pattern: new RegExp(pattern.source, `${pattern.flags.replace(/[gyd]/g, "")}yd`) } : {}),
      ...(accept ? { accept } : {}),
    };
    for (const literal of literals)
      anchors.push({ literal: caseless ? literal.toLowerCase() : literal, caseless, source: found });
  };
  if (options.markerRules && options.markerRules.size > 0) add("", "marker", ["[REDACTED:"], false, MARKER);
  for (const rule of options.rules) {
    add(rule.name, "rule", rule.anchors, rule.caseless === true, rule.pattern, rule.accept);
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
  const literals = [...new Set(anchors.map((anchor) => anchor.literal))];
  return {
    search: new RegExp(searchPattern(anchors), "g"),
    byFirst,
    longest: Math.max(0, ...literals.map((literal) => literal.length)),
    prefilter: buildPrefilter(anchors),
  };
}

/**
 * One pattern that finds where any anchor starts, as a trie (`g(?:h(?:p_|o_)|l(?:pat-|dt-))`):
 * each position is tested against the few anchors sharing its first character, not all of
 * them, which JavaScriptCore and V8 search about twice as fast as a flat list of alternatives.
 * Caseless anchors are searched in their three usual spellings (`token`, `Token`, `TOKEN`).
 * It only says where to look: each hit is checked against every anchor there.
 */
function searchPattern(anchors: readonly Anchor[]): string {
  interface TrieNode {
    children: Map<string, TrieNode>;
    end: boolean;
  }
  const root: TrieNode = { children: new Map(), end: false };
  const add = (literal: string) => {
    let node = root;
    for (const char of literal) {
      const unit = escapeRegExp(char);
      let next = node.children.get(unit);
      if (!next) {
        next = { children: new Map(), end: false };
        node.children.set(unit, next);
      }
      node = next;
    }
    node.end = true;
  };
  for (const anchor of anchors) for (const spelling of spellingsOf(anchor)) add(spelling);
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
 * about twice as fast as character classes; the rule's own pattern then takes any case.
 */
function spellingsOf(anchor: Anchor): string[] {
  const { literal } = anchor;
  if (!anchor.caseless) return [literal];
  return [...new Set([literal, `${literal.charAt(0).toUpperCase()}${literal.slice(1)}`, literal.toUpperCase()])];
}

/** A trigram's index in {@link Prefilter}: 7 bits per byte (every byte is folded to 0x7F or below). */
const TRIGRAM_MASK = 0x1fffff;

function buildPrefilter(anchors: readonly Anchor[]): Prefilter | null {
  const pairs = new Uint8Array(0x10000);
  // A pair as a Uint16Array reads it on this platform (either byte order).
  const pairBytes = new Uint8Array(2);
  const pairWord = new Uint16Array(pairBytes.buffer);
  const addPair = (one: number, two: number) => {
    pairBytes[0] = one;
    pairBytes[1] = two;
    pairs[pairWord[0] as number] = 1;
  };
  const trigrams = new Uint32Array((TRIGRAM_MASK + 1) / 32);
  const spellings = new Map<number, Uint8Array[]>();
  for (const anchor of anchors) {
    for (const spelling of spellingsOf(anchor)) {
      // Spellings are one character per byte, folded like the content (see the module comment).
      const bytes = Uint8Array.from(spelling, (char) => Math.min(char.charCodeAt(0), 0x7f));
      // Bytes above 0x7F are not folded while searching (see `firstAnchor`).
      if (bytes.length < 3 || bytes.subarray(0, 3).includes(0x7f)) return null;
      const trigram = ((bytes[0] as number) << 14) | ((bytes[1] as number) << 7) | (bytes[2] as number);
      addPair(bytes[0] as number, bytes[1] as number);
      addPair(bytes[1] as number, bytes[2] as number);
      trigrams[trigram >>> 5] = (trigrams[trigram >>> 5] as number) | (1 << (trigram & 31));
      spellings.set(trigram, [...(spellings.get(trigram) ?? []), bytes]);
    }
  }
  return { pairs, trigrams, spellings };
}

/**
 * Where the first anchor spelling starts in `block` at or after `from` and before `limit`, or
 * -1: the search pattern's first hit, found on the bytes. A spelling starting at `s` holds the
 * pairs (s, s+1) and (s+1, s+2), one of them at an even address: only the pairs at even
 * addresses are looked up, two bytes at a time, in a table small enough to stay in cache.
 */
function firstAnchor(prefilter: Prefilter, block: Uint8Array, from: number, limit: number): number {
  const { pairs } = prefilter;
  const last = Math.min(limit, block.length - 2);
  if (last < from) return -1;
  // The pair at `at` is `words[(block.byteOffset + at) / 2]`.
  const first = from + ((block.byteOffset + from) & 1);
  const words = new Uint16Array(block.buffer, block.byteOffset + first, (last + 2 - first) >>> 1);
  for (let word = 0; word < words.length; word++) {
    if (pairs[words[word] as number] === 1) {
      const at = first + word * 2;
      if (at > from && trigramAt(prefilter, block, at - 1)) return at - 1;
      if (at < last && trigramAt(prefilter, block, at)) return at;
    }
  }
  // A start at `from` whose pair is not at an even address has its next pair there: checked above.
  return -1;
}

/** Whether a spelling starts at `start` (which has two bytes after it). */
function trigramAt(prefilter: Prefilter, block: Uint8Array, start: number): boolean {
  const trigram =
    (((block[start] as number) << 14) | ((block[start + 1] as number) << 7) | (block[start + 2] as number)) &
    TRIGRAM_MASK;
  return (
    (((prefilter.trigrams[trigram >>> 5] as number) >>> (trigram & 31)) & 1) === 1 &&
    spelledAt(prefilter, trigram, block, start)
  );
}

function countNewlineBytes(bytes: Uint8Array, from: number, to: number): number {
  let count = 0;
  for (let index = bytes.indexOf(0x0a, from); index !== -1 && index < to; index = bytes.indexOf(0x0a, index + 1))
    count++;
  return count;
}

function spelledAt(prefilter: Prefilter, trigram: number, block: Uint8Array, start: number): boolean {
  next: for (const spelling of prefilter.spellings.get(trigram) ?? []) {
    if (start + spelling.length > block.length) continue;
    for (let offset = 0; offset < spelling.length; offset++) {
      const byte = block[start + offset] as number;
      if (Math.min(byte, 0x7f) !== spelling[offset]) continue next;
    }
    return true;
  }
  return false;
}

/**
 * The match whose secret starts first at or after `position` (among those starting before
 * `limit`); a tie goes to the earlier rule. A rule's secret never starts before its anchor, so
 * once a match is known only anchors up to its secret's start can beat it.
 */
function nextMatch(
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

const utf8 = new TextDecoder();

/**
 * The block as text with one character per byte. Most logs are ASCII, which the UTF-8 decoder
 * reads fastest; when the text it gives is shorter than the bytes (multi-byte characters), the
 * block is read again with its non-ASCII bytes folded (see the module comment).
 */
function readAsText(block: Uint8Array, decoder: TextDecoder): string {
  const text = utf8.decode(block);
  return text.length === block.length ? text : decoder.decode(foldToAscii(block));
}

/** `bytes` with every byte above 0x7F replaced by 0x7F (a copy when there is one; `bytes` itself otherwise). */
export function foldToAscii(bytes: Uint8Array): Uint8Array {
  const words = Math.floor(bytes.length / 4);
  const aligned = bytes.byteOffset % 4 === 0;
  let first = -1;
  if (aligned) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset, words);
    for (let index = 0; index < words; index++) {
      if ((view[index] as number) & 0x80808080) {
        first = index * 4;
        break;
      }
    }
    if (first === -1) {
      for (let index = words * 4; index < bytes.length; index++) {
        if ((bytes[index] as number) & 0x80) {
          first = index;
          break;
        }
      }
    }
  } else {
    for (let index = 0; index < bytes.length; index++) {
      if ((bytes[index] as number) & 0x80) {
        first = index;
        break;
      }
    }
  }
  if (first === -1) return bytes;
  const folded = copyOf(bytes);
  for (let index = first; index < folded.length; index++) {
    if ((folded[index] as number) & 0x80) folded[index] = 0x7f;
  }
  return folded;
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  let index = text.indexOf("\n", from);
  while (index !== -1 && index < to) {
    count++;
    index = text.indexOf("\n", index + 1);
  }
  return count;
}

function longestValue(options: Pick<ScannerOptions, "knownValues">): number {
  let longest = 0;
  for (const { value } of options.knownValues ?? []) longest = Math.max(longest, encoder.encode(value).length);
  return longest;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** A copy (`slice` of a Node `Buffer`, which callers may pass, is a view). */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** The parts as one array: the only non-empty part itself when there is one (no copy). */
function concat(parts: Uint8Array[], length: number): Uint8Array {
  const filled = parts.filter((part) => part.length > 0);
  if (filled.length <= 1) return filled[0] ?? EMPTY;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const part of filled) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

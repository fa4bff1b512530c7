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
 * the anchors on its bytes (a trigram bitmap, see `prefilter.ts`) and, without one, passed on
 * as it came, neither copied nor decoded. A chunk with one goes to the block scan: the block is
 * decoded, its anchors are found on its bytes the same way, and the rules' patterns run there.
 */
import { ArtifactStoreError } from "../../contracts/errors.ts";
import type { SecretFinding } from "../../contracts/types.ts";
import { CONTEXT, type CompiledRules, compileScannerRules, nextMatch, type RuleOptions } from "./anchors.ts";
import { concat, copyOf, countNewlineBytes, countNewlines, EMPTY, readAsText } from "./bytes.ts";
import { firstAnchor, type Prefilter } from "./prefilter.ts";
import { PEM_END, PEM_MAX_LENGTH } from "./rules.ts";

/** What happens to content with a finding. */
export type RedactionMode = "mask" | "flag" | "reject" | "off";

export interface ScannerOptions extends RuleOptions {
  mode: Exclude<RedactionMode, "off">;
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

const encoder = new TextEncoder();

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

  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  const carry: Carry = { context: EMPTY, undecided: EMPTY, line: 1 };
  /** Inside a private-key block: how much of it has been masked. */
  let pem: PemBlock | null = null;

  const { record, markerBytes, list: findings } = createFindings(options.mode);

  /** Scans `context + undecided + pending`, deciding everything that starts before the tail (everything when `final`). */
  const scan = (final: boolean): Uint8Array => {
    const block = concat(
      [carry.context, carry.undecided, ...pending],
      carry.context.length + carry.undecided.length + pendingLength,
    );
    pending = [];
    pendingLength = 0;
    const limit = final ? block.length : block.length - window;
    let position = carry.context.length;
    if (limit <= position) {
      carry.context = block.subarray(0, position);
      carry.undecided = block.subarray(position);
      return EMPTY;
    }
    // Where the first anchor starts: nothing before it can match.
    let searchFrom = position;
    if (!pem && anchors.prefilter) {
      const first = firstAnchor(anchors.prefilter, block, position, limit);
      if (first === -1) {
        carry.line += countNewlineBytes(block, position, limit);
        keepCarry(carry, block, limit, limit);
        return masking ? block.subarray(position, limit) : EMPTY;
      }
      searchFrom = first;
    }
    const text = readAsText(block, decoder);
    const { emit, emitMarker, joined } = createOutput(masking, block, markerBytes);
    let lineAt = position;
    const lineOf = (index: number) => {
      carry.line += countNewlines(text, lineAt, index);
      lineAt = index;
      return carry.line;
    };
    while (position < limit) {
      if (pem) {
        position = maskPemBlock(pem, text, position, limit);
        if (!pem.open) pem = null;
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
      if (match.existingMarker) emit(match.secretStart, match.secretEnd);
      else emitMarker(match.rule);
      position = match.secretEnd;
      if (match.pemHeader) pem = { masked: 0, open: true };
    }
    lineOf(position);
    keepCarry(carry, block, position, limit);
    return joined();
  };

  return {
    write(chunk) {
      if (chunk.length === 0) return masking ? EMPTY : chunk;
      if (pendingLength === 0 && !pem && anchors.prefilter) {
        const passed = passClean(carry, anchors.longest, anchors.prefilter, chunk);
        if (passed) return masking ? passed : chunk;
      }
      pending.push(chunk);
      pendingLength += chunk.length;
      if (carry.undecided.length + pendingLength < SCAN_BLOCK + window) {
        return masking ? EMPTY : chunk;
      }
      const out = scan(false);
      return masking ? out : chunk;
    },
    end() {
      const out = scan(true);
      carry.context = EMPTY;
      carry.undecided = EMPTY;
      return masking ? out : EMPTY;
    },
    findings,
  };
}

/** Findings per rule (a `reject` scan throws at the first), and the marker bytes of each rule. */
function createFindings(mode: ScannerOptions["mode"]) {
  const found = new Map<string, SecretFinding>();
  const markers = new Map<string, Uint8Array>();
  const record = (rule: string, atLine: number, alreadyMasked = false) => {
    let finding = found.get(rule);
    if (!finding) {
      finding = { rule, count: 0, lines: [] };
      found.set(rule, finding);
    }
    finding.count++;
    if (finding.lines.length < MAX_LINES_PER_RULE && finding.lines.at(-1) !== atLine) finding.lines.push(atLine);
    if (mode === "reject" && !alreadyMasked) throw secretDetected(rule, atLine);
  };
  const markerBytes = (rule: string) => {
    let bytes = markers.get(rule);
    if (!bytes) {
      bytes = encoder.encode(redactionMarker(rule));
      markers.set(rule, bytes);
    }
    return bytes;
  };
  const list = (): SecretFinding[] => [...found.values()].map((finding) => ({ ...finding, lines: [...finding.lines] }));
  return { record, markerBytes, list };
}

/** What the scanner keeps between blocks. */
interface Carry {
  /** Decided bytes just before `undecided`, kept for lookbehinds (at most {@link CONTEXT}). */
  context: Uint8Array;
  /** Bytes not yet passed on: the tail of the last block, or the last chunk as it came. */
  undecided: Uint8Array;
  /** Line number at the start of `undecided`. */
  line: number;
}

/** What a masking scan passes on of one block: its decided pieces and markers, joined at the end. */
function createOutput(masking: boolean, block: Uint8Array, markerBytes: (rule: string) => Uint8Array) {
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
  const joined = () => (outLength === 0 ? EMPTY : concat(out, outLength));
  return { emit, emitMarker, joined };
}

/** A private-key block being masked. */
interface PemBlock {
  masked: number;
  /** False once its footer came or {@link PEM_MAX_LENGTH} was masked. */
  open: boolean;
}

/**
 * Inside a private-key block: masks up to its footer, or until {@link PEM_MAX_LENGTH} has been
 * masked; returns where masking stopped.
 */
function maskPemBlock(pem: PemBlock, text: string, position: number, limit: number): number {
  PEM_END.lastIndex = position;
  const footer = PEM_END.exec(text);
  const room = PEM_MAX_LENGTH - pem.masked;
  if (footer && footer.index < limit && footer.index - position <= room) {
    pem.open = false;
    return footer.index + footer[0].length;
  }
  const to = Math.min(limit, position + room);
  pem.masked += to - position;
  if (pem.masked >= PEM_MAX_LENGTH) pem.open = false;
  return to;
}

/** Keeps the undecided tail (from `position`) plus some context for lookbehinds. */
function keepCarry(carry: Carry, block: Uint8Array, position: number, limit: number): void {
  const kept = copyOf(block.subarray(Math.max(0, Math.min(position, limit) - CONTEXT)));
  const split = kept.length - (block.length - position);
  carry.context = kept.subarray(0, split);
  carry.undecided = kept.subarray(split);
}

/**
 * The common case, without copying or decoding: when no anchor starts in `undecided` (the
 * last chunk as it came), it is passed on as it is and `chunk` is held in its place. Returns
 * null when an anchor may start there: the block scan decides.
 */
function passClean(carry: Carry, longest: number, prefilter: Prefilter, chunk: Uint8Array): Uint8Array | null {
  const held = carry.undecided;
  const reach = longest - 1;
  if (chunk.length < reach) return null;
  // Spellings that start in `held` and end in it, then those that run on into `chunk`.
  const inside = Math.max(0, held.length - reach);
  if (firstAnchor(prefilter, held, 0, inside) !== -1) return null;
  const edge = concat([held.subarray(inside), chunk.subarray(0, reach)], held.length - inside + reach);
  if (firstAnchor(prefilter, edge, 0, held.length - inside) !== -1) return null;
  carry.line += countNewlineBytes(held, 0, held.length);
  carry.context =
    held.length >= CONTEXT
      ? copyOf(held.subarray(held.length - CONTEXT))
      : copyOf(concat([carry.context, held], carry.context.length + held.length).subarray(-CONTEXT));
  carry.undecided = chunk;
  return held;
}

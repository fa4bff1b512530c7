/**
 * A streaming JSON reader: text goes in as it arrives, events come out with the path of each
 * value. Memory stays bounded whatever the document's size: strings longer than `maxString`
 * are cut (the rest is skipped), and only the current path is kept.
 */
export type JsonPath = readonly (string | number)[];
export type JsonScalar = string | number | boolean | null;

export interface JsonEvents {
  open(path: JsonPath, kind: "object" | "array"): void;
  close(path: JsonPath, kind: "object" | "array"): void;
  value(path: JsonPath, value: JsonScalar): void;
}

enum Mode {
  Value,
  ArrayStart,
  ObjectStart,
  Key,
  Colon,
  AfterValue,
  String,
  Literal,
  Done,
}

const SPECIAL_IN_STRING = /["\\]/g;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/** Where the reader is in the document. */
interface JsonReadState {
  readonly events: JsonEvents;
  readonly maxString: number;
  mode: Mode;
  readonly kinds: ("object" | "array")[];
  readonly path: (string | number)[];
  text: string;
  textLength: number;
  stringIsKey: boolean;
  /** "\\" after a backslash, "u…" while reading \uXXXX. */
  pendingEscape: string | null;
  literal: string;
  consumed: number;
}

export function createJsonReader(events: JsonEvents, maxString = 8192) {
  const state: JsonReadState = {
    events,
    maxString,
    mode: Mode.Value,
    kinds: [],
    path: [],
    text: "",
    textLength: 0,
    stringIsKey: false,
    pendingEscape: null,
    literal: "",
    consumed: 0,
  };
  return {
    write: (chunk: string) => write(state, chunk),
    end() {
      if (state.mode === Mode.Literal && state.kinds.length === 0) finishLiteral(state);
      if (state.mode !== Mode.Done) fail(state, "the document ended early");
    },
  };
}

function fail(state: JsonReadState, message: string): never {
  throw new Error(`invalid JSON near character ${state.consumed}: ${message}`);
}

function afterValue(state: JsonReadState): void {
  state.mode = state.kinds.length === 0 ? Mode.Done : Mode.AfterValue;
}

function beginValue(state: JsonReadState): void {
  const { kinds, path } = state;
  if (kinds.at(-1) === "array") path[path.length - 1] = (path.at(-1) as number) + 1;
}

function finishLiteral(state: JsonReadState): void {
  const literal = state.literal;
  let value: JsonScalar;
  if (literal === "true") value = true;
  else if (literal === "false") value = false;
  else if (literal === "null") value = null;
  else if (NUMBER.test(literal)) value = Number(literal);
  else fail(state, `unexpected ${JSON.stringify(literal.slice(0, 20))}`);
  state.literal = "";
  state.events.value(state.path, value);
  afterValue(state);
}

function finishString(state: JsonReadState): void {
  if (state.stringIsKey) {
    state.path[state.path.length - 1] = state.text;
    state.mode = Mode.Colon;
  } else {
    state.events.value(state.path, state.text);
    afterValue(state);
  }
  state.text = "";
  state.textLength = 0;
}

/** Adds to the string being read, keeping at most `maxString` characters of it. */
function append(state: JsonReadState, piece: string): void {
  const { maxString, textLength } = state;
  if (textLength < maxString)
    state.text += piece.length + textLength > maxString ? piece.slice(0, maxString - textLength) : piece;
  state.textLength = textLength + piece.length;
}

function close(state: JsonReadState, kind: "object" | "array"): void {
  if (state.kinds.pop() !== kind) fail(state, `unexpected ${kind === "object" ? "}" : "]"}`);
  state.path.pop();
  state.events.close(state.path, kind);
  afterValue(state);
}

function write(state: JsonReadState, chunk: string): void {
  let index = 0;
  const length = chunk.length;
  while (index < length) {
    const mode = state.mode;
    if (mode === Mode.String) {
      if (state.pendingEscape !== null) {
        readEscape(state, chunk[index] as string);
        index++;
        continue;
      }
      SPECIAL_IN_STRING.lastIndex = index;
      const match = SPECIAL_IN_STRING.exec(chunk);
      if (!match) {
        append(state, chunk.slice(index));
        break;
      }
      if (match.index > index) append(state, chunk.slice(index, match.index));
      index = match.index + 1;
      if (match[0] === '"') finishString(state);
      else state.pendingEscape = "\\";
      continue;
    }
    if (mode === Mode.Literal) {
      index = readLiteral(state, chunk, index);
      continue;
    }
    const code = chunk.charCodeAt(index);
    index++;
    if (isSpace(code)) continue;
    // A character outside strings and literals.
    switch (mode) {
      case Mode.Value:
      case Mode.ArrayStart:
        if (mode === Mode.ArrayStart && code === 0x5d /* ] */) close(state, "array");
        else startValue(state, code, chunk, index - 1);
        break;
      case Mode.ObjectStart:
      case Mode.Key:
        if (mode === Mode.ObjectStart && code === 0x7d /* } */) close(state, "object");
        else if (code === 0x22) {
          state.stringIsKey = true;
          state.mode = Mode.String;
        } else fail(state, "expected a key");
        break;
      case Mode.Colon:
        if (code !== 0x3a) fail(state, "expected :");
        state.mode = Mode.Value;
        break;
      case Mode.AfterValue:
        if (code === 0x2c /* , */) state.mode = state.kinds.at(-1) === "object" ? Mode.Key : Mode.Value;
        else if (code === 0x7d) close(state, "object");
        else if (code === 0x5d) close(state, "array");
        else fail(state, `unexpected ${JSON.stringify(chunk[index - 1])}`);
        break;
      case Mode.Done:
        fail(state, "text after the end of the document");
    }
  }
  state.consumed += length;
}

/**
 * Inside a literal (`true`, `-1.5e3`) from `index`, up to its delimiter, which is read in the
 * next mode: returns where reading goes on.
 */
function readLiteral(state: JsonReadState, chunk: string, index: number): number {
  const length = chunk.length;
  let end = index;
  for (; end < length; end++) {
    const code = chunk.charCodeAt(end);
    if (isSpace(code) || code === 0x2c || code === 0x5d || code === 0x7d) break;
  }
  state.literal += chunk.slice(index, end);
  if (state.literal.length > 64) fail(state, "literal too long");
  if (end < length) finishLiteral(state);
  return end;
}

/** One character of an escape (`\n`, `\u00e9`) inside a string. */
function readEscape(state: JsonReadState, character: string): void {
  if (state.pendingEscape === "\\") {
    if (character === "u") state.pendingEscape = "u";
    else {
      const replacement = ESCAPES[character];
      if (replacement === undefined) fail(state, `bad pendingEscape \\${character}`);
      append(state, replacement as string);
      state.pendingEscape = null;
    }
    return;
  }
  const pending = `${state.pendingEscape}${character}`;
  state.pendingEscape = pending;
  if (pending.length === 5) {
    const code = Number.parseInt(pending.slice(1), 16);
    if (!Number.isFinite(code)) fail(state, "bad \\u pendingEscape");
    append(state, String.fromCharCode(code));
    state.pendingEscape = null;
  }
}

/** The first character of a value: an object, an array, a string or a literal. */
function startValue(state: JsonReadState, code: number, chunk: string, at: number): void {
  beginValue(state);
  if (code === 0x7b /* { */) {
    state.events.open(state.path, "object");
    state.kinds.push("object");
    state.path.push("");
    state.mode = Mode.ObjectStart;
  } else if (code === 0x5b /* [ */) {
    state.events.open(state.path, "array");
    state.kinds.push("array");
    state.path.push(-1);
    state.mode = Mode.ArrayStart;
  } else if (code === 0x22 /* " */) {
    state.stringIsKey = false;
    state.mode = Mode.String;
  } else if (code === 0x2d || (code >= 0x30 && code <= 0x39) || code === 0x74 || code === 0x66 || code === 0x6e) {
    state.literal = chunk[at] as string;
    state.mode = Mode.Literal;
  } else fail(state, `unexpected ${JSON.stringify(chunk[at])}`);
}

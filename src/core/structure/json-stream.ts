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

export function createJsonReader(events: JsonEvents, maxString = 8192) {
  let mode: Mode = Mode.Value;
  const kinds: ("object" | "array")[] = [];
  const path: (string | number)[] = [];
  let text = "";
  let textLength = 0;
  let stringIsKey = false;
  let pendingEscape: string | null = null; // "\\" after a backslash, "u…" while reading \uXXXX
  let literal = "";
  let consumed = 0;

  const fail = (message: string): never => {
    throw new Error(`invalid JSON near character ${consumed}: ${message}`);
  };

  const afterValue = () => {
    mode = kinds.length === 0 ? Mode.Done : Mode.AfterValue;
  };

  const beginValue = () => {
    if (kinds.at(-1) === "array") path[path.length - 1] = (path.at(-1) as number) + 1;
  };

  const finishLiteral = () => {
    let value: JsonScalar;
    if (literal === "true") value = true;
    else if (literal === "false") value = false;
    else if (literal === "null") value = null;
    else if (NUMBER.test(literal)) value = Number(literal);
    else return fail(`unexpected ${JSON.stringify(literal.slice(0, 20))}`);
    literal = "";
    events.value(path, value);
    afterValue();
  };

  const finishString = () => {
    if (stringIsKey) {
      path[path.length - 1] = text;
      mode = Mode.Colon;
    } else {
      events.value(path, text);
      afterValue();
    }
    text = "";
    textLength = 0;
  };

  const append = (piece: string) => {
    if (textLength < maxString)
      text += piece.length + textLength > maxString ? piece.slice(0, maxString - textLength) : piece;
    textLength += piece.length;
  };

  const close = (kind: "object" | "array") => {
    if (kinds.pop() !== kind) fail(`unexpected ${kind === "object" ? "}" : "]"}`);
    path.pop();
    events.close(path, kind);
    afterValue();
  };

  const write = (chunk: string) => {
    let index = 0;
    const length = chunk.length;
    while (index < length) {
      if (mode === Mode.String) {
        if (pendingEscape !== null) {
          const character = chunk[index] as string;
          index++;
          if (pendingEscape === "\\") {
            if (character === "u") pendingEscape = "u";
            else {
              const replacement = ESCAPES[character];
              if (replacement === undefined) fail(`bad pendingEscape \\${character}`);
              append(replacement as string);
              pendingEscape = null;
            }
          } else {
            pendingEscape += character;
            if (pendingEscape.length === 5) {
              const code = Number.parseInt(pendingEscape.slice(1), 16);
              if (!Number.isFinite(code)) fail("bad \\u pendingEscape");
              append(String.fromCharCode(code));
              pendingEscape = null;
            }
          }
          continue;
        }
        SPECIAL_IN_STRING.lastIndex = index;
        const match = SPECIAL_IN_STRING.exec(chunk);
        if (!match) {
          append(chunk.slice(index));
          index = length;
          break;
        }
        if (match.index > index) append(chunk.slice(index, match.index));
        index = match.index + 1;
        if (match[0] === '"') finishString();
        else pendingEscape = "\\";
        continue;
      }
      const code = chunk.charCodeAt(index);
      if (mode === Mode.Literal) {
        if (isSpace(code) || code === 0x2c || code === 0x5d || code === 0x7d) {
          finishLiteral();
          continue; // the delimiter is read in the new mode
        }
        literal += chunk[index];
        if (literal.length > 64) fail("literal too long");
        index++;
        continue;
      }
      index++;
      if (isSpace(code)) continue;
      switch (mode) {
        case Mode.Value:
        case Mode.ArrayStart:
          if (mode === Mode.ArrayStart && code === 0x5d /* ] */) {
            close("array");
            break;
          }
          beginValue();
          if (code === 0x7b /* { */) {
            events.open(path, "object");
            kinds.push("object");
            path.push("");
            mode = Mode.ObjectStart;
          } else if (code === 0x5b /* [ */) {
            events.open(path, "array");
            kinds.push("array");
            path.push(-1);
            mode = Mode.ArrayStart;
          } else if (code === 0x22 /* " */) {
            stringIsKey = false;
            mode = Mode.String;
          } else if (
            code === 0x2d ||
            (code >= 0x30 && code <= 0x39) ||
            code === 0x74 ||
            code === 0x66 ||
            code === 0x6e
          ) {
            literal = chunk[index - 1] as string;
            mode = Mode.Literal;
          } else fail(`unexpected ${JSON.stringify(chunk[index - 1])}`);
          break;
        case Mode.ObjectStart:
        case Mode.Key:
          if (mode === Mode.ObjectStart && code === 0x7d /* } */) close("object");
          else if (code === 0x22) {
            stringIsKey = true;
            mode = Mode.String;
          } else fail("expected a key");
          break;
        case Mode.Colon:
          if (code !== 0x3a) fail("expected :");
          mode = Mode.Value;
          break;
        case Mode.AfterValue:
          if (code === 0x2c /* , */) mode = kinds.at(-1) === "object" ? Mode.Key : Mode.Value;
          else if (code === 0x7d) close("object");
          else if (code === 0x5d) close("array");
          else fail(`unexpected ${JSON.stringify(chunk[index - 1])}`);
          break;
        case Mode.Done:
          fail("text after the end of the document");
      }
    }
    consumed += length;
  };

  return {
    write,
    end() {
      if (mode === Mode.Literal && kinds.length === 0) finishLiteral();
      if (mode !== Mode.Done) fail("the document ended early");
    },
  };
}

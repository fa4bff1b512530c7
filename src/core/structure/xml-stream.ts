/**
 * A streaming XML tokenizer, enough for test reports: elements with attributes, text, CDATA,
 * comments, processing instructions and a DOCTYPE without an internal subset. Text and CDATA
 * are handed out as they arrive, so a megabyte of `<system-out>` never sits in memory; a
 * single tag longer than 1 MiB is refused.
 */
export interface XmlEvents {
  open(name: string, attributes: Record<string, string>, selfClosing: boolean): void;
  close(name: string): void;
  text(text: string): void;
}

const MAX_TAG = 1024 * 1024;
const ENTITY = /&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g;
const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

export function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(ENTITY, (_whole, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return NAMED[entity] ?? "";
  });
}

type Section = { end: string; isText: boolean } | null;

/** Where the reader is in the document. */
interface XmlReadState {
  readonly events: XmlEvents;
  /** What arrived and is not read yet. */
  buffer: string;
  /** Inside CDATA or a comment: what ends it, and whether its content is text. */
  section: Section;
  readonly open: string[];
  rootClosed: boolean;
}

export function createXmlReader(events: XmlEvents) {
  const state: XmlReadState = { events, buffer: "", section: null, open: [], rootClosed: false };
  return {
    write(text: string) {
      state.buffer += text;
      process(state, false);
    },
    end() {
      process(state, true);
      if (state.buffer.trim().length > 0 || state.section)
        throw new Error("invalid XML: the document ended inside a tag");
      if (state.open.length > 0) throw new Error(`invalid XML: the document ended inside <${state.open.at(-1)}>`);
    },
  };
}

/** Reads what the buffer holds, keeping what may be cut by the chunk boundary (unless `final`). */
function process(state: XmlReadState, final: boolean): void {
  const buffer = state.buffer;
  let position = 0;
  while (position < buffer.length) {
    if (state.section) {
      position = readSection(state, buffer, position);
      if (state.section) break; // its end has not arrived yet
      continue;
    }
    const lessThan = buffer.indexOf("<", position);
    if (lessThan === -1) {
      position = readText(state, buffer, position, final);
      break;
    }
    if (lessThan > position) state.events.text(decodeEntities(buffer.slice(position, lessThan)));
    position = lessThan;
    const next = readMarkup(state, buffer, position, final);
    if (next === -1) break;
    position = next;
  }
  state.buffer = buffer.slice(position);
}

/** Inside CDATA, a comment or a processing instruction: returns where reading goes on. */
function readSection(state: XmlReadState, buffer: string, position: number): number {
  const section = state.section as NonNullable<Section>;
  const end = buffer.indexOf(section.end, position);
  if (end === -1) {
    // Hand out what cannot be the start of the terminator; keep the rest for the next chunk.
    const keep = Math.max(position, buffer.length - (section.end.length - 1));
    if (section.isText && keep > position) state.events.text(buffer.slice(position, keep));
    return keep;
  }
  if (section.isText && end > position) state.events.text(buffer.slice(position, end));
  state.section = null;
  return end + section.end.length;
}

/** Text up to the buffer's end; an entity the chunk boundary may have cut is kept for the next. */
function readText(state: XmlReadState, buffer: string, position: number, final: boolean): number {
  const keep = buffer.lastIndexOf("&");
  const cut =
    !final && keep >= position && buffer.length - keep < 12 && !buffer.includes(";", keep) ? keep : buffer.length;
  if (cut > position) state.events.text(decodeEntities(buffer.slice(position, cut)));
  return cut;
}

/** The markup at `position` (a `<`): returns where reading goes on, or -1 until more arrives. */
function readMarkup(state: XmlReadState, buffer: string, position: number, final: boolean): number {
  if (buffer.length - position < 9 && !final) return -1; // not enough to tell `<![CDATA[` from a tag
  if (buffer.startsWith("<!--", position)) {
    state.section = { end: "-->", isText: false };
    return position + 4;
  }
  if (buffer.startsWith("<![CDATA[", position)) {
    state.section = { end: "]]>", isText: true };
    return position + 9;
  }
  if (buffer.startsWith("<?", position)) {
    state.section = { end: "?>", isText: false };
    return position + 2;
  }
  const end = tagEnd(buffer, position);
  if (end === -1) {
    if (buffer.length - position > MAX_TAG) throw new Error("invalid XML: a tag longer than 1 MiB");
    return -1;
  }
  const body = buffer.slice(position + 1, end - 1).trim();
  if (body.startsWith("!")) return end; // DOCTYPE and other declarations
  if (body.startsWith("/")) closeTag(state, body.slice(1).trim());
  else openTag(state, body);
  return end;
}

/** Index just after the `>` that ends the tag starting at `start`, outside quotes; -1 if not here yet. */
function tagEnd(buffer: string, start: number): number {
  let quote = 0;
  for (let index = start + 1; index < buffer.length; index++) {
    const code = buffer.charCodeAt(index);
    if (quote !== 0) {
      if (code === quote) quote = 0;
    } else if (code === 0x22 || code === 0x27) quote = code;
    else if (code === 0x3e) return index + 1;
  }
  return -1;
}

function openTag(state: XmlReadState, body: string): void {
  const selfClosing = body.endsWith("/");
  const inner = selfClosing ? body.slice(0, -1) : body;
  const nameEnd = inner.search(/[\s/]|$/);
  const name = inner.slice(0, nameEnd);
  if (!name) throw new Error("invalid XML: a tag without a name");
  if (state.rootClosed) throw new Error(`invalid XML: <${name}> after the root element ended`);
  const attributes: Record<string, string> = {};
  ATTRIBUTE.lastIndex = nameEnd;
  let parsed = nameEnd;
  for (let match = ATTRIBUTE.exec(inner); match; match = ATTRIBUTE.exec(inner)) {
    // Only white space may stand between attributes: `name=value` without quotes is not XML.
    if (inner.slice(parsed, match.index).trim()) break;
    attributes[match[1] as string] = decodeEntities(match[2] ?? match[3] ?? "");
    parsed = ATTRIBUTE.lastIndex;
  }
  if (inner.slice(parsed).trim()) throw new Error(`invalid XML: a malformed attribute in <${name}>`);
  state.events.open(name, attributes, selfClosing);
  if (selfClosing) {
    state.events.close(name);
    if (state.open.length === 0) state.rootClosed = true;
  } else if (state.open.length < 1000) state.open.push(name);
  else throw new Error("invalid XML: elements nested more than 1000 deep");
}

function closeTag(state: XmlReadState, name: string): void {
  if (state.open.pop() !== name) throw new Error(`invalid XML: unexpected </${name}>`);
  state.events.close(name);
  if (state.open.length === 0) state.rootClosed = true;
}

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

export function createXmlReader(events: XmlEvents) {
  let buffer = "";
  // Inside CDATA or a comment: what ends it, and whether its content is text.
  let section: Section = null;
  const open: string[] = [];
  let rootClosed = false;

  const openTag = (body: string) => {
    const selfClosing = body.endsWith("/");
    const inner = selfClosing ? body.slice(0, -1) : body;
    const nameEnd = inner.search(/[\s/]|$/);
    const name = inner.slice(0, nameEnd);
    if (!name) throw new Error("invalid XML: a tag without a name");
    if (rootClosed) throw new Error(`invalid XML: <${name}> after the root element ended`);
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
    events.open(name, attributes, selfClosing);
    if (selfClosing) {
      events.close(name);
      if (open.length === 0) rootClosed = true;
    } else if (open.length < 1000) open.push(name);
    else throw new Error("invalid XML: elements nested more than 1000 deep");
  };

  /** Index just after the `>` that ends the tag starting at `start`, outside quotes; -1 if not here yet. */
  const tagEnd = (start: number): number => {
    let quote = 0;
    for (let index = start + 1; index < buffer.length; index++) {
      const code = buffer.charCodeAt(index);
      if (quote !== 0) {
        if (code === quote) quote = 0;
      } else if (code === 0x22 || code === 0x27) quote = code;
      else if (code === 0x3e) return index + 1;
    }
    return -1;
  };

  const process = (final: boolean) => {
    let position = 0;
    while (position < buffer.length) {
      if (section) {
        const end = buffer.indexOf(section.end, position);
        if (end === -1) {
          // Hand out what cannot be the start of the terminator; keep the rest for the next chunk.
          const keep = Math.max(position, buffer.length - (section.end.length - 1));
          if (section.isText && keep > position) events.text(buffer.slice(position, keep));
          position = keep;
          break;
        }
        if (section.isText && end > position) events.text(buffer.slice(position, end));
        position = end + section.end.length;
        section = null;
        continue;
      }
      const lessThan = buffer.indexOf("<", position);
      if (lessThan === -1) {
        const keep = buffer.lastIndexOf("&");
        // An entity may be cut by the chunk boundary: keep it for the next chunk.
        const cut =
          !final && keep >= position && buffer.length - keep < 12 && !buffer.includes(";", keep) ? keep : buffer.length;
        if (cut > position) events.text(decodeEntities(buffer.slice(position, cut)));
        position = cut;
        break;
      }
      if (lessThan > position) events.text(decodeEntities(buffer.slice(position, lessThan)));
      position = lessThan;
      if (buffer.length - position < 9 && !final) break; // not enough to tell `<![CDATA[` from a tag
      if (buffer.startsWith("<!--", position)) {
        section = { end: "-->", isText: false };
        position += 4;
      } else if (buffer.startsWith("<![CDATA[", position)) {
        section = { end: "]]>", isText: true };
        position += 9;
      } else if (buffer.startsWith("<?", position)) {
        section = { end: "?>", isText: false };
        position += 2;
      } else {
        const end = tagEnd(position);
        if (end === -1) {
          if (buffer.length - position > MAX_TAG) throw new Error("invalid XML: a tag longer than 1 MiB");
          break;
        }
        const body = buffer.slice(position + 1, end - 1).trim();
        position = end;
        if (body.startsWith("!")) continue; // DOCTYPE and other declarations
        if (body.startsWith("/")) {
          const name = body.slice(1).trim();
          if (open.pop() !== name) throw new Error(`invalid XML: unexpected </${name}>`);
          events.close(name);
          if (open.length === 0) rootClosed = true;
        } else openTag(body);
      }
    }
    buffer = buffer.slice(position);
  };

  return {
    write(text: string) {
      buffer += text;
      process(false);
    },
    end() {
      process(true);
      if (buffer.trim().length > 0 || section) throw new Error("invalid XML: the document ended inside a tag");
      if (open.length > 0) throw new Error(`invalid XML: the document ended inside <${open.at(-1)}>`);
    },
  };
}

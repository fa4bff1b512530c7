/** @jsxImportSource hono/jsx */
/**
 * Logs: whole when small, the tail (a Range read of the store) when large, a window around a
 * line, or the lines matching a search, each with line numbers and error/warning marking.
 * Nothing reads more of the log than the view needs, and nothing holds the whole log.
 */
import type { Child, FC } from "hono/jsx";
import type { ArtifactMetadata, ArtifactTarget } from "../../contracts/types.ts";
import type { ArtifactStore } from "../../core/store.ts";
import { createLineReader } from "../../core/structure/lines.ts";
import { classifyLogLine, groupMarker, stripAnsi } from "../../core/structure/log-rules.ts";
import { ansiSegments } from "./ansi.ts";
import { artifactPath, highlight, Notice } from "./layout.tsx";

/** Logs up to this size are shown whole. */
export const WHOLE_LOG_BYTES = 512 * 1024;
/** Bytes of a large log shown by the tail and head views. */
export const TAIL_BYTES = 256 * 1024;
const MAX_MATCHES = 500;
const WINDOW_BEFORE = 100;
const WINDOW_AFTER = 300;
const MAX_LINE_CHARS = 4000;
/** Bytes read around the first error for its window (then cut to the window's lines). */
const WINDOW_BYTES_BEFORE = 64 * 1024;
const WINDOW_BYTES_AFTER = 192 * 1024;

export interface LogLine {
  /** 1-based line number, or null when unknown (a tail without the total line count). */
  number: number | null;
  text: string;
}

/** A run of lines, or a folded group (`##[group]` … `##[endgroup]`, `::group::` … `::endgroup::`). */
type LogBlock = { line: LogLine } | { title: string; start: LogLine; lines: LogLine[]; hasError: boolean };

/** Folds GitHub's groups: a group opens at its marker line and ends at the end marker or the next group. */
function foldGroups(lines: LogLine[]): LogBlock[] {
  const blocks: LogBlock[] = [];
  let group: Extract<LogBlock, { title: string }> | null = null;
  for (const line of lines) {
    const marker = groupMarker(line.text);
    if (marker && "start" in marker) {
      group = { title: marker.start || "(group)", start: line, lines: [], hasError: false };
      blocks.push(group);
    } else if (marker && group) {
      group.lines.push(line);
      group = null;
    } else if (group) {
      group.lines.push(line);
      if (classifyLogLine(line.text) === "error") group.hasError = true;
    } else blocks.push({ line });
  }
  return blocks;
}

/** `[REDACTED:<rule>]` markers the store put where it masked a secret, highlighted. */
const MARKER = /\[REDACTED:[a-z0-9:_-]{1,80}\]/g;

export function withMarkers(text: string): Child {
  if (!text.includes("[REDACTED:")) return text;
  const parts: Child[] = [];
  let last = 0;
  for (const found of text.matchAll(MARKER)) {
    parts.push(text.slice(last, found.index));
    parts.push(
      <mark class="redacted" title="a secret masked at upload">
        {found[0]}
      </mark>,
    );
    last = found.index + found[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

const LineText: FC<{ text: string; query?: string | undefined }> = ({ text, query }) => {
  // A search highlights the plain text; otherwise colour codes become classed spans.
  if (query) return <span>{highlight(stripAnsi(text), query) as Child}</span>;
  return (
    <span>
      {ansiSegments(text).map((segment) =>
        segment.classes ? <span class={segment.classes}>{withMarkers(segment.text)}</span> : withMarkers(segment.text),
      )}
    </span>
  );
};

const Line: FC<{ line: LogLine; query?: string | undefined }> = ({ line, query }) => {
  const text = line.text.length > MAX_LINE_CHARS ? `${line.text.slice(0, MAX_LINE_CHARS)} …` : line.text;
  const level = classifyLogLine(text);
  const kind = level === "error" ? " err" : level === "warning" ? " warn" : "";
  return (
    <div class={`l${kind}`} id={line.number === null ? undefined : `L${line.number}`}>
      {line.number === null ? (
        <span class="n" aria-hidden="true">
          ·
        </span>
      ) : (
        <a class="n" href={`#L${line.number}`}>
          {line.number}
        </a>
      )}
      <LineText text={text} query={query} />
    </div>
  );
};

export const LogLines: FC<{
  lines: LogLine[];
  query?: string;
  label: string;
  id?: string;
  dataset?: Record<string, string>;
  /** The line the view is about: its group is open. */
  focusLine?: number;
}> = ({ lines, query, label, id, dataset = {}, focusLine }) => {
  const data = Object.fromEntries(Object.entries(dataset).map(([key, value]) => [`data-${key}`, value]));
  const blocks = query ? lines.map((line) => ({ line })) : foldGroups(lines);
  return (
    <section class="log" aria-label={label} tabindex={0} id={id} {...data}>
      {blocks.map((block) => {
        if ("line" in block) return <Line line={block.line} query={query} />;
        const focused =
          focusLine !== undefined && [block.start, ...block.lines].some((line) => line.number === focusLine);
        return (
          <details class="group" open={block.hasError || focused}>
            <summary>
              <Line line={{ ...block.start, text: `▸ ${block.title}` }} />
              <span class="muted group-size">{block.lines.length} lines</span>
            </summary>
            {block.lines.map((line) => (
              <Line line={line} query={query} />
            ))}
          </details>
        );
      })}
    </section>
  );
};

/**
 * The log page's script: a tail view opens scrolled to its last line, and "Previous error" /
 * "Next error" move between the error lines shown (opening a folded group when one is inside).
 */
export const LOG_SCRIPT = `(() => {
  const log = document.querySelector("section.log");
  if (!log) return;
  if (log.dataset.mode === "tail" && !location.hash) {
    const lines = log.querySelectorAll(".l");
    if (lines.length) lines[lines.length - 1].scrollIntoView({ block: "end" });
  }
  const errors = () => Array.from(log.querySelectorAll(".l.err[id]"));
  let current = -1;
  const go = (step) => {
    const all = errors();
    if (!all.length) return;
    if (current === -1) {
      const here = location.hash ? all.findIndex((line) => "#" + line.id === location.hash) : -1;
      current = here === -1 ? (step > 0 ? -1 : all.length) : here;
    }
    current = Math.min(all.length - 1, Math.max(0, current + step));
    const target = all[current];
    const group = target.closest("details");
    if (group) group.open = true;
    history.replaceState(null, "", "#" + target.id);
    target.scrollIntoView({ block: "center" });
    target.focus?.();
    document.getElementById("error-position").textContent = "error " + (current + 1) + " of " + all.length + " shown";
  };
  document.getElementById("next-error")?.addEventListener("click", (event) => { event.preventDefault(); go(1); });
  document.getElementById("prev-error")?.addEventListener("click", (event) => { event.preventDefault(); go(-1); });
})();`;

/** Reads lines of a stream until `onLine` returns false, then cancels the rest. */
export async function scanLines(
  body: ReadableStream<Uint8Array>,
  onLine: (line: string, number: number) => boolean,
): Promise<void> {
  let number = 0;
  let stop = false;
  const reader = createLineReader((line) => {
    if (stop) return;
    number++;
    if (!onLine(line, number)) stop = true;
  });
  const source = body.getReader();
  try {
    for (;;) {
      const { done, value } = await source.read();
      if (done) break;
      reader.write(value);
      if (stop) break;
    }
    if (!stop) reader.end();
  } finally {
    if (stop) await source.cancel().catch(() => {});
    else source.releaseLock();
  }
}

/** Splits decoded text into lines; drops a partial first and/or last line when asked. */
export function splitLines(text: string, options: { dropFirst?: boolean; dropLast?: boolean } = {}): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  else if (options.dropLast && lines.length > 1) lines.pop();
  if (options.dropFirst && lines.length > 0) lines.shift();
  return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
}

export interface LogViewData {
  mode: "whole" | "tail" | "head" | "window" | "search";
  lines: LogLine[];
  query?: string;
  /** Search: more matches than shown. */
  more?: boolean;
  focusLine?: number;
}

/** Loads what the requested view shows. */
export async function loadLogView(
  store: ArtifactStore,
  target: ArtifactTarget,
  metadata: ArtifactMetadata,
  params: { view?: string; line?: string; q?: string },
): Promise<LogViewData> {
  const summary = metadata.summary?.kind === "log" ? metadata.summary : null;
  const size = metadata.originalSize;
  const query = params.q?.trim();
  if (query) {
    const needle = query.toLowerCase();
    const lines: LogLine[] = [];
    let more = false;
    const opened = await store.open(target);
    await scanLines(opened.body, (line, number) => {
      if (line.toLowerCase().includes(needle)) {
        if (lines.length === MAX_MATCHES) {
          more = true;
          return false;
        }
        lines.push({ number, text: line });
      }
      return true;
    });
    return { mode: "search", lines, query, more };
  }
  const focus = params.line === undefined ? Number.NaN : Number(params.line);
  if (
    Number.isSafeInteger(focus) &&
    focus > 0 &&
    focus === summary?.firstErrorLine &&
    summary.firstErrorOffset != null
  ) {
    // The first error's byte offset is known: one Range read instead of reading the log up to it.
    const offset = summary.firstErrorOffset;
    const start = Math.max(0, offset - WINDOW_BYTES_BEFORE);
    const opened = await store.open(target, {
      range: { offset: start, length: Math.min(size, offset + WINDOW_BYTES_AFTER) - start },
    });
    const bytes = new Uint8Array(await new Response(opened.body).arrayBuffer());
    const decoder = new TextDecoder();
    const before = splitLines(decoder.decode(bytes.subarray(0, offset - start)), { dropFirst: start > 0 }).slice(
      -WINDOW_BEFORE,
    );
    const after = splitLines(decoder.decode(bytes.subarray(offset - start)), {
      dropLast: offset + WINDOW_BYTES_AFTER < size,
    }).slice(0, WINDOW_AFTER);
    const lines = [...before, ...after].map((text, index) => ({ number: focus - before.length + index, text }));
    return { mode: "window", lines, focusLine: focus };
  }
  if (Number.isSafeInteger(focus) && focus > 0) {
    const lines: LogLine[] = [];
    const first = Math.max(1, focus - WINDOW_BEFORE);
    const last = focus + WINDOW_AFTER;
    const opened = await store.open(target);
    await scanLines(opened.body, (line, number) => {
      if (number >= first) lines.push({ number, text: line });
      return number < last;
    });
    return { mode: "window", lines, focusLine: focus };
  }
  if (size === 0) return { mode: "whole", lines: [] };
  const view = params.view ?? (size <= WHOLE_LOG_BYTES ? "whole" : "tail");
  if (view === "head" || (view === "whole" && size > WHOLE_LOG_BYTES)) {
    const opened = await store.open(target, { range: { offset: 0, length: TAIL_BYTES } });
    const text = await new Response(opened.body).text();
    const lines = splitLines(text, { dropLast: size > TAIL_BYTES });
    return { mode: "head", lines: lines.map((line, index) => ({ number: index + 1, text: line })) };
  }
  if (view === "whole") {
    const opened = await store.open(target);
    const lines = splitLines(await new Response(opened.body).text());
    return { mode: "whole", lines: lines.map((line, index) => ({ number: index + 1, text: line })) };
  }
  const opened = await store.open(target, { range: { suffixLength: TAIL_BYTES } });
  const text = await new Response(opened.body).text();
  const lines = splitLines(text, { dropFirst: size > TAIL_BYTES });
  // Line numbers count back from the total the extraction recorded.
  const known = summary && !summary.truncated ? summary.lines : null;
  const firstNumber = known === null ? null : known - lines.length + 1;
  return {
    mode: "tail",
    lines: lines.map((line, index) => ({ number: firstNumber === null ? null : firstNumber + index, text: line })),
  };
}

export const LogView: FC<{ metadata: ArtifactMetadata; data: LogViewData }> = ({ metadata, data }) => {
  const summary = metadata.summary?.kind === "log" ? metadata.summary : null;
  const here = (extra: Record<string, string>) =>
    artifactPath(metadata.specName, metadata.taskId, metadata.type, metadata.version, extra);
  const large = metadata.originalSize > WHOLE_LOG_BYTES;
  return (
    <section aria-labelledby="log-heading">
      <h2 id="log-heading">Log</h2>
      {summary ? (
        <ul class="facts" aria-label="Log summary">
          <li>{summary.lines.toLocaleString("en")} lines</li>
          <li>
            <span class={summary.errors > 0 ? "badge badge-bad" : "badge"}>{summary.errors} error lines</span>
          </li>
          <li>
            <span class={summary.warnings > 0 ? "badge badge-warn" : "badge"}>{summary.warnings} warning lines</span>
          </li>
          {summary.truncated ? (
            <li>counts cover the first {summary.bytesExamined.toLocaleString("en")} bytes</li>
          ) : null}
        </ul>
      ) : null}
      <div class="toolbar">
        <form method="get" action={here({}).split("?")[0]} aria-label="Log search">
          <input type="hidden" name="version" value={String(metadata.version)} />
          <label for="log-q">Search this log</label>
          <input id="log-q" name="q" type="search" value={data.query ?? ""} required />
          <button type="submit">Find lines</button>
        </form>
        {summary?.firstErrorLine ? (
          <a href={`${here({ line: String(summary.firstErrorLine) })}#L${summary.firstErrorLine}`} id="first-error">
            Jump to first error (line {summary.firstErrorLine})
          </a>
        ) : null}
        {data.lines.some((line) => line.number !== null && classifyLogLine(line.text) === "error") ? (
          <span class="error-nav">
            <button type="button" id="prev-error">
              Previous error
            </button>
            <button type="button" id="next-error">
              Next error
            </button>
            <span id="error-position" class="muted" aria-live="polite" />
          </span>
        ) : null}
        {large ? (
          <>
            <a href={here({ view: "head" })}>Start of log</a>
            <a href={here({ view: "tail" })}>End of log</a>
          </>
        ) : null}
        <a href={`${here({}).replace(/\?.*$/, "")}/raw?version=${metadata.version}`}>Raw text</a>
      </div>
      <LogModeNotice data={data} metadata={metadata} />
      <LogLines
        lines={data.lines}
        {...(data.query ? { query: data.query } : {})}
        {...(data.focusLine ? { focusLine: data.focusLine } : {})}
        label="Log lines"
        dataset={{ mode: data.mode }}
      />
    </section>
  );
};

const LogModeNotice: FC<{ data: LogViewData; metadata: ArtifactMetadata }> = ({ data, metadata }) => {
  if (data.mode === "search") {
    return (
      <Notice>
        {data.lines.length === 0
          ? `No line contains “${data.query}”.`
          : `${data.lines.length}${data.more ? "+" : ""} line${data.lines.length === 1 ? " contains" : "s contain"} “${data.query}”${
              data.more ? ` (the first ${data.lines.length} are shown)` : ""
            }. Select a line number to see it in context.`}
      </Notice>
    );
  }
  if (data.mode === "tail") {
    return (
      <Notice>
        The last {Math.round(TAIL_BYTES / 1024)} KiB of {metadata.originalSize.toLocaleString("en")} bytes.
      </Notice>
    );
  }
  if (data.mode === "head") {
    return (
      <Notice>
        The first {Math.round(TAIL_BYTES / 1024)} KiB of {metadata.originalSize.toLocaleString("en")} bytes.
      </Notice>
    );
  }
  if (data.mode === "window") return <Notice>Lines around line {data.focusLine}.</Notice>;
  return null;
};

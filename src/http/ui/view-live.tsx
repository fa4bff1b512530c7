/** @jsxImportSource hono/jsx */
/**
 * A live log (still being appended to): a snapshot of its end, complete lines only, that works
 * without JavaScript (with a refresh link); a small script then polls for what comes next
 * and appends it, until the log is sealed.
 */
import type { FC } from "hono/jsx";
import type { LiveLogRef, LiveLogStatus } from "../../core/live-log.ts";
import type { ArtifactStore } from "../../core/store.ts";
import {
  ANSI_SOURCE,
  LOG_ERROR_SOURCE,
  LOG_STATED_WARNING_SOURCE,
  LOG_WARNING_SOURCE,
} from "../../core/structure/log-rules.ts";
import { artifactPath, Notice } from "./layout.tsx";
import { type LogLine, LogLines, splitLines } from "./view-log.tsx";

const SNAPSHOT_BYTES = 256 * 1024;
/** Bytes one poll hands out at most. */
const POLL_BYTES = 1024 * 1024;

async function readBytes(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** The end of a live log, cut after its last newline; null when there is no live log. */
export async function loadLiveSnapshot(
  store: ArtifactStore,
  ref: Required<LiveLogRef>,
): Promise<{ status: LiveLogStatus; lines: LogLine[]; end: number; nextLine: number | null } | null> {
  const read = await store.readLiveLog(ref, { suffixLength: SNAPSHOT_BYTES });
  if (!read) return null;
  const bytes = read.status.size === 0 ? new Uint8Array(0) : await readBytes(read.body);
  const cut = bytes.lastIndexOf(0x0a) + 1;
  const text = new TextDecoder().decode(bytes.subarray(0, cut));
  const fromStart = read.start === 0;
  const lines = splitLines(text, { dropFirst: !fromStart });
  return {
    status: read.status,
    // Line numbers are known only when the snapshot starts at the beginning.
    lines: lines.map((line, index) => ({ number: fromStart ? index + 1 : null, text: line })),
    end: read.start + cut,
    nextLine: fromStart ? lines.length + 1 : null,
  };
}

/** What a poll gets: complete lines after `offset`, or that the log was sealed. */
export async function pollLiveLog(store: ArtifactStore, ref: Required<LiveLogRef>, offset: number) {
  const read = await store.readLiveLog(ref, { offset, length: POLL_BYTES });
  if (!read) {
    const sealed = await store.stat(ref);
    return {
      sealed: sealed !== null,
      ...(sealed
        ? { version: sealed.version, href: artifactPath(ref.specName, ref.taskId, ref.type, sealed.version) }
        : {}),
    };
  }
  const bytes = read.end > read.start ? await readBytes(read.body) : new Uint8Array(0);
  if (read.end <= read.start) await read.body.cancel();
  const cut = bytes.lastIndexOf(0x0a) + 1;
  return {
    sealed: false,
    state: read.status.state,
    size: read.status.size,
    nextOffset: offset + cut,
    text: new TextDecoder().decode(bytes.subarray(0, cut)),
  };
}

export const LiveView: FC<{
  ref_: Required<LiveLogRef>;
  snapshot: NonNullable<Awaited<ReturnType<typeof loadLiveSnapshot>>>;
}> = ({ ref_, snapshot }) => {
  const base = `${artifactPath(ref_.specName, ref_.taskId, ref_.type)}/live`;
  return (
    <section aria-labelledby="live-heading">
      <h2 id="live-heading">Live log</h2>
      <div class="toolbar">
        <a href={base} id="live-refresh">
          Refresh
        </a>
        <label>
          <input type="checkbox" id="live-follow" checked /> Keep the newest line in view
        </label>
      </div>
      <p id="live-status" role="status">
        {snapshot.status.size.toLocaleString("en")} bytes so far in {snapshot.status.chunks} chunks (
        {snapshot.status.state}).
        {snapshot.status.size > SNAPSHOT_BYTES ? ` Showing the last ${SNAPSHOT_BYTES / 1024} KiB.` : ""}
      </p>
      <noscript>
        <Notice>This is a snapshot; use Refresh to see what was appended since.</Notice>
      </noscript>
      <LogLines
        lines={snapshot.lines}
        label="Live log lines"
        id="live-lines"
        dataset={{
          end: String(snapshot.end),
          next: String(snapshot.nextLine ?? 0),
          feed: `${base}.json`,
        }}
      />
    </section>
  );
};

/** Polls `<base>.json?offset=` every second and appends complete lines; stops once the log is sealed. */
export const LIVE_SCRIPT = `(() => {
  const box = document.getElementById("live-lines");
  const status = document.getElementById("live-status");
  const follow = document.getElementById("live-follow");
  if (!box || !status) return;
  const ANSI = new RegExp(${JSON.stringify(ANSI_SOURCE)}, "g");
  const STATED = new RegExp(${JSON.stringify(LOG_STATED_WARNING_SOURCE)}, "m");
  const ERROR = new RegExp(${JSON.stringify(LOG_ERROR_SOURCE)}, "m");
  const WARNING = new RegExp(${JSON.stringify(LOG_WARNING_SOURCE)}, "m");
  let offset = Number(box.dataset.end);
  let number = Number(box.dataset.next || "0");
  let lastSize = -1;
  const add = (raw) => {
    const text = raw.replace(ANSI, "");
    const line = document.createElement("div");
    line.className = "l" + (STATED.test(text) ? " warn" : ERROR.test(text) ? " err" : WARNING.test(text) ? " warn" : "");
    const label = document.createElement(number ? "a" : "span");
    label.className = "n";
    if (number) { line.id = "L" + number; label.href = "#L" + number; label.textContent = String(number); number++; }
    else { label.textContent = "·"; label.setAttribute("aria-hidden", "true"); }
    const content = document.createElement("span");
    content.textContent = text;
    line.append(label, content);
    box.append(line);
  };
  const tick = async () => {
    try {
      const response = await fetch(box.dataset.feed + "?offset=" + offset, { credentials: "same-origin", headers: { accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        if (data.sealed) {
          status.textContent = "The log was sealed as version " + data.version + ". ";
          const link = document.createElement("a");
          link.href = data.href;
          link.id = "live-sealed";
          link.textContent = "Open the sealed log";
          status.append(link);
          return;
        }
        if (data.text) {
          const lines = data.text.split("\\n");
          lines.pop();
          for (const text of lines) add(text);
          offset = data.nextOffset;
          if (follow && follow.checked && box.lastElementChild) box.lastElementChild.scrollIntoView({ block: "end" });
        }
        if (data.size !== lastSize) {
          lastSize = data.size;
          status.textContent = "Following: " + data.size.toLocaleString("en") + " bytes so far (" + data.state + ").";
        }
      }
    } catch {}
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
})();`;

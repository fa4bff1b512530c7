/** @jsxImportSource hono/jsx */
/**
 * One file of a diff on the viewer: collapsible, with old and new line numbers and, where a run
 * of removed lines is followed by added ones, the changed words marked.
 */
import type { Child, FC } from "hono/jsx";
import type { DiffFileEntry } from "../../contracts/structure.ts";
import { formatBytes } from "../../core/format.ts";
import type { DiffRow, LineRow, RenderedFile } from "./diff-read.ts";
import { withMarkers } from "./view-log.tsx";

/** Lines longer than this are not split into words. */
const MAX_WORD_DIFF_CHARS = 1000;

const TOKEN = /\w+|\s+|[^\w\s]/g;

/** `before` and `after` as words, with the part between their common start and end marked. */
function markChangedWords(before: string, after: string): [Child, Child] | null {
  if (before.length > MAX_WORD_DIFF_CHARS || after.length > MAX_WORD_DIFF_CHARS) return null;
  const a = before.match(TOKEN) ?? [];
  const b = after.match(TOKEN) ?? [];
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  // Nothing in common: marking the whole line says nothing more than the colour does.
  if (head === 0 && tail === 0) return null;
  const mark = (tokens: string[]): Child => {
    const middle = tokens.slice(head, tokens.length - tail).join("");
    return [
      tokens.slice(0, head).join(""),
      middle ? <mark class="wd">{middle}</mark> : "",
      tokens.slice(tokens.length - tail).join(""),
    ];
  };
  return [mark(a), mark(b)];
}

/** Pairs each run of removed lines with the added lines right after it and marks the words that changed. */
function withWordMarks(rows: DiffRow[]): DiffRow[] {
  for (let index = 0; index < rows.length; ) {
    if (rows[index]?.kind !== "del") {
      index++;
      continue;
    }
    let delEnd = index;
    while (rows[delEnd]?.kind === "del") delEnd++;
    let addEnd = delEnd;
    while (rows[addEnd]?.kind === "add") addEnd++;
    const pairs = Math.min(delEnd - index, addEnd - delEnd);
    for (let pair = 0; pair < pairs; pair++) {
      const removed = rows[index + pair] as LineRow;
      const added = rows[delEnd + pair] as LineRow;
      const marked = markChangedWords(removed.text, added.text);
      if (marked) {
        removed.words = marked[0];
        added.words = marked[1];
      }
    }
    index = addEnd;
  }
  return rows;
}

const FileRows: FC<{ file: RenderedFile }> = ({ file }) => (
  <table class="diff">
    <caption class="muted">Changes to {file.path}: old line, new line, change</caption>
    <tbody>
      {withWordMarks(file.rows).map((row) =>
        row.kind === "hunk" || row.kind === "meta" ? (
          <tr class="hunk">
            <td class="ln" />
            <td class="ln" />
            <td class="sign" />
            <td>{row.text}</td>
          </tr>
        ) : (
          <tr class={row.kind}>
            <td class="ln">{row.oldLine ?? ""}</td>
            <td class="ln">{row.newLine ?? ""}</td>
            <td class="sign" aria-label={row.kind === "add" ? "added" : row.kind === "del" ? "removed" : undefined}>
              {row.kind === "add" ? "+" : row.kind === "del" ? "−" : " "}
            </td>
            <td>{row.words ?? withMarkers(row.text)}</td>
          </tr>
        ),
      )}
    </tbody>
  </table>
);

/** "renamed from a (92% similar)", "mode 100644 → 100755", "binary, 335 KB": what the header says. */
export function describeFile(entry: DiffFileEntry | undefined): string[] {
  if (!entry) return [];
  const facts: string[] = [];
  if (entry.status === "renamed" || entry.status === "copied")
    facts.push(`${entry.status} from ${entry.oldPath}${entry.similarity ? ` (${entry.similarity}% similar)` : ""}`);
  else if (entry.status !== "modified") facts.push(entry.status);
  if (entry.oldMode && entry.newMode && entry.oldMode !== entry.newMode)
    facts.push(`mode ${entry.oldMode} → ${entry.newMode}`);
  if (entry.binary)
    facts.push(
      entry.binarySize === null || entry.binarySize === undefined
        ? "binary file (its size is not in the diff)"
        : `binary file, ${formatBytes(entry.binarySize)}`,
    );
  return facts;
}

/** A file of the page: its header facts, counts and rows (or why there are none). */
export const DiffFileSection: FC<{ file: RenderedFile; entry: DiffFileEntry | undefined }> = ({ file, entry }) => {
  const facts = describeFile(entry);
  return (
    <details class="diff-file" open>
      <summary>
        <h3 id={`file-${file.index + 1}`}>{entry?.path ?? file.path}</h3>
        {facts.length > 0 ? <span class="muted"> — {facts.join(", ")}</span> : null}{" "}
        {entry ? (
          <>
            <span class="badge badge-good">+{entry.added}</span> <span class="badge badge-bad">−{entry.removed}</span>
          </>
        ) : null}
      </summary>
      {file.rows.length === 0 ? (
        <p class="muted file-note">
          {entry?.binary ? "Binary content is not shown." : "No line changes (only the header changed)."}
        </p>
      ) : (
        <FileRows file={file} />
      )}
      {file.cut ? <p class="muted file-note">The rest of this file is past this page's line limit.</p> : null}
    </details>
  );
};

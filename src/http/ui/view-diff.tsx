/** @jsxImportSource hono/jsx */
/**
 * Diffs: the file list (from the structure extracted at upload, so it is complete however large
 * the diff), the commits of `git show` / `git log -p` / `format-patch` input, and the files
 * themselves a page at a time (each collapsible, with old and new line numbers and the changed
 * words marked). A page reads the diff only up to its last file, so the first page of a huge
 * diff opens as fast as a small one.
 */
import type { Child, FC } from "hono/jsx";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import { formatBytes } from "../../core/format.ts";
import type { DiffCommit, DiffFileEntry } from "../../core/structure/types.ts";
import { artifactPath, Notice } from "./layout.tsx";
import { scanLines, withMarkers } from "./view-log.tsx";

/** Files rendered per page. */
export const DIFF_FILES_PER_PAGE = 20;
/** Lines of diff rendered per page at most; a file past it is cut with a note. */
export const MAX_DIFF_LINES = 10_000;
/** Lines longer than this are not split into words. */
const MAX_WORD_DIFF_CHARS = 1000;

type DiffRow =
  | { kind: "hunk"; text: string }
  | { kind: "add" | "del" | "ctx"; oldLine: number | null; newLine: number | null; text: string; words?: Child }
  | { kind: "meta"; text: string };

type LineRow = Extract<DiffRow, { oldLine: number | null }>;

export interface RenderedFile {
  /** Position of the file in the diff (0-based): the same as in the extracted file list. */
  index: number;
  path: string;
  header: string[];
  rows: DiffRow[];
  /** The page's line budget ran out inside this file. */
  cut: boolean;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const DIFF_COMMAND = /^diff (?:-{1,2}\S+ )+\S+ \S+$/;

/**
 * Reads the files `first` to `first + count - 1` of the diff (by position, as the extractor
 * counts them), stopping after the last of them or after `MAX_DIFF_LINES` rendered lines.
 */
export async function loadDiff(
  body: ReadableStream<Uint8Array>,
  first = 0,
  count = DIFF_FILES_PER_PAGE,
): Promise<{ files: RenderedFile[]; complete: boolean }> {
  const files: RenderedFile[] = [];
  let index = -1;
  let current: RenderedFile | null = null;
  // How the file being read was opened, also when it is outside the page (current is null then).
  let opener: "git" | "command" | "header" | null = null;
  let sawOldHeader = false;
  let oldLine = 0;
  let newLine = 0;
  let oldRemaining = 0;
  let newRemaining = 0;
  let rendered = 0;
  let complete = true;
  const last = first + count - 1;
  const startFile = (path: string, how: "git" | "command" | "header") => {
    index++;
    opener = how;
    sawOldHeader = false;
    current = index >= first && index <= last ? { index, path, header: [], rows: [], cut: false } : null;
    if (current) files.push(current);
    oldRemaining = 0;
    newRemaining = 0;
  };
  const push = (row: DiffRow) => {
    const file = current as RenderedFile | null;
    if (!file || file.cut) return;
    if (rendered >= MAX_DIFF_LINES) {
      file.cut = true;
      complete = false;
      return;
    }
    rendered++;
    file.rows.push(row);
  };
  await scanLines(body, (line) => {
    if (oldRemaining > 0 || newRemaining > 0) {
      const sign = line[0];
      if (sign === "+") {
        push({ kind: "add", oldLine: null, newLine: newLine++, text: line.slice(1) });
        newRemaining--;
        return true;
      }
      if (sign === "-") {
        push({ kind: "del", oldLine: oldLine++, newLine: null, text: line.slice(1) });
        oldRemaining--;
        return true;
      }
      if (sign === " " || line === "") {
        push({ kind: "ctx", oldLine: oldLine++, newLine: newLine++, text: line.slice(1) });
        oldRemaining--;
        newRemaining--;
        return true;
      }
      if (sign === "\\") {
        push({ kind: "meta", text: line });
        return true;
      }
      oldRemaining = 0;
      newRemaining = 0;
    }
    if (line.startsWith("\\")) {
      push({ kind: "meta", text: line });
      return true;
    }
    const opensFile =
      line.startsWith("diff --git ") ||
      (line.startsWith("diff -") && DIFF_COMMAND.test(line)) ||
      // A plain `diff -u` file starts at its `---` header; after `diff --git` the header is part of that file.
      (line.startsWith("--- ") && (opener === null || opener === "header" || sawOldHeader));
    if (opensFile) {
      if (index >= last) return false; // the page's files are all read
      startFile(line, line.startsWith("diff --git ") ? "git" : line.startsWith("diff ") ? "command" : "header");
    }
    if (line.startsWith("--- ")) sawOldHeader = true;
    const hunk = HUNK.exec(line);
    if (hunk) {
      if (index === -1) startFile("(diff)", "header");
      oldLine = Number(hunk[1]);
      oldRemaining = hunk[2] === undefined ? 1 : Number(hunk[2]);
      newLine = Number(hunk[3]);
      newRemaining = hunk[4] === undefined ? 1 : Number(hunk[4]);
      push({ kind: "hunk", text: line });
      return true;
    }
    (current as RenderedFile | null)?.header.push(line);
    return true;
  });
  return { files, complete };
}

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
function describeFile(entry: DiffFileEntry | undefined): string[] {
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

const CommitHeader: FC<{ commit: DiffCommit; index: number }> = ({ commit, index }) => (
  <section class="commit" aria-labelledby={`commit-${index + 1}`}>
    <h3 id={`commit-${index + 1}`}>{commit.subject || "(no subject)"}</h3>
    <p class="muted">
      {commit.author ?? "unknown author"}
      {commit.date ? ` · ${commit.date}` : ""}
      {commit.hash ? (
        <>
          {" · "}
          <code>{commit.hash.slice(0, 12)}</code>
        </>
      ) : null}
      {` · ${commit.files} file${commit.files === 1 ? "" : "s"}, +${commit.added} −${commit.removed}`}
    </p>
    {commit.body ? (
      <details>
        <summary>Message</summary>
        <pre>{commit.body}</pre>
      </details>
    ) : null}
  </section>
);

export const DiffView: FC<{
  metadata: ArtifactMetadata;
  fileList: DiffFileEntry[];
  rendered: { files: RenderedFile[]; complete: boolean };
  page: number;
}> = ({ metadata, fileList, rendered, page }) => {
  const summary = metadata.summary?.kind === "diff" ? metadata.summary : null;
  const commits = summary?.commits ?? [];
  const total = summary?.files === undefined ? fileList.length : Math.max(fileList.length, rendered.files.length);
  const pages = Math.max(1, Math.ceil(Math.max(fileList.length, 1) / DIFF_FILES_PER_PAGE));
  const base = artifactPath(metadata.specName, metadata.taskId, metadata.type);
  const pageLink = (target: number) => `${base}?version=${metadata.version}&page=${target}`;
  const fileLink = (index: number) => {
    const target = Math.floor(index / DIFF_FILES_PER_PAGE) + 1;
    return target === page ? `#file-${index + 1}` : `${pageLink(target)}#file-${index + 1}`;
  };
  const raw = `${base}/raw?version=${metadata.version}`;
  let shownCommit: number | null | undefined;
  return (
    <>
      {commits.length > 0 ? (
        <section aria-labelledby="commits-heading">
          <h2 id="commits-heading">{commits.length === 1 ? "Commit" : `Commits (${commits.length})`}</h2>
          {commits.length === 1 && commits[0] ? <CommitHeader commit={commits[0]} index={0} /> : null}
          {commits.length > 1 ? (
            <ol class="commit-list">
              {commits.map((commit, index) => (
                <li>
                  <a href={`#commit-${index + 1}`}>{commit.subject || "(no subject)"}</a>{" "}
                  <span class="muted">
                    {commit.author ?? ""} · +{commit.added} −{commit.removed}
                  </span>
                </li>
              ))}
            </ol>
          ) : null}
        </section>
      ) : null}
      <section aria-labelledby="files-heading">
        <h2 id="files-heading">
          Files changed{summary ? ` (${summary.files})` : ""}
          {summary ? (
            <>
              {" "}
              <span class="badge badge-good">+{summary.added}</span>{" "}
              <span class="badge badge-bad">−{summary.removed}</span>
            </>
          ) : null}
        </h2>
        {summary?.parseError ? (
          <Notice kind="warning">This content could not be read as a diff: {summary.parseError}</Notice>
        ) : null}
        <table id="file-list">
          <caption class="muted">Lines added and removed per file</caption>
          <thead>
            <tr>
              <th scope="col">File</th>
              <th scope="col">Change</th>
              <th scope="col" class="num">
                Added
              </th>
              <th scope="col" class="num">
                Removed
              </th>
            </tr>
          </thead>
          <tbody>
            {fileList.map((file, index) => (
              <tr>
                <td>
                  <a href={fileLink(index)}>{file.path}</a>
                  {file.oldPath ? <span class="muted"> (from {file.oldPath})</span> : null}
                </td>
                <td>
                  {[file.status, ...describeFile(file).filter((fact) => !fact.startsWith(file.status))].join(", ")}
                </td>
                <td class="num">
                  <span class="badge badge-good">+{file.added}</span>
                </td>
                <td class="num">
                  <span class="badge badge-bad">−{file.removed}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <p>
          <a href={raw}>Raw diff</a>
        </p>
      </section>
      {pages > 1 ? <DiffPager page={page} pages={pages} total={total} link={pageLink} /> : null}
      {rendered.complete ? null : (
        <Notice kind="warning">
          This page is long: the first {MAX_DIFF_LINES.toLocaleString("en")} lines are shown.{" "}
          <a href={raw}>Download the whole diff</a>.
        </Notice>
      )}
      {rendered.files.map((file) => {
        const entry = fileList[file.index];
        const path = entry?.path ?? file.path;
        const commitIndex = entry?.commit ?? null;
        const commit = commitIndex === null ? undefined : commits[commitIndex];
        const header =
          commit && commits.length > 1 && commitIndex !== shownCommit ? (
            <CommitHeader commit={commit} index={commitIndex as number} />
          ) : null;
        shownCommit = commitIndex;
        const facts = describeFile(entry);
        return (
          <>
            {header}
            <details class="diff-file" open>
              <summary>
                <h3 id={`file-${file.index + 1}`}>{path}</h3>
                {facts.length > 0 ? <span class="muted"> — {facts.join(", ")}</span> : null}{" "}
                {entry ? (
                  <>
                    <span class="badge badge-good">+{entry.added}</span>{" "}
                    <span class="badge badge-bad">−{entry.removed}</span>
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
          </>
        );
      })}
      {pages > 1 ? <DiffPager page={page} pages={pages} total={total} link={pageLink} /> : null}
    </>
  );
};

const DiffPager: FC<{ page: number; pages: number; total: number; link: (page: number) => string }> = ({
  page,
  pages,
  total,
  link,
}) => (
  <nav class="pager" aria-label="Pages of files">
    {page > 1 ? <a href={link(page - 1)}>Previous files</a> : null}
    <span>
      files {(page - 1) * DIFF_FILES_PER_PAGE + 1}–{Math.min(page * DIFF_FILES_PER_PAGE, total)} of {total} (page {page}{" "}
      of {pages})
    </span>
    {page < pages ? <a href={link(page + 1)}>Next files</a> : null}
  </nav>
);

/** @jsxImportSource hono/jsx */
/**
 * Diffs: the file list (from the structure extracted at upload, so it is complete however large
 * the diff) and, up to a cap, the unified diff rendered per file with old and new line numbers.
 */
import type { FC } from "hono/jsx";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import type { DiffFileEntry } from "../../core/structure/types.ts";
import { artifactPath, Notice } from "./layout.tsx";
import { scanLines } from "./view-log.tsx";

/** Lines of diff rendered at most; the rest is left to the raw download. */
export const MAX_DIFF_LINES = 20_000;

type DiffRow =
  | { kind: "hunk"; text: string }
  | { kind: "add" | "del" | "ctx"; oldLine: number | null; newLine: number | null; text: string }
  | { kind: "meta"; text: string };

export interface RenderedFile {
  path: string;
  header: string[];
  rows: DiffRow[];
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** Reads the diff into per-file sections, stopping after `MAX_DIFF_LINES` lines. */
export async function loadDiff(
  body: ReadableStream<Uint8Array>,
): Promise<{ files: RenderedFile[]; complete: boolean }> {
  const files: RenderedFile[] = [];
  let current: (RenderedFile & { fromGit: boolean }) | null = null;
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  let oldRemaining = 0;
  let newRemaining = 0;
  let complete = true;
  const startFile = (path: string, fromGit: boolean) => {
    current = { path, header: [], rows: [], fromGit };
    files.push(current);
    inHunk = false;
    return current;
  };
  const stripPrefix = (path: string) => (path.startsWith("a/") || path.startsWith("b/") ? path.slice(2) : path);
  await scanLines(body, (line, number) => {
    if (number > MAX_DIFF_LINES) {
      complete = false;
      return false;
    }
    if (inHunk) {
      const file = current as RenderedFile | null;
      if (file) {
        const first = line[0];
        if (first === "+") {
          file.rows.push({ kind: "add", oldLine: null, newLine: newLine++, text: line.slice(1) });
          newRemaining--;
        } else if (first === "-") {
          file.rows.push({ kind: "del", oldLine: oldLine++, newLine: null, text: line.slice(1) });
          oldRemaining--;
        } else if (first === " " || line === "") {
          file.rows.push({ kind: "ctx", oldLine: oldLine++, newLine: newLine++, text: line.slice(1) });
          oldRemaining--;
          newRemaining--;
        } else if (first === "\\") file.rows.push({ kind: "meta", text: line });
        else inHunk = false;
        if (oldRemaining <= 0 && newRemaining <= 0 && first !== "\\") inHunk = false;
        if (inHunk || first === "+" || first === "-" || first === " " || first === "\\" || line === "") return true;
      }
    }
    if (line.startsWith("\\") && current) {
      (current as RenderedFile).rows.push({ kind: "meta", text: line });
      return true;
    }
    const hunk = HUNK.exec(line);
    if (hunk) {
      const file = current ?? startFile("(diff)", false);
      oldLine = Number(hunk[1]);
      oldRemaining = hunk[2] === undefined ? 1 : Number(hunk[2]);
      newLine = Number(hunk[3]);
      newRemaining = hunk[4] === undefined ? 1 : Number(hunk[4]);
      inHunk = true;
      file.rows.push({ kind: "hunk", text: line });
      return true;
    }
    if (line.startsWith("diff --git ")) {
      const file = startFile(stripPrefix(line.slice(11).split(" ")[0] ?? ""), true);
      file.header.push(line);
      return true;
    }
    if (line.startsWith("--- ")) {
      const existing = current as (RenderedFile & { fromGit: boolean }) | null;
      const file =
        existing?.fromGit && existing.rows.length === 0
          ? existing
          : startFile(stripPrefix(line.slice(4).split("\t")[0] ?? ""), false);
      file.header.push(line);
      return true;
    }
    const file = current as RenderedFile | null;
    if (!file) return true;
    if (line.startsWith("+++ ")) {
      const path = line.slice(4).split("\t")[0] ?? "";
      if (path !== "/dev/null") file.path = stripPrefix(path);
    }
    file.header.push(line);
    return true;
  });
  return { files, complete };
}

export const DiffView: FC<{
  metadata: ArtifactMetadata;
  fileList: DiffFileEntry[];
  rendered: { files: RenderedFile[]; complete: boolean };
}> = ({ metadata, fileList, rendered }) => {
  const summary = metadata.summary?.kind === "diff" ? metadata.summary : null;
  const anchorOf = new Map(rendered.files.map((file, index) => [file.path, `file-${index + 1}`]));
  const raw = `${artifactPath(metadata.specName, metadata.taskId, metadata.type)}/raw?version=${metadata.version}`;
  return (
    <>
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
            {fileList.map((file) => {
              const anchor = anchorOf.get(file.path);
              return (
                <tr>
                  <td>
                    {anchor ? <a href={`#${anchor}`}>{file.path}</a> : file.path}
                    {file.oldPath ? <span class="muted"> (from {file.oldPath})</span> : null}
                  </td>
                  <td>
                    {file.status}
                    {file.binary ? ", binary" : ""}
                  </td>
                  <td class="num">
                    <span class="badge badge-good">+{file.added}</span>
                  </td>
                  <td class="num">
                    <span class="badge badge-bad">−{file.removed}</span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <p>
          <a href={raw}>Raw diff</a>
        </p>
      </section>
      {rendered.complete ? null : (
        <Notice kind="warning">
          The diff is long: the first {MAX_DIFF_LINES.toLocaleString("en")} lines are shown.{" "}
          <a href={raw}>Download the whole diff</a>.
        </Notice>
      )}
      {rendered.files.map((file, index) => (
        <section class="diff-file" aria-labelledby={`file-${index + 1}`}>
          <h3 id={`file-${index + 1}`}>{file.path}</h3>
          <table class="diff">
            <caption class="muted">Changes to {file.path}: old line, new line, change</caption>
            <tbody>
              {file.rows.map((row) =>
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
                    <td
                      class="sign"
                      aria-label={row.kind === "add" ? "added" : row.kind === "del" ? "removed" : undefined}
                    >
                      {row.kind === "add" ? "+" : row.kind === "del" ? "−" : " "}
                    </td>
                    <td>{row.text}</td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
};

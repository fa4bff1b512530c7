/** @jsxImportSource hono/jsx */
/**
 * Diffs: the file list (from the structure extracted at upload, so it is complete however large
 * the diff), the commits of `git show` / `git log -p` / `format-patch` input, and the files
 * themselves a page at a time (each collapsible, with old and new line numbers and the changed
 * words marked). A page reads the diff only up to its last file (diff-read.ts), so the first
 * page of a huge diff opens as fast as a small one.
 */
import type { FC } from "hono/jsx";
import type { DiffCommit, DiffFileEntry, DiffSummary } from "../../contracts/structure.ts";
import type { ArtifactMetadata } from "../../contracts/types.ts";
import { DIFF_FILES_PER_PAGE, MAX_DIFF_LINES, type RenderedFile } from "./diff-read.ts";
import { artifactPath, Notice } from "./layout.tsx";
import { DiffFileSection, describeFile } from "./view-diff-file.tsx";

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
      {commits.length > 0 ? <CommitsSection commits={commits} /> : null}
      <FileListSection summary={summary} fileList={fileList} fileLink={fileLink} raw={raw} />
      {pages > 1 ? <DiffPager page={page} pages={pages} total={total} link={pageLink} /> : null}
      {rendered.complete ? null : (
        <Notice kind="warning">
          This page is long: the first {MAX_DIFF_LINES.toLocaleString("en")} lines are shown.{" "}
          <a href={raw}>Download the whole diff</a>.
        </Notice>
      )}
      {rendered.files.map((file) => {
        const entry = fileList[file.index];
        const commitIndex = entry?.commit ?? null;
        const commit = commitIndex === null ? undefined : commits[commitIndex];
        // A `git log -p` page names the commit above its first file.
        const header =
          commit && commits.length > 1 && commitIndex !== shownCommit ? (
            <CommitHeader commit={commit} index={commitIndex as number} />
          ) : null;
        shownCommit = commitIndex;
        return (
          <>
            {header}
            <DiffFileSection file={file} entry={entry} />
          </>
        );
      })}
      {pages > 1 ? <DiffPager page={page} pages={pages} total={total} link={pageLink} /> : null}
    </>
  );
};

/** The commits of the diff: one header, or a list linking to each. */
const CommitsSection: FC<{ commits: DiffCommit[] }> = ({ commits }) => (
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
);

/** Every file of the diff with its change and counts, each linking to its page. */
const FileListSection: FC<{
  summary: DiffSummary | null;
  fileList: DiffFileEntry[];
  fileLink: (index: number) => string;
  raw: string;
}> = ({ summary, fileList, fileLink, raw }) => (
  <section aria-labelledby="files-heading">
    <h2 id="files-heading">
      Files changed{summary ? ` (${summary.files})` : ""}
      {summary ? (
        <>
          {" "}
          <span class="badge badge-good">+{summary.added}</span> <span class="badge badge-bad">−{summary.removed}</span>
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
            <td>{[file.status, ...describeFile(file).filter((fact) => !fact.startsWith(file.status))].join(", ")}</td>
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
);

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

/** @jsxImportSource hono/jsx */
/** One artifact version: a diff, a log or a test report in its own view, other types as text; and its raw bytes. */
import type { Child, FC } from "hono/jsx";
import { ArtifactStoreError } from "../../contracts/errors.ts";
import type { ArtifactMetadata, ArtifactRef } from "../../contracts/types.ts";
import { DIFF_FILES_PER_PAGE, loadDiff } from "./diff-read.ts";
import { pageParameter, refFrom, render, type UiKit } from "./frame.tsx";
import { Age, artifactPath, Bytes, Notice, Page } from "./layout.tsx";
import { compareHref } from "./page-compare.tsx";
import { DiffView } from "./view-diff.tsx";
import { LOG_SCRIPT, LogLines, LogView, loadLogView, splitLines, TAIL_BYTES } from "./view-log.tsx";
import { countSuites, parseTestFilter, TEST_PAGE_SIZE, TestView } from "./view-test.tsx";

export function registerArtifactPages({ app, store, page, signedIn }: UiKit): void {
  app.get(
    "/ui/s/:spec/:task/:type",
    page(async (c) => {
      const ref = refFrom(c, true);
      const metadata = await store.stat(ref);
      const liveLog = (await store.liveLogs({ specName: ref.specName, taskId: ref.taskId })).find(
        (log) => log.type === ref.type,
      );
      const livePath = `${artifactPath(ref.specName, ref.taskId, ref.type)}/live`;
      if (!metadata) {
        if (liveLog) return c.redirect(livePath, 303);
        throw new ArtifactStoreError("E_NOT_FOUND", `no artifact ${ref.specName}/${ref.taskId}/${ref.type}`);
      }
      const target: ArtifactRef = { ...ref, version: metadata.version };
      const versions = await store.search({ specName: ref.specName, taskId: ref.taskId, type: ref.type, limit: 50 });
      const kind = metadata.summary?.kind ?? metadata.type;
      const { body, script } = await loadVersionBody(store, target, metadata, kind, c.req.query());
      const now = Date.now();
      return render(
        c,
        <Page
          title={`${ref.specName} / ${ref.taskId} / ${ref.type} v${metadata.version}`}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          {...(script ? { script } : {})}
          trail={[
            { label: "Specs", href: "/ui" },
            { label: ref.specName, href: `/ui/s/${encodeURIComponent(ref.specName)}` },
            { label: ref.taskId, href: artifactPath(ref.specName, ref.taskId) },
            { label: `${ref.type} v${metadata.version}` },
          ]}
        >
          {liveLog ? (
            <Notice>
              A newer {ref.type} is being written right now: <a href={livePath}>follow the live log</a>.
            </Notice>
          ) : null}
          <VersionFacts metadata={metadata} now={now} />
          <VersionNav reference={ref} metadata={metadata} versions={versions} kind={kind} />
          {body}
        </Page>,
      );
    }),
  );

  app.get(
    "/ui/s/:spec/:task/:type/raw",
    page(async (c) => {
      const ref = refFrom(c, true);
      const opened = await store.open(ref);
      const textual = /^text\/|json|xml|x-diff/.test(opened.metadata.mimeType);
      return new Response(opened.body, {
        headers: {
          // Never the stored MIME type as such: an uploaded text/html must not run as a page here.
          "Content-Type": textual ? "text/plain; charset=utf-8" : "application/octet-stream",
          "Content-Length": String(opened.length),
          "Content-Disposition": `${textual ? "inline" : "attachment"}; filename="${ref.type}-v${opened.metadata.version}.txt"`,
          "Content-Security-Policy": "sandbox; default-src 'none'",
          "X-Content-Type-Options": "nosniff",
          "Cache-Control": "no-store",
        },
      });
    }),
  );
}

/** The version's own view: a diff, a log or a test report, other types as their first lines. */
async function loadVersionBody(
  store: UiKit["store"],
  target: ArtifactRef,
  metadata: ArtifactMetadata,
  kind: string,
  query: Record<string, string>,
): Promise<{ body: Child; script?: string }> {
  if (kind === "diff") {
    const diffPage = pageParameter(query.page);
    const [fileList, opened] = await Promise.all([store.diffFiles(target, { limit: 10_000 }), store.open(target)]);
    const rendered = await loadDiff(opened.body, (diffPage - 1) * DIFF_FILES_PER_PAGE);
    return { body: <DiffView metadata={metadata} fileList={fileList} rendered={rendered} page={diffPage} /> };
  }
  if (kind === "log") {
    return {
      body: <LogView metadata={metadata} data={await loadLogView(store, target, metadata, query)} />,
      script: LOG_SCRIPT,
    };
  }
  if (kind === "test") {
    const filter = parseTestFilter(query);
    const cases = await store.testCases(target, {
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.contains ? { contains: filter.contains } : {}),
      order: filter.order,
      limit: TEST_PAGE_SIZE,
      offset: (filter.page - 1) * TEST_PAGE_SIZE,
    });
    const suites = await countSuites(store, target);
    return { body: <TestView metadata={metadata} cases={cases} filter={filter} suites={suites} /> };
  }
  const opened =
    metadata.originalSize === 0 ? null : await store.open(target, { range: { offset: 0, length: TAIL_BYTES } });
  const text = opened ? await new Response(opened.body).text() : "";
  const lines = splitLines(text, { dropLast: metadata.originalSize > TAIL_BYTES });
  return { body: <LogLines lines={lines.map((line, index) => ({ number: index + 1, text: line }))} label="Content" /> };
}

/** Size, age, expiry, tags, checksum and secrets found: what the version is. */
const VersionFacts: FC<{ metadata: ArtifactMetadata; now: number }> = ({ metadata, now }) => (
  <ul class="facts" aria-label="About this version">
    <li>
      <Bytes value={metadata.originalSize} /> (stored <Bytes value={metadata.size} />
      {metadata.compressed ? ", gzip" : ""})
    </li>
    <li>
      uploaded <Age at={metadata.createdAt} now={now} />
    </li>
    <li>
      {metadata.expiresAt ? (
        <>
          expires <Age at={metadata.expiresAt} now={now} />
        </>
      ) : (
        "kept until deleted"
      )}
    </li>
    {metadata.tags.length > 0 ? (
      <li class="tags">
        tags:{" "}
        {metadata.tags.map((tag) => (
          <span>{tag}</span>
        ))}
      </li>
    ) : null}
    <li>
      SHA-256 <code>{metadata.originalChecksum.slice(0, 16)}…</code>
    </li>
    {metadata.secrets ? (
      <li class="secrets">
        secrets {metadata.secrets.mode === "mask" ? "masked" : "flagged (stored as sent)"}:{" "}
        {metadata.secrets.findings.map((finding) => (
          <span>
            {finding.rule} ×{finding.count} (line{finding.lines.length > 1 ? "s" : ""}{" "}
            {finding.lines.slice(0, 5).map((line, index) => (
              <>
                {index > 0 ? ", " : ""}
                <a href={`#L${line}`}>{line}</a>
              </>
            ))}
            {finding.lines.length > 5 ? ", …" : ""})
          </span>
        ))}
      </li>
    ) : null}
  </ul>
);

/** The other versions of the artifact, and a link comparing this one with the one before. */
const VersionNav: FC<{
  reference: ArtifactRef;
  metadata: ArtifactMetadata;
  versions: ArtifactMetadata[];
  kind: string;
}> = ({ reference, metadata, versions, kind }) => (
  <>
    {versions.length > 1 ? (
      <nav aria-label="Versions" class="toolbar">
        Versions:
        {versions.map((version) =>
          version.version === metadata.version ? (
            <strong aria-current="page">v{version.version}</strong>
          ) : (
            <a href={artifactPath(reference.specName, reference.taskId, reference.type, version.version)}>
              v{version.version}
            </a>
          ),
        )}
        {(kind === "test" || kind === "diff") && versions.some((version) => version.version < metadata.version) ? (
          <a
            id="compare-previous"
            href={compareHref(
              reference.specName,
              reference.type,
              `${reference.taskId}@${Math.max(...versions.filter((version) => version.version < metadata.version).map((version) => version.version))}`,
              `${reference.taskId}@${metadata.version}`,
            )}
          >
            Compare with the previous version
          </a>
        ) : null}
      </nav>
    ) : null}
  </>
);

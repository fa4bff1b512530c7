/** @jsxImportSource hono/jsx */
/**
 * The viewer's page frame and small shared pieces. Server-rendered with Hono's JSX; pages work
 * without JavaScript, and the few scripts (following a live log) are inline with a CSP nonce.
 */

import { raw } from "hono/html";
import type { Child, FC } from "hono/jsx";
import { formatBytes } from "../../core/format.ts";
import { VIEWER_CSS } from "./styles.ts";

export interface PageProps {
  title: string;
  nonce: string;
  /** Breadcrumb trail: label and link (the last one is the current page). */
  trail?: { label: string; href?: string }[];
  /** Shown when the viewer needs a token (tokens are configured). */
  signedIn?: boolean;
  script?: string;
  children?: Child;
}

export const Page: FC<PageProps> = ({ title, nonce, trail = [], signedIn, script, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      <title>{`${title} · artifact store`}</title>
      <style nonce={nonce}>{raw(VIEWER_CSS)}</style>
    </head>
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/ui">
          artifact store
        </a>
        <form class="quick-search" method="get" action="/ui/search" aria-label="Search artifacts">
          <label for="touched-top">Diffs touching</label>
          <input id="touched-top" name="touched" placeholder="src/" size={14} />
          <label for="failed-top">Failed test</label>
          <input id="failed-top" name="failed_test" placeholder="test name" size={14} />
          <button type="submit">Search</button>
        </form>
        {signedIn ? (
          <form method="post" action="/ui/logout" class="logout">
            <button type="submit">Sign out</button>
          </form>
        ) : null}
      </header>
      {trail.length > 0 ? (
        <nav aria-label="Breadcrumb" class="trail">
          <ol>
            {trail.map((step, index) =>
              index === trail.length - 1 || !step.href ? (
                <li aria-current="page">{step.label}</li>
              ) : (
                <li>
                  <a href={step.href}>{step.label}</a>
                </li>
              ),
            )}
          </ol>
        </nav>
      ) : null}
      <main id="main" tabindex={-1}>
        <h1>{title}</h1>
        {children}
      </main>
      <footer class="bottom">
        <p>
          Read-only viewer · <a href="/openapi.json">API description</a>
        </p>
      </footer>
      {script ? <script nonce={nonce}>{raw(script)}</script> : null}
    </body>
  </html>
);

/** "3 min ago", "2 d ago"; the exact time is in the `title` and `datetime`. */
export const Age: FC<{ at: string | number | null; future?: boolean; now: number }> = ({ at, now }) => {
  if (at === null) return <span>never</span>;
  const date = new Date(at);
  return (
    <time datetime={date.toISOString()} title={date.toISOString()}>
      {describeInterval(date.getTime() - now)}
    </time>
  );
};

export function describeInterval(deltaMs: number): string {
  const abs = Math.abs(deltaMs);
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  const [size, unit] = units.find(([size]) => abs >= size) ?? [1000, "s"];
  const amount = Math.max(0, Math.floor(abs / size));
  return deltaMs <= 0 ? `${amount} ${unit} ago` : `in ${amount} ${unit}`;
}

export const Bytes: FC<{ value: number }> = ({ value }) => <span title={`${value} bytes`}>{formatBytes(value)}</span>;

export function artifactPath(
  specName: string,
  taskId: string,
  type?: string,
  version?: number,
  extra: Record<string, string> = {},
): string {
  const base = `/ui/s/${encodeURIComponent(specName)}/${encodeURIComponent(taskId)}`;
  if (type === undefined) return base;
  const query = new URLSearchParams({ ...(version === undefined ? {} : { version: String(version) }), ...extra });
  const search = query.toString();
  return `${base}/${encodeURIComponent(type)}${search ? `?${search}` : ""}`;
}

/** A notice in the page: `role="status"` for information, `role="alert"` for problems. */
export const Notice: FC<{ kind?: "info" | "warning" | "error"; children?: Child }> = ({ kind = "info", children }) => (
  <p class={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
    {children}
  </p>
);

/** Highlights every case-insensitive occurrence of `needle` with `<mark>`. */
export function highlight(text: string, needle: string | undefined): Child {
  if (!needle) return text;
  const lower = text.toLowerCase();
  const target = needle.toLowerCase();
  const parts: Child[] = [];
  let position = 0;
  for (let found = lower.indexOf(target); found !== -1; found = lower.indexOf(target, position)) {
    if (found > position) parts.push(text.slice(position, found));
    parts.push(<mark>{text.slice(found, found + needle.length)}</mark>);
    position = found + needle.length;
  }
  if (position < text.length) parts.push(text.slice(position));
  return parts;
}

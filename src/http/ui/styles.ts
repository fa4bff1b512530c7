/**
 * The viewer's stylesheet, inlined into every page (no build step, no extra request). Colours
 * keep a contrast ratio of at least 4.5:1 for text; additions and removals carry a +/- sign
 * too, never colour alone.
 */
import { ANSI_CSS } from "./ansi.ts";

export const VIEWER_CSS = `
:root { --fg: #1f2328; --muted: #57606a; --bg: #ffffff; --line: #d0d7de; --link: #0550ae;
  --add-bg: #dafbe1; --add-fg: #116329; --del-bg: #ffebe9; --del-fg: #a40e26; --warn-bg: #fff8c5;
  --focus: #0969da; --head-bg: #f6f8fa; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, main:focus-visible {
  outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem; }
.skip:focus { left: .5rem; }
.top { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--head-bg); }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
.quick-search { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin-left: auto; }
.logout { margin: 0; }
input, select, button { font: inherit; padding: .25rem .45rem; border: 1px solid #8c959f; border-radius: 4px; background: #fff; color: var(--fg); }
button { background: #f3f4f6; cursor: pointer; }
label { font-size: .9rem; }
.trail ol { list-style: none; display: flex; flex-wrap: wrap; gap: .3rem; margin: .6rem 1rem 0; padding: 0; font-size: .9rem; }
.trail li + li::before { content: "/"; margin-right: .3rem; color: var(--muted); }
main { padding: 0 1rem 2rem; }
h1 { font-size: 1.4rem; margin: .8rem 0; word-break: break-all; }
h2 { font-size: 1.15rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--head-bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.tags span { display: inline-block; border: 1px solid var(--line); border-radius: 10px; padding: 0 .45rem; margin: 0 .2rem .1rem 0; font-size: .85rem; }
.badge { display: inline-block; border-radius: 4px; padding: 0 .35rem; font-size: .85rem; border: 1px solid var(--line); white-space: nowrap; }
.badge-bad { background: var(--del-bg); color: var(--del-fg); border-color: #ff8182; }
.badge-good { background: var(--add-bg); color: var(--add-fg); border-color: #4ac26b; }
.badge-warn { background: var(--warn-bg); color: #6c4400; border-color: #d4a72c; }
.notice { padding: .5rem .75rem; border-radius: 4px; border: 1px solid var(--line); background: var(--head-bg); }
.notice-warning { background: var(--warn-bg); border-color: #d4a72c; }
.notice-error { background: var(--del-bg); border-color: #ff8182; }
.toolbar { display: flex; flex-wrap: wrap; gap: .6rem; align-items: center; margin: .5rem 0; }
.toolbar form { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
.facts { display: flex; flex-wrap: wrap; gap: .3rem 1.5rem; margin: .5rem 0; padding: 0; list-style: none; }
code, pre, .log, .diff { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; }
.log { border: 1px solid var(--line); border-radius: 4px; overflow-x: auto; }
.log .l { display: flex; white-space: pre-wrap; word-break: break-word; }
.log .l { scroll-margin-top: 30vh; }
.log .l:target { outline: 3px solid var(--focus); outline-offset: -3px; }
.log .n { flex: 0 0 5.5rem; text-align: right; padding-right: .75rem; color: var(--muted); user-select: none; text-decoration: none; border-right: 1px solid var(--line); margin-right: .5rem; }
.log .err { background: var(--del-bg); }
.log .warn { background: var(--warn-bg); }
mark { background: #ffd33d; color: var(--fg); }
mark.redacted { background: #ffd8d3; color: #82071e; border-radius: 3px; font-weight: 600; }
.facts li.secrets span + span::before { content: "; "; }
.diff-file { border: 1px solid var(--line); border-radius: 4px; margin: 1rem 0; }
.diff-file h3 { margin: 0; padding: .4rem .6rem; font-size: .95rem; background: var(--head-bg); border-bottom: 1px solid var(--line); word-break: break-all; }
table.diff { margin: 0; table-layout: fixed; }
table.diff td { border: 0; padding: 0 .4rem; white-space: pre-wrap; word-break: break-word; }
table.diff td.ln { width: 4rem; text-align: right; color: var(--muted); user-select: none; }
table.diff td.sign { width: 1.2rem; user-select: none; }
table.diff tr.add td { background: var(--add-bg); color: var(--add-fg); }
table.diff tr.del td { background: var(--del-bg); color: var(--del-fg); }
table.diff tr.hunk td { background: #ddf4ff; color: var(--muted); }
tr.failed td:first-child { color: var(--del-fg); font-weight: 600; }
tr.passed td:first-child { color: var(--add-fg); }
details summary { cursor: pointer; }
.pager { display: flex; gap: 1rem; margin: .5rem 0; }
.bottom { border-top: 1px solid var(--line); padding: .5rem 1rem; color: var(--muted); font-size: .85rem; }
.login { max-width: 28rem; }
.login p { display: flex; flex-direction: column; gap: .3rem; }
.log details.group > summary { display: flex; align-items: baseline; list-style: none; background: var(--head-bg); }
.log details.group > summary::-webkit-details-marker { display: none; }
.log details.group > summary .l { flex: 1; font-weight: 600; }
.log details.group[open] > summary .l span:last-child::first-letter { color: var(--muted); }
.log .group-size { padding: 0 .6rem; white-space: nowrap; }
.error-nav { display: inline-flex; gap: .6rem; align-items: center; }
.status-cell .badge { margin-right: .2rem; }
.glance { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: .8rem; margin: .6rem 0 1rem; }
.glance > section { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; }
.glance h2 { margin: 0 0 .3rem; font-size: 1rem; }
.verdict { font-weight: 700; padding: .3rem .6rem; border-radius: 4px; display: inline-block; }
.verdict-bad { background: var(--del-bg); color: var(--del-fg); }
.verdict-good { background: var(--add-bg); color: var(--add-fg); }
.context { margin: .3rem 0; }
.commit { border-left: 4px solid var(--line); padding: .2rem .8rem; margin: 1rem 0 .4rem; }
.commit h3 { margin: .2rem 0; font-size: 1rem; }
details.diff-file > summary { padding: .4rem .6rem; background: var(--head-bg); border-bottom: 1px solid var(--line); font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9rem; word-break: break-all; }
details.diff-file > summary h3 { display: inline; margin: 0; padding: 0; border: 0; background: none; font-size: inherit; }
table.diff tr.add td mark.wd { background: #aceebb; color: inherit; }
table.diff tr.del td mark.wd { background: #ffcecb; color: inherit; }
.flaky { background: #fff1e5; color: #953800; border-color: #ffb77c; }
.output h4 { margin: .5rem 0 .2rem; font-size: .85rem; }
${ANSI_CSS}
`;

/**
 * ANSI SGR colour codes in log lines turned into classed spans (the page's CSP allows no inline
 * styles): the 16 colours, 256-colour and true-colour codes mapped to the nearest of the 16,
 * bold, dim, italic and underline. Every other escape sequence is dropped.
 */
import { ANSI_SOURCE } from "../../core/structure/log-rules.ts";

export interface AnsiSegment {
  text: string;
  /** Space-separated classes (`a-f1 a-b`), empty for plain text. */
  classes: string;
}

interface Style {
  foreground: number | null;
  background: number | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

const ESCAPE = new RegExp(ANSI_SOURCE, "g");
// biome-ignore lint/suspicious/noControlCharactersInRegex: every SGR sequence starts with ESC.
const SGR = /^\x1b\[([0-9;]*)m$/;
const PLAIN: Style = { foreground: null, background: null, bold: false, dim: false, italic: false, underline: false };

/** The nearest of the 16 terminal colours to an RGB value. */
function nearest16(red: number, green: number, blue: number): number {
  const bright = Math.max(red, green, blue) > 191 ? 8 : 0;
  const threshold = Math.max(red, green, blue) / 2;
  const index = (red > threshold ? 1 : 0) | (green > threshold ? 2 : 0) | (blue > threshold ? 4 : 0);
  if (Math.max(red, green, blue) < 48) return 0;
  return index + bright;
}

/** A 256-colour index as one of the 16. */
function from256(index: number): number {
  if (index < 16) return index;
  if (index >= 232) return index >= 244 ? 7 : 8; // the grey ramp
  const cube = index - 16;
  const level = (step: number) => (step === 0 ? 0 : 55 + step * 40);
  return nearest16(level(Math.floor(cube / 36)), level(Math.floor(cube / 6) % 6), level(cube % 6));
}

function apply(style: Style, codes: number[]): Style {
  const next = { ...style };
  for (let index = 0; index < codes.length; index++) {
    const code = codes[index] as number;
    if (code === 0) Object.assign(next, PLAIN);
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 22) next.bold = next.dim = false;
    else if (code === 23) next.italic = false;
    else if (code === 24) next.underline = false;
    else if (code >= 30 && code <= 37) next.foreground = code - 30;
    else if (code >= 90 && code <= 97) next.foreground = code - 90 + 8;
    else if (code === 39) next.foreground = null;
    else if (code >= 40 && code <= 47) next.background = code - 40;
    else if (code >= 100 && code <= 107) next.background = code - 100 + 8;
    else if (code === 49) next.background = null;
    else if (code === 38 || code === 48) {
      const mode = codes[index + 1];
      let colour: number | null = null;
      if (mode === 5) {
        colour = from256(codes[index + 2] ?? 0);
        index += 2;
      } else if (mode === 2) {
        colour = nearest16(codes[index + 2] ?? 0, codes[index + 3] ?? 0, codes[index + 4] ?? 0);
        index += 4;
      }
      if (code === 38) next.foreground = colour;
      else next.background = colour;
    }
  }
  return next;
}

function classesOf(style: Style): string {
  const classes: string[] = [];
  if (style.foreground !== null) classes.push(`a-f${style.foreground}`);
  if (style.background !== null) classes.push(`a-g${style.background}`);
  if (style.bold) classes.push("a-b");
  if (style.dim) classes.push("a-d");
  if (style.italic) classes.push("a-i");
  if (style.underline) classes.push("a-u");
  return classes.join(" ");
}

/**
 * The line as styled segments (one plain segment when it has no escapes).
 *
 * @example
 * ansiSegments("\x1b[31mFAIL\x1b[0m ok"); // [{ text: "FAIL", classes: "a-f1" }, { text: " ok", classes: "" }]
 */
export function ansiSegments(line: string): AnsiSegment[] {
  if (!line.includes("\x1b")) return [{ text: line, classes: "" }];
  const segments: AnsiSegment[] = [];
  let style = PLAIN;
  let position = 0;
  const push = (text: string) => {
    if (!text) return;
    const classes = classesOf(style);
    const last = segments.at(-1);
    if (last && last.classes === classes) last.text += text;
    else segments.push({ text, classes });
  };
  ESCAPE.lastIndex = 0;
  for (let match = ESCAPE.exec(line); match !== null; match = ESCAPE.exec(line)) {
    push(line.slice(position, match.index));
    position = match.index + match[0].length;
    const sgr = SGR.exec(match[0]);
    if (sgr)
      style = apply(
        style,
        (sgr[1] || "0").split(";").map((part) => Number(part) || 0),
      );
  }
  push(line.slice(position));
  return segments;
}

/** CSS for the classes above: the 16 colours in a palette readable on the log's light background. */
export const ANSI_CSS = (() => {
  const palette = [
    "#24292f",
    "#cf222e",
    "#116329",
    "#9a6700",
    "#0550ae",
    "#8250df",
    "#1b7c83",
    "#6e7781",
    "#57606a",
    "#a40e26",
    "#1a7f37",
    "#7d4e00",
    "#0969da",
    "#a475f9",
    "#3192aa",
    "#8c959f",
  ];
  const rules = palette.map(
    (colour, index) => `.a-f${index}{color:${colour}}.a-g${index}{background:${colour};color:#fff}`,
  );
  return `${rules.join("")}.a-b{font-weight:600}.a-d{opacity:.7}.a-i{font-style:italic}.a-u{text-decoration:underline}`;
})();

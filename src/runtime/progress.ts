/** A one-line progress indicator on stderr, shown only when stderr is a terminal. */
import { formatBytes } from "../core/format.ts";

export interface Progress {
  update(done: number): void;
  done(): void;
}

/**
 * @param total bytes expected, when known (adds a percentage)
 * @param unit "bytes" formats amounts as sizes; "" prints plain counts
 */
export function createProgress(
  label: string,
  total: number | undefined,
  unit: "bytes" | "" = "bytes",
  enabled = Boolean(process.stderr.isTTY),
): Progress {
  const started = Date.now();
  let lastDraw = 0;
  let shown = false;
  let finished = false;
  let current = 0;
  const draw = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const amount = unit === "bytes" ? formatBytes(current) : String(current);
    const rate = unit === "bytes" ? ` ${(current / 1e6 / seconds).toFixed(1)} MB/s` : "";
    const percent = total ? ` ${((current / total) * 100).toFixed(0)}% of ${formatBytes(total)}` : "";
    process.stderr.write(`\r\u001b[2K${label}: ${amount}${percent}${rate}`);
    shown = true;
  };
  return {
    update(done) {
      current = done;
      if (!enabled || finished) return;
      const now = Date.now();
      if (now - lastDraw >= 200) {
        lastDraw = now;
        draw();
      }
    },
    /** Ends the line (once: later calls do nothing). */
    done() {
      if (!enabled || !shown || finished) return;
      finished = true;
      draw();
      process.stderr.write("\n");
    },
  };
}

/**
 * Decodes UTF-8 chunks and hands complete lines to `onLine` (without the `\n`, and without a
 * trailing `\r`). A line longer than `maxLine` characters is cut there; the rest of it is skipped.
 */
export function createLineReader(onLine: (line: string) => void, maxLine = 64 * 1024) {
  const decoder = new TextDecoder("utf-8");
  let carry = "";
  let skipping = false;

  const emit = (line: string) => onLine(line.endsWith("\r") ? line.slice(0, -1) : line);

  const feed = (text: string) => {
    let start = 0;
    for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", start)) {
      if (skipping) skipping = false;
      else emit(carry ? carry + text.slice(start, newline) : text.slice(start, newline));
      carry = "";
      start = newline + 1;
    }
    if (skipping) return;
    carry += text.slice(start);
    if (carry.length > maxLine) {
      emit(carry.slice(0, maxLine));
      carry = "";
      skipping = true;
    }
  };

  return {
    write(chunk: Uint8Array) {
      feed(decoder.decode(chunk, { stream: true }));
    },
    /** Decodes what is left and emits the last line when it did not end with a newline. */
    end() {
      feed(decoder.decode());
      if (carry && !skipping) emit(carry);
      carry = "";
    },
  };
}

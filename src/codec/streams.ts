/**
 * Small Web Streams helpers shared by the pipelines. All of them keep backpressure:
 * nothing here reads ahead of what the consumer asks for.
 */

/**
 * A pass-through stream that shows every chunk to `onChunk` (which may throw to fail the
 * stream) and calls `onEnd` once the input is complete. When `onEnd` throws or rejects,
 * the stream errors instead of closing: that is how the pipelines refuse to publish.
 */
export function observeStream(hooks: {
  onChunk?: (chunk: Uint8Array) => void;
  onEnd?: () => void | Promise<void>;
}): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      hooks.onChunk?.(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      await hooks.onEnd?.();
    },
  });
}

/** A stream of the given bytes, cut in chunks of at most `chunkSize`. */
export function streamFromBytes(bytes: Uint8Array, chunkSize = 1 << 20): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      const end = Math.min(offset + chunkSize, bytes.length);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
    },
  });
}

/**
 * `target` with `bytes` and a `body` stream of them made on first use: a caller that takes the
 * bytes as they are (a small download) never pays for a stream.
 */
export function withLazyBody<T extends object>(
  target: T,
  bytes: Uint8Array,
): T & { bytes: Uint8Array; body: ReadableStream<Uint8Array> } {
  let body: ReadableStream<Uint8Array> | undefined;
  // An object literal with an accessor: far cheaper to make than Object.defineProperties.
  return {
    ...target,
    bytes,
    get body() {
      body ??= streamFromBytes(bytes);
      return body;
    },
    set body(value: ReadableStream<Uint8Array>) {
      body = value;
    },
  };
}

/** Reads a whole stream into one array. Only for content known to be small. */
export async function collectBytes(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
  }
  return concatBytes(chunks, total);
}

export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total ?? chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Skips `offset` bytes of a stream and stops after `length` more: a byte range of content
 * that can only be produced from its start (gzip-stored artifacts).
 */
export function sliceStream(offset: number, length: number | undefined): TransformStream<Uint8Array, Uint8Array> {
  let position = 0;
  const end = length === undefined ? Number.POSITIVE_INFINITY : offset + length;
  return new TransformStream({
    transform(chunk, controller) {
      const chunkStart = position;
      position += chunk.length;
      if (position <= offset || chunkStart >= end) {
        if (chunkStart >= end) controller.terminate();
        return;
      }
      controller.enqueue(chunk.subarray(Math.max(0, offset - chunkStart), Math.min(chunk.length, end - chunkStart)));
      if (position >= end) controller.terminate();
    },
  });
}

/**
 * Runs a transform beside the main data path: `write` feeds it and resolves once the chunk
 * was taken (keeping backpressure), `onOutput` sees everything it produces, `close` waits
 * for the last output. Used to decode a gzip upload for hashing while the gzip bytes
 * themselves go to storage untouched.
 */
export function sideChannel(
  transform: TransformStream<Uint8Array, Uint8Array>,
  onOutput: (chunk: Uint8Array) => void,
): { write(chunk: Uint8Array): Promise<void>; close(): Promise<void>; abort(reason: unknown): void } {
  const writer = transform.writable.getWriter();
  const reader = transform.readable.getReader();
  const drained = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      try {
        onOutput(value);
      } catch (error) {
        // Stop the transform too, so a pending write rejects instead of waiting forever.
        await reader.cancel(error).catch(() => {});
        throw error;
      }
    }
  })();
  drained.catch(() => {}); // reported through write() and close()
  return {
    async write(chunk) {
      try {
        await writer.write(chunk);
      } catch (error) {
        await drained; // the side's own failure explains this one better
        throw error;
      }
    },
    async close() {
      try {
        await writer.close();
      } catch (error) {
        await drained;
        throw error;
      }
      await drained;
    },
    abort(reason) {
      writer.abort(reason).catch(() => {});
      reader.cancel(reason).catch(() => {});
    },
  };
}

/**
 * A stream that replaces every error of `stream` by `mapError(error)` — errors are given
 * their meaning (corrupt data, bad input, backend failure) at the point they can be told apart.
 */
export function mapStreamErrors(
  stream: ReadableStream<Uint8Array>,
  mapError: (error: unknown) => unknown | Promise<unknown>,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          // Awaited: a mapper that records the failure (flagging a version corrupt) finishes
          // before the reader sees the error, so what it wrote is visible to the next request.
          controller.error(await mapError(error));
          return;
        }
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

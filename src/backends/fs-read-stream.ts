import { ArtifactStoreError } from "../contracts/errors.ts";
import { wrapFsError } from "./fs-errors.ts";

/** What the body needs of an open file: `node:fs/promises`' FileHandle has it. */
export interface ReadableFileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface FileBodyOptions {
  /** The object's key, for error messages (never the server path). */
  key: string;
  /** First and last byte (inclusive) to read. */
  start: number;
  end: number;
  /** Bytes read per pull. */
  chunkSize: number;
  /** A reader that went away (a client disconnect): reading stops and the file is let go. */
  signal?: AbortSignal;
  /** Opens the file (injected: `open` from `node:fs/promises` with O_NOFOLLOW, in fs.ts). */
  openFile(): Promise<ReadableFileHandle>;
}

/**
 * An object's bytes from `start` to `end`, read one chunk per pull. The file is opened on the
 * first read, so a body nobody reads holds no file descriptor, and closed when the body ends,
 * fails or is cancelled. A file shorter than expected ends the body with E_CORRUPT.
 */
export function createFileBody(options: FileBodyOptions): ReadableStream<Uint8Array> {
  const { key, end, chunkSize, signal } = options;
  let position = options.start;
  let handle: ReadableFileHandle | undefined;
  const closeHandle = async () => {
    const current = handle;
    handle = undefined;
    await current?.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // The reader went away (a client disconnect): stop reading and let go of the file.
          signal?.throwIfAborted();
          const wanted = Math.min(chunkSize, end + 1 - position);
          if (wanted <= 0) {
            await closeHandle();
            controller.close();
            return;
          }
          handle ??= await options.openFile();
          const buffer = new Uint8Array(wanted);
          const { bytesRead } = await handle.read(buffer, 0, wanted, position);
          if (bytesRead === 0) {
            await closeHandle();
            controller.error(new ArtifactStoreError("E_CORRUPT", `[fs] ${key} is shorter than its size`));
            return;
          }
          position += bytesRead;
          controller.enqueue(bytesRead === wanted ? buffer : buffer.subarray(0, bytesRead));
        } catch (error) {
          await closeHandle().catch(() => {});
          controller.error(signal?.aborted ? signal.reason : wrapFsError(error, `reading ${key}`));
        }
      },
      async cancel() {
        await closeHandle();
      },
      // No read-ahead before the first read: a body nobody reads must not open the file.
    },
    { highWaterMark: 0 },
  );
}

/**
 * A body of bytes already read whole; when the file was shorter than its size the bytes that were
 * there come first, then the body fails with E_CORRUPT, as a streamed read does.
 */
export function bodyOfBytes(key: string, bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (!sent && bytes.length > 0) {
          sent = true;
          controller.enqueue(bytes);
        } else if (bytes.length < size) {
          controller.error(new ArtifactStoreError("E_CORRUPT", `[fs] ${key} is shorter than its size`));
        } else {
          controller.close();
        }
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Writing a put's body to a new staging file. A small body (a known length up to
 * {@link SMALL_BODY_BYTES}) is gathered first and written whole: an async open, write and close
 * cost a thread-pool round trip each, several times the CPU of the calls themselves. With fsync
 * off, by synchronous open/write/close; with fsync on, creating a file can wait for the disk
 * (another file's fsync holding the block its inode goes into), so the file is made by one
 * `writeFile` off the event loop, opened `O_SYNC` when it must be durable (the write returns once
 * the bytes and the inode are on disk: no second open for an fsync). An fsync always stays
 * asynchronous. The filesystem calls are injected (`node:fs` from fs.ts), so this module stays
 * on Web APIs.
 */
import { concatBytes } from "../codec/streams.ts";

/** Bodies up to this size, with the length known up front, are written synchronously. */
export const SMALL_BODY_BYTES = 64 * 1024;

/** What the writer needs of an open file handle (`node:fs/promises`' `FileHandle`). */
export interface StagingHandle {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface StagingFileSystem {
  open(path: string, flags: "wx"): Promise<StagingHandle>;
  /**
   * Creates `path` (never replacing) holding `bytes`, off the event loop: one round trip. `sync`:
   * resolves only once the bytes and the file's inode are on disk (`O_SYNC`), as an fsync would.
   */
  writeFile(path: string, bytes: Uint8Array, sync: boolean): Promise<void>;
  openSync(path: string, flags: "wx"): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  closeSync(fd: number): void;
  /** fsync of an open descriptor, off the event loop. */
  fsync(fd: number): Promise<void>;
}

/**
 * @param createOffLoop whether files are made off the event loop (fsync on: see above).
 */
export function createStagingWriter(files: StagingFileSystem, createOffLoop: boolean) {
  /** The gathered small body written whole, fsynced when `sync`. */
  const writeWhole = async (path: string, chunks: Uint8Array[], size: number, sync: boolean): Promise<void> => {
    if (createOffLoop) {
      await files.writeFile(path, concatBytes(chunks, size), sync);
      return;
    }
    const fd = files.openSync(path, "wx");
    try {
      for (const chunk of chunks) {
        for (let written = 0; written < chunk.length; ) {
          written += files.writeSync(fd, chunk, written, chunk.length - written);
        }
      }
      if (sync) await files.fsync(fd);
    } finally {
      files.closeSync(fd);
    }
  };

  /**
   * Writes the body to a new staging file (fsynced when `sync`) and returns its size. On failure
   * the body is cancelled and the file closed; the caller removes it.
   */
  return async function writeStagingFile(
    path: string,
    body: ReadableStream<Uint8Array>,
    sync: boolean,
    knownLength?: number,
  ): Promise<number> {
    const reader = body.getReader();
    let handle: StagingHandle | undefined;
    let size = 0;
    try {
      const gathered: Uint8Array[] = [];
      let small = knownLength !== undefined && knownLength <= SMALL_BODY_BYTES;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (small && size <= SMALL_BODY_BYTES) {
          gathered.push(value);
          continue;
        }
        // Longer than said: written as a stream from here, the bytes gathered so far first.
        small = false;
        handle ??= await files.open(path, "wx");
        for (const chunk of gathered.splice(0)) await writeAll(handle, chunk);
        await writeAll(handle, value);
      }
      if (!handle) {
        await writeWhole(path, gathered, size, sync);
        return size;
      }
      if (sync) await handle.sync();
      await handle.close();
      return size;
    } catch (error) {
      await reader.cancel(error).catch(() => {});
      await handle?.close().catch(() => {});
      throw error;
    }
  };
}

async function writeAll(handle: StagingHandle, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.length) {
    const result = await handle.write(chunk, written, chunk.length - written);
    written += result.bytesWritten;
  }
}

/**
 * Preloaded (`node --require`) into the s3rver child that `s3-servers.ts` starts.
 *
 * s3rver@3.7.1 answers a PUT before the object's bytes are on disk: its FilesystemStore.putObject
 * resolves when the request body has gone through its md5 Transform (`'finish'` of the Transform,
 * not of the file's write stream) and metadata.json is written, while the write stream may not
 * even have opened the object file yet. A GET right after such a 200 PUT then finds
 * metadata.json but no object file: 404 NoSuchKey (or, once opened but not yet written, fewer
 * bytes). On a loaded machine a descheduled libuv thread opens the file late and the store's
 * publish, which reads back the key it has just put (copy = get + put on S3), fails. Real S3 has
 * strong read-after-write consistency, so the store is right to rely on it: the emulator is
 * fixed here instead, by letting a put answer only once its object file holds all its bytes.
 *
 * `S3RVER_TEST_OBJECT_OPEN_DELAY_MS` (tests only) delays the object file's open-for-write the
 * way a descheduled thread does, to show that the fix holds.
 */
const fs = require("node:fs");

// Before s3rver loads: its fs-extra (graceful-fs) copies `fs.open` when loaded.
const openDelayMs = Number(process.env.S3RVER_TEST_OBJECT_OPEN_DELAY_MS ?? 0);
if (openDelayMs > 0) {
  const open = fs.open;
  fs.open = function delayedOpen(path, flags, ...rest) {
    const forWrite = typeof path === "string" && path.endsWith("._S3rver_object") && String(flags).startsWith("w");
    if (!forWrite) return open.call(fs, path, flags, ...rest);
    setTimeout(() => open.call(fs, path, flags, ...rest), openDelayMs);
  };
}

const FilesystemStore = require("s3rver/lib/stores/filesystem.js");

const WAIT_LIMIT_MS = 10_000;

const putObject = FilesystemStore.prototype.putObject;
FilesystemStore.prototype.putObject = async function putObjectWhenWritten(object) {
  const result = await putObject.call(this, object);
  const file = this.getResourcePath(object.bucket, object.key, "object");
  // Bounded: a concurrent put or delete of the same key may leave another size there.
  for (const started = Date.now(); Date.now() - started < WAIT_LIMIT_MS; ) {
    const stats = await fs.promises.stat(file).catch(() => null);
    if (stats?.size === result.size) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return result;
};

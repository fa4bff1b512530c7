/** The one error table: every full disk is the same answer, however it surfaced. */
import { describe, expect, test } from "bun:test";
import { ArtifactStoreError, storageFullError } from "../../src/contracts/errors.ts";
import { errorResponseParts } from "../../src/http/errors.ts";

describe("a full disk in the error table", () => {
  test("ENOSPC, EDQUOT and SQLITE_FULL, named or not, are 507 E_STORAGE_FULL saying what frees space", () => {
    const sqliteFull = Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL" });
    const quotaFull = Object.assign(new Error("EDQUOT: disk quota exceeded, write"), { code: "EDQUOT" });
    const cases = [
      storageFullError("fs", "writing s/t/v1/log.txt.gz failed", { cause: { code: "ENOSPC" } }),
      sqliteFull, // a read's temporary file, met where nobody named it
      quotaFull,
      new ArtifactStoreError("E_INTERNAL", "[fs] upload failed", { cause: sqliteFull }),
    ];
    for (const error of cases) {
      const { status, body, internal } = errorResponseParts(error);
      expect(status).toBe(507);
      expect(internal).toBe(false);
      expect(body.error.code).toBe("E_STORAGE_FULL");
      expect(body.error.message).toContain("the disk holding base_path is full");
      expect(body.error.message).toContain("POST /v1/maintenance/cleanup");
    }
  });

  test("a named failure keeps its own code even when its cause mentions a full disk", () => {
    const backend = new ArtifactStoreError("E_BACKEND", "[s3] refused", { cause: { code: "ENOSPC" } });
    expect(errorResponseParts(backend).body.error.code).toBe("E_BACKEND");
    expect(errorResponseParts(new Error("boom")).status).toBe(500);
  });
});

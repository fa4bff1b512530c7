/**
 * Live logs over HTTP: `POST …/:type:append` (one numbered, checksummed chunk), `POST
 * …/:type:seal` (commit as a normal version), `GET …/:type:live` (read while it grows, with
 * Range), `DELETE …/:type:live` (discard), `GET /v1/live` (list).
 */
import type { Context, Hono } from "hono";
import { ArtifactStoreError } from "../contracts/errors.ts";
import { MAX_CHUNK_BYTES } from "../core/live-log.ts";
import { assertValidName } from "../core/names.ts";
import type { ArtifactStore } from "../core/store.ts";
import { tooLargeError } from "../core/upload-plan.ts";
import { authorize } from "./auth.ts";
import { readBodyLimited, refuseBody } from "./body.ts";
import type { AppEnv, RouteContext } from "./env.ts";
import { createdHeaders, parseDigestField, parseMetadataHeader, parseRangeHeader, parseTagsHeader } from "./headers.ts";
import { parseArtifactRef, parseSequenceNumber } from "./parameters.ts";

const ACTION_PATH = "/v1/artifacts/:spec/:task/:target{[A-Za-z0-9._-]+:(?:append|seal|live)}";

function liveRef(c: Context<AppEnv>, action: string) {
  const target = c.req.param("target") ?? "";
  const type = target.slice(0, target.length - action.length - 1);
  if (!target.endsWith(`:${action}`)) throw new ArtifactStoreError("E_NOT_FOUND", `no route for ${target}`);
  return parseArtifactRef({ spec: c.req.param("spec"), task: c.req.param("task"), type }, undefined);
}

/** `:append`: one numbered, checksummed chunk; 201, or 200 for a retry of a chunk already appended. */
async function appendFromRequest(c: Context<AppEnv>, store: ArtifactStore): Promise<Response> {
  const ref = liveRef(c, "append");
  authorize(c.get("principal"), "write", ref.specName);
  const body = await readBodyLimited(c.req.raw, MAX_CHUNK_BYTES, chunkTooLarge);
  const seqText = c.req.query("seq") ?? c.req.header("x-chunk-seq");
  const seq = seqText === undefined ? undefined : parseSequenceNumber(seqText, "seq");
  const digest = parseDigestField(c.req.header("content-digest"));
  const result = await store.appendLog({
    ...ref,
    content: body,
    ...(seq === undefined ? {} : { seq }),
    ...(digest ? { expectedChecksum: digest } : {}),
  });
  return c.json(result, result.duplicate ? 200 : 201);
}

/** Registered before the artifact routes, whose `:type` would otherwise take `log:live`. */
export function registerLiveLogRoutes(app: Hono<AppEnv>, context: RouteContext): void {
  const { store } = context;

  app.post(ACTION_PATH, async (c) => {
    const target = c.req.param("target") ?? "";
    if (target.endsWith(":append")) return appendFromRequest(c, store);
    if (target.endsWith(":seal")) {
      const ref = liveRef(c, "seal");
      authorize(c.get("principal"), "write", ref.specName);
      await refuseBody(c.req.raw);
      const tags = parseTagsHeader(c.req.header("x-artifact-tags"));
      const metadata = parseMetadataHeader(c.req.header("x-artifact-metadata"));
      const digest = parseDigestField(c.req.header("repr-digest"));
      const result = await store.sealLog({
        ...ref,
        ...(tags ? { tags } : {}),
        ...(metadata ? { metadata } : {}),
        ...(digest ? { expectedChecksum: digest } : {}),
      });
      return c.json(result, 201, createdHeaders(result));
    }
    throw new ArtifactStoreError("E_NOT_FOUND", `POST ${target}: use :append or :seal`);
  });

  app.get(ACTION_PATH, async (c) => {
    const ref = liveRef(c, "live");
    authorize(c.get("principal"), "read", ref.specName);
    const range = parseRangeHeader(c.req.header("range"));
    const read = await store.readLiveLog(
      ref,
      range === undefined
        ? {}
        : "suffixLength" in range
          ? { suffixLength: range.suffixLength }
          : { offset: range.offset, ...(range.length === undefined ? {} : { length: range.length }) },
    );
    if (!read) throw new ArtifactStoreError("E_NOT_FOUND", `no live log ${ref.specName}/${ref.taskId}/${ref.type}`);
    const { status } = read;
    if (range && read.start >= status.size) {
      await read.body.cancel();
      throw new ArtifactStoreError("E_RANGE", `the live log has ${status.size} bytes so far`, {
        details: { size: status.size },
      });
    }
    const headers: Record<string, string> = {
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Length": String(read.end - read.start),
      "Cache-Control": "no-store",
      "Accept-Ranges": "bytes",
      "X-Live-Size": String(status.size),
      "X-Live-State": status.state,
      "X-Live-Chunks": String(status.chunks),
    };
    if (range) headers["Content-Range"] = `bytes ${read.start}-${read.end - 1}/${status.size}`;
    return new Response(read.body, { status: range ? 206 : 200, headers });
  });

  app.delete(ACTION_PATH, async (c) => {
    const ref = liveRef(c, "live");
    authorize(c.get("principal"), "write", ref.specName);
    await refuseBody(c.req.raw);
    if (!(await store.discardLog(ref))) {
      throw new ArtifactStoreError("E_NOT_FOUND", `no live log ${ref.specName}/${ref.taskId}/${ref.type}`);
    }
    return c.json({ discarded: true });
  });

  app.get("/v1/live", async (c) => {
    const principal = c.get("principal");
    const spec = c.req.query("spec");
    const task = c.req.query("task");
    authorize(principal, "read", spec);
    let items = await store.liveLogs({
      ...(spec === undefined ? {} : { specName: assertValidName("specName", spec) }),
      ...(task === undefined ? {} : { taskId: assertValidName("taskId", task) }),
    });
    if (principal.specs) items = items.filter((item) => principal.specs?.has(item.specName));
    return c.json({ items });
  });
}

function chunkTooLarge(): ArtifactStoreError {
  return tooLargeError(MAX_CHUNK_BYTES, "a live-log chunk");
}

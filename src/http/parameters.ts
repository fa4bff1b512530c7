/**
 * The artifact named by a request path (`/…/:spec/:task/:type`) and its `?version=`: parsed
 * once for the API routes, the live-log routes and the viewer. Search parameters are in
 * `contracts/http-parameters.ts`, shared with the HTTP client.
 */
import { ArtifactStoreError } from "../contracts/errors.ts";
import { SEQUENCE_NUMBER } from "../contracts/http-parameters.ts";
import type { ArtifactRef } from "../contracts/types.ts";
import { assertValidName, assertValidVersion } from "../core/names.ts";

/**
 * Path names checked, and `version` when given (`"forbidden"`: an upload, which creates the
 * next version, refuses one). Nothing else happens before this passes.
 *
 * @example
 * parseArtifactRef({ spec: "chat-app", task: "1.1", type: "log" }, c.req.query("version"));
 */
export function parseArtifactRef(
  path: { spec: string | undefined; task: string | undefined; type: string | undefined },
  version: string | undefined,
  versionRule: "allowed" | "forbidden" = "allowed",
): ArtifactRef {
  const ref: ArtifactRef = {
    specName: assertValidName("specName", path.spec),
    taskId: assertValidName("taskId", path.task),
    type: assertValidName("type", path.type),
  };
  if (version === undefined) return ref;
  if (versionRule === "forbidden")
    throw new ArtifactStoreError("E_INVALID_INPUT", "an upload creates the next version; drop ?version=");
  ref.version = parseSequenceNumber(version, "version");
  return ref;
}

/** `?version=` or `?seq=`: a positive integer of at most 15 digits. */
export function parseSequenceNumber(text: string, field: "version" | "seq"): number {
  if (!SEQUENCE_NUMBER.test(text))
    throw new ArtifactStoreError("E_INVALID_INPUT", `${field} must be a positive integer`, { details: { field } });
  return field === "version" ? assertValidVersion(Number(text)) : Number(text);
}

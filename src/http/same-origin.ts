/**
 * Cross-site request forgery, refused at one place. A browser sends `POST` (a form, or `fetch`
 * with `mode: "no-cors"`) to any origin without asking first, and it carries no token of ours;
 * what it always carries is `Origin` and, in current browsers, `Sec-Fetch-Site`. A state-changing
 * request that says it comes from another origin, from an opaque one (`Origin: null`: sandboxed
 * frames, `data:` pages, some redirects) or from another site is refused. Tools (curl, the CLI,
 * the client) send neither header and are not affected.
 *
 * It guards every state-changing request to a server without tokens (anyone on the machine may
 * call it, so a page the developer visits must not), and every state-changing `/ui` route in
 * any mode (login CSRF: a form that signs the victim in as the attacker).
 */
import { ArtifactStoreError } from "../contracts/errors.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Fetch metadata values a page of another origin never produces. */
const SAME_ORIGIN_SITES = new Set(["same-origin", "none"]);

/**
 * @param trustedOrigins origins allowed to call anyway (`server.cors_origins`), exact `scheme://host[:port]`.
 * @example
 * assertNotCrossOrigin(c.req.raw, new Set(), "the viewer");
 */
export function assertNotCrossOrigin(request: Request, trustedOrigins: ReadonlySet<string>, what: string): void {
  if (SAFE_METHODS.has(request.method)) return;
  const origin = request.headers.get("origin");
  if (origin !== null && trustedOrigins.has(origin)) return;
  const site = request.headers.get("sec-fetch-site");
  const fromElsewhere =
    (site !== null && !SAME_ORIGIN_SITES.has(site.toLowerCase())) || (origin !== null && !isOwnOrigin(origin, request));
  if (fromElsewhere) {
    throw new ArtifactStoreError(
      "E_FORBIDDEN",
      `${what} refuses state-changing requests from pages of other origins (Origin ${origin ?? "absent"}, Sec-Fetch-Site ${site ?? "absent"})`,
    );
  }
}

/**
 * The page's origin names this server: the same host and port the request was addressed to.
 * The scheme is not compared: behind a TLS-terminating proxy the server sees http.
 */
function isOwnOrigin(origin: string, request: Request): boolean {
  if (origin === "null") return false;
  const host = request.headers.get("host") ?? new URL(request.url).host;
  try {
    const parsed = new URL(origin);
    return (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.host === host.toLowerCase();
  } catch {
    return false;
  }
}

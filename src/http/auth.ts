/**
 * Bearer-token auth. Config holds each token's SHA-256, never the token; a presented token is
 * hashed and compared with every configured hash in constant time, so neither the match nor
 * its position leaks through timing.
 */
import { sha256FromHex } from "../codec/engines.ts";
import type { Scope, TokenConfig } from "../config/schema.ts";
import { ArtifactStoreError } from "../contracts/errors.ts";

/** Who is calling and what they may do. */
export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  /** Specs the caller may touch; null means every spec. */
  specs: ReadonlySet<string> | null;
}

export interface Authenticator {
  /** True when requests without a token are accepted (no tokens configured, loopback server). */
  readonly open: boolean;
  authenticate(authorization: string | undefined | null): Promise<Principal>;
}

const EVERYTHING: Principal = { name: "local", scopes: new Set(["read", "write", "admin"]), specs: null };

/**
 * @param allowAnonymous when no tokens are configured: `true` lets every request in (the Bun and
 *   Node servers then bind 127.0.0.1 only); `false` refuses every request (the edge entry).
 */
export function createAuthenticator(tokens: readonly TokenConfig[], allowAnonymous: boolean): Authenticator {
  const known = tokens.map((token) => ({
    hash: sha256FromHex(token.sha256) ?? new Uint8Array(32),
    principal: {
      name: token.name,
      scopes: new Set(token.scopes),
      specs: token.specs ? new Set(token.specs) : null,
    } satisfies Principal,
  }));
  const open = known.length === 0 && allowAnonymous;
  return {
    open,
    async authenticate(authorization) {
      if (open) return EVERYTHING;
      if (known.length === 0) {
        throw new ArtifactStoreError(
          "E_UNAUTHORIZED",
          "this server has no tokens configured and refuses every request",
        );
      }
      const match = /^Bearer\s+(\S{1,4096})\s*$/i.exec(authorization ?? "");
      if (!match) throw new ArtifactStoreError("E_UNAUTHORIZED", "send Authorization: Bearer <token>");
      const presented = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(match[1])));
      let found: Principal | undefined;
      for (const candidate of known) {
        // Compare every byte of every hash: no early exit, no short-circuit.
        let difference = 0;
        for (let index = 0; index < 32; index++)
          difference |= (presented[index] as number) ^ (candidate.hash[index] as number);
        if (difference === 0) found ??= candidate.principal;
      }
      if (!found) throw new ArtifactStoreError("E_UNAUTHORIZED", "unknown token");
      return found;
    },
  };
}

/** Refuses with E_FORBIDDEN unless the principal has `scope` (admin implies every scope) and may touch `spec`. */
export function authorize(principal: Principal, scope: Scope, spec?: string): void {
  if (!principal.scopes.has(scope) && !principal.scopes.has("admin")) {
    throw new ArtifactStoreError("E_FORBIDDEN", `token ${principal.name} lacks the ${scope} scope`);
  }
  if (spec !== undefined && principal.specs && !principal.specs.has(spec)) {
    throw new ArtifactStoreError("E_FORBIDDEN", `token ${principal.name} may not access spec ${spec}`);
  }
}

/** Refuses tokens limited to some specs: for operations that span every spec. */
export function requireUnlimited(principal: Principal, what: string): void {
  if (principal.specs) {
    throw new ArtifactStoreError("E_FORBIDDEN", `token ${principal.name} is limited to some specs and cannot ${what}`);
  }
}

/** @jsxImportSource hono/jsx */
/** Signing in to the viewer (a token kept in an HttpOnly, SameSite=Strict cookie for `/ui`) and out. */
import { deleteCookie, setCookie } from "hono/cookie";
import { isArtifactStoreError } from "../../contracts/errors.ts";
import { authorize } from "../auth.ts";
import { readFormLimited, refuseBody, SMALL_BODY_LIMIT } from "../body.ts";
import { render, safeNext, TOKEN_COOKIE, type UiKit } from "./frame.tsx";
import { Notice, Page } from "./layout.tsx";

const COOKIE_MAX_AGE_SECONDS = 12 * 3600;

export function registerLoginPages({ app, authenticator }: UiKit): void {
  app.get("/ui/login", (c) =>
    render(c, <LoginPage nonce={c.get("nonce")} open={authenticator.open} next={safeNext(c.req.query("next"))} />),
  );

  app.post("/ui/login", async (c) => {
    const nonce = c.get("nonce");
    const form = await readFormLimited(c.req.raw, SMALL_BODY_LIMIT);
    const token = form.get("token")?.trim() ?? "";
    const next = safeNext(form.get("next"));
    try {
      const principal = await authenticator.authenticate(`Bearer ${token}`);
      authorize(principal, "read");
    } catch (error) {
      if (!isArtifactStoreError(error)) throw error;
      const message =
        error.code === "E_FORBIDDEN" ? "That token may not read artifacts." : "That token was not accepted.";
      return render(
        c,
        <LoginPage nonce={nonce} open={false} next={next} error={message} />,
        error.code === "E_FORBIDDEN" ? 403 : 401,
      );
    }
    setCookie(c, TOKEN_COOKIE, token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/ui",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: COOKIE_MAX_AGE_SECONDS,
    });
    return c.redirect(next, 303);
  });

  app.post("/ui/logout", async (c) => {
    await refuseBody(c.req.raw);
    deleteCookie(c, TOKEN_COOKIE, { path: "/ui" });
    return c.redirect("/ui/login", 303);
  });
}

const LoginPage = ({ nonce, open, next, error }: { nonce: string; open: boolean; next: string; error?: string }) => (
  <Page title="Sign in" nonce={nonce}>
    {open ? (
      <Notice>
        This server has no tokens configured: the viewer is open to every local request.{" "}
        <a href="/ui">Go to the specs</a>.
      </Notice>
    ) : (
      <form method="post" action="/ui/login" class="login" aria-describedby="login-help">
        <p id="login-help">
          Paste a token with the read scope. It is kept in a cookie only this viewer receives (HttpOnly,
          SameSite=Strict), for 12 hours.
        </p>
        {error ? <Notice kind="error">{error}</Notice> : null}
        <input type="hidden" name="next" value={next} />
        <p>
          <label for="token">Token</label>
          <input id="token" name="token" type="password" autocomplete="current-password" required />
        </p>
        <button type="submit">Sign in</button>
      </form>
    )}
  </Page>
);

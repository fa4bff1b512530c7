/** @jsxImportSource hono/jsx */
/** A log still being written: a snapshot page that follows it, and the JSON feed its script polls. */
import { ArtifactStoreError } from "../../contracts/errors.ts";
import type { ArtifactRef } from "../../contracts/types.ts";
import { refFrom, render, type UiKit } from "./frame.tsx";
import { artifactPath, Page } from "./layout.tsx";
import { LIVE_SCRIPT, LiveView, loadLiveSnapshot, pollLiveLog } from "./view-live.tsx";

export function registerLivePages({ app, store, page, signedIn }: UiKit): void {
  app.get(
    "/ui/s/:spec/:task/:type/live",
    page(async (c) => {
      const ref = refFrom(c, false) as Required<Omit<ArtifactRef, "version">>;
      const snapshot = await loadLiveSnapshot(store, ref);
      if (!snapshot) {
        const sealed = await store.stat(ref);
        if (sealed) return c.redirect(artifactPath(ref.specName, ref.taskId, ref.type, sealed.version), 303);
        throw new ArtifactStoreError("E_NOT_FOUND", `no live log ${ref.specName}/${ref.taskId}/${ref.type}`);
      }
      return render(
        c,
        <Page
          title={`${ref.specName} / ${ref.taskId} / ${ref.type} (live)`}
          nonce={c.get("nonce")}
          signedIn={signedIn(c)}
          script={LIVE_SCRIPT}
          trail={[
            { label: "Specs", href: "/ui" },
            { label: ref.specName, href: `/ui/s/${encodeURIComponent(ref.specName)}` },
            { label: ref.taskId, href: artifactPath(ref.specName, ref.taskId) },
            { label: `${ref.type} (live)` },
          ]}
        >
          <LiveView ref_={ref} snapshot={snapshot} />
        </Page>,
      );
    }),
  );

  app.get("/ui/s/:spec/:task/:type/live.json", async (c) => {
    const ref = refFrom(c, false) as Required<Omit<ArtifactRef, "version">>;
    const offset = Number(c.req.query("offset") ?? "0");
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new ArtifactStoreError("E_INVALID_INPUT", "offset must be a non-negative integer");
    return c.json(await pollLiveLog(store, ref, offset), 200, { "Cache-Control": "no-store" });
  });
}

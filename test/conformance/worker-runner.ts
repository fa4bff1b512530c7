/**
 * The conformance suite inside workerd: a Worker that runs one planned test per request and
 * answers with its outcome as JSON. Bundled like the edge entry (scripts/build-worker.ts) and
 * driven by `workerd.test.ts`, which starts Miniflare, sqld and the S3 server.
 *
 * POST /run  { "name": "<planned test name>", "services": ConformanceServices }
 *   → { "ok": true } or { "ok": false, "error": "…" }
 */
import { createClient } from "@libsql/client/web";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { createS3Backend } from "../../src/backends/s3.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { createApp } from "../../src/http/app.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { createWorkerEngines } from "../../src/runtime/worker-engines.ts";
import { type ConformanceContext, type ConformanceServices, remoteCombinations } from "./context.ts";
import { planTests } from "./plan.ts";

function contextFor(services: ConformanceServices): ConformanceContext {
  return {
    runtime: "workerd",
    library: {
      createArtifactStore,
      createLibsqlMetadata,
      createApp,
      createMemoryBackend,
      createS3Backend,
      createWebClient: createClient,
    },
    engines: createWorkerEngines(),
    services,
  };
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/run") return new Response("POST /run", { status: 404 });
    const { name, services } = (await request.json()) as { name: string; services: ConformanceServices };
    // Everything is built inside this request: workerd ties sockets and streams to the request
    // that opened them, so nothing is kept between tests.
    const context = contextFor(services);
    const planned = planTests(context, remoteCombinations(context)).find((candidate) => candidate.name === name);
    if (!planned) return Response.json({ ok: false, error: `no planned test named ${name}` });
    try {
      await planned.run();
      return Response.json({ ok: true });
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ""}` : String(error);
      return Response.json({ ok: false, error: text });
    }
  },
};

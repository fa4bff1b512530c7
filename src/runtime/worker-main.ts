/**
 * The bundle's entry (`npm run build:worker`): the Worker of worker.ts, plus a check of the
 * bindings when the isolate starts, so a placeholder left in wrangler.toml or a missing secret
 * is named in `wrangler dev`'s output (and Workers Logs) before the first request. Requests to a
 * misconfigured Worker answer with the same words (500 E_CONFIG).
 */
import { env } from "cloudflare:workers";
import worker, { checkBindingsAtStartup } from "./worker.ts";

checkBindingsAtStartup(env);

export default worker;

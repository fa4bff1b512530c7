/**
 * Rebuilds a committed version's structure from its stored content: `reindex` uses it for the
 * rows it restores from sidecars, since the structure tables are derived data.
 */
import type { ArtifactRecord } from "../../contracts/metadata-repository.ts";
import type { StoreContext } from "../context.ts";
import { createStructureExtractor } from "./extract.ts";
import { LIMITS } from "./types.ts";

/** Never throws: a version whose structure cannot be rebuilt stays searchable by its metadata. */
export async function reextractStructure(ctx: StoreContext, record: ArtifactRecord): Promise<void> {
  const extractor = createStructureExtractor(record.type, ctx.extraction);
  if (!extractor) return;
  try {
    const object = await ctx.backend.get(record.storageKey);
    if (!object) return;
    const content = record.compressed ? object.body.pipeThrough(ctx.codecs.createGunzip()) : object.body;
    const reader = content.getReader();
    let examined = 0;
    const cap = ctx.extraction?.maxBytes ?? LIMITS.maxBytes;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      extractor.write(value);
      examined += value.length;
      if (examined > cap) {
        await reader.cancel();
        break;
      }
    }
    await ctx.metadata.saveStructure(record.id, extractor.finish(examined > cap));
  } catch (error) {
    ctx.logger.warn("could not rebuild the structure of a restored version", { uri: record.uri, error: String(error) });
  }
}

import { createClient } from "@libsql/client";
import { createMemoryBackend } from "../../src/backends/memory.ts";
import { createArtifactStore } from "../../src/core/store.ts";
import { createLibsqlMetadata } from "../../src/metadata/libsql.ts";
import { makeFsStore } from "../helpers/store.ts";
import { describeStoreSuite } from "./store-suite.ts";

describeStoreSuite("fs + libSQL file", async (config) => {
  const fixture = await makeFsStore(config);
  return { store: fixture.store, backend: fixture.backend, clock: fixture.clock, cleanup: fixture.cleanup };
});

describeStoreSuite("memory + libSQL in memory", async (config) => {
  const backend = createMemoryBackend();
  const clock = { now: Date.now() };
  const metadata = await createLibsqlMetadata({ client: createClient({ url: ":memory:" }) });
  const store = createArtifactStore({ backend, metadata, config, now: () => clock.now });
  return { store, backend, clock, cleanup: () => store.close() };
});

import { createMemoryBackend } from "../../src/backends/memory.ts";
import { describeBackendContract } from "./contract.ts";

describeBackendContract("memory", async () => ({ backend: createMemoryBackend(), cleanup: async () => {} }));

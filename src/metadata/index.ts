/**
 * `@necrocode/artifact-store/metadata`: the libSQL metadata repository and its bundled migrations,
 * for composing a store by hand (any runtime; pass a `@libsql/client` or `@libsql/client/web` client).
 */

export type { ArtifactRecord, MetadataRepository } from "../contracts/metadata-repository.ts";
export { createLibsqlMetadata, type LibsqlMetadataOptions } from "./libsql.ts";
export { applyMigrations, type Migration } from "./migrate.ts";
export { migrations } from "./migrations.ts";
export * as schema from "./schema.ts";

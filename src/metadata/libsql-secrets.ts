/** The secrets redaction found in a version: stored with its commit, searched by `has_secrets` and rule. */
import { eq, inArray, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SearchQuery } from "../contracts/metadata-repository.ts";
import type { ArtifactSecrets } from "../contracts/types.ts";
import type { Database } from "./libsql-rows.ts";
import { artifactSecrets, artifacts } from "./schema.ts";

/** The statement storing a version's findings; it inserts only once the version is committed (put it after the commit). */
export function secretsStatements(
  db: Database,
  /** The version's id, or an expression giving it (a row inserted earlier in the same transaction). */
  artifactId: number | SQL,
  secrets: ArtifactSecrets,
): BatchItem<"sqlite">[] {
  const total = secrets.findings.reduce((sum, finding) => sum + finding.count, 0);
  const rules = `,${secrets.findings.map((finding) => finding.rule).join(",")},`;
  return [
    db.run(sql`INSERT OR REPLACE INTO ${artifactSecrets} (artifact_id, masked, total, rules, findings)
      SELECT ${artifactId}, ${secrets.mode === "mask" ? 1 : 0}, ${total}, ${rules}, ${JSON.stringify(secrets.findings)}
      WHERE EXISTS (SELECT 1 FROM ${artifacts} WHERE ${artifacts.id} = ${artifactId} AND ${artifacts.state} = 'committed')`),
  ];
}

export function removeSecretsStatements(db: Database, artifactId: number): BatchItem<"sqlite">[] {
  return [db.delete(artifactSecrets).where(eq(artifactSecrets.artifactId, artifactId))];
}

/** The search conditions on secrets that `query` asks for. */
export function secretsConditions(db: Database, query: SearchQuery): SQL[] {
  const conditions: SQL[] = [];
  const withSecrets = (where?: SQL) =>
    inArray(artifacts.id, db.select({ id: artifactSecrets.artifactId }).from(artifactSecrets).where(where));
  if (query.hasSecrets !== undefined) {
    conditions.push(query.hasSecrets ? withSecrets() : sql`NOT ${withSecrets()}`);
  }
  if (query.secretRule !== undefined) {
    conditions.push(withSecrets(sql`instr(${artifactSecrets.rules}, ',' || ${query.secretRule} || ',') > 0`));
  }
  return conditions;
}

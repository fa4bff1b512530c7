/** What the quota and `stats` count: the trigger-maintained totals and the per-type/spec usage. */
import { asc, eq, sql } from "drizzle-orm";
import type { MetadataRepository, UsageByGroup, UsageSummary } from "../contracts/metadata-repository.ts";
import { prepareStatement } from "./libsql-prepared.ts";
import { type Database, isCommitted } from "./libsql-rows.ts";
import { artifacts, storeUsage } from "./schema.ts";

export function createUsageQueries(db: Database): Pick<MetadataRepository, "reservedBytes" | "usageTotals" | "usage"> {
  const groupUsage = async (column: typeof artifacts.type | typeof artifacts.specName): Promise<UsageByGroup[]> => {
    const rows = await db
      .select({
        key: column,
        count: sql<number>`count(*)`,
        storedBytes: sql<number>`coalesce(sum(${artifacts.size}), 0)`,
        originalBytes: sql<number>`coalesce(sum(${artifacts.originalSize}), 0)`,
      })
      .from(artifacts)
      .where(isCommitted)
      .groupBy(column)
      .orderBy(asc(column));
    return rows.map((row) => ({
      ...row,
      count: Number(row.count),
      storedBytes: Number(row.storedBytes),
      originalBytes: Number(row.originalBytes),
    }));
  };

  // Read before every upload when a quota is set: built once.
  const usedBytes = prepareStatement<{ bytes: number }>(
    db.$client,
    db.select({ bytes: storeUsage.storedBytes }).from(storeUsage).where(eq(storeUsage.id, 1)),
  );
  async function reservedBytes(): Promise<number> {
    const [row] = await usedBytes.all();
    return Number(row?.bytes ?? 0);
  }

  return {
    reservedBytes,

    async usageTotals() {
      const [row] = await db
        .select({ bytes: storeUsage.storedBytes, rows: storeUsage.artifactCount })
        .from(storeUsage)
        .where(eq(storeUsage.id, 1));
      return { bytes: Number(row?.bytes ?? 0), rows: Number(row?.rows ?? 0) };
    },

    async usage(): Promise<UsageSummary> {
      const [totals] = await db
        .select({
          committedCount: sql<number>`coalesce(sum(${artifacts.state} = 'committed'), 0)`,
          committedBytes: sql<number>`coalesce(sum(CASE WHEN ${artifacts.state} = 'committed' THEN ${artifacts.size} ELSE 0 END), 0)`,
          originalBytes: sql<number>`coalesce(sum(CASE WHEN ${artifacts.state} = 'committed' THEN ${artifacts.originalSize} ELSE 0 END), 0)`,
          pendingCount: sql<number>`coalesce(sum(${artifacts.state} IN ('pending', 'publishing')), 0)`,
          corruptCount: sql<number>`coalesce(sum(${artifacts.state} = 'committed' AND ${artifacts.integrity} = 'corrupt'), 0)`,
          pinnedCount: sql<number>`coalesce(sum(${artifacts.state} = 'committed' AND ${artifacts.pinned} = 1), 0)`,
        })
        .from(artifacts);
      return {
        reservedBytes: await reservedBytes(),
        committedCount: Number(totals?.committedCount ?? 0),
        committedBytes: Number(totals?.committedBytes ?? 0),
        originalBytes: Number(totals?.originalBytes ?? 0),
        pendingCount: Number(totals?.pendingCount ?? 0),
        corruptCount: Number(totals?.corruptCount ?? 0),
        pinnedCount: Number(totals?.pinnedCount ?? 0),
        byType: await groupUsage(artifacts.type),
        bySpec: await groupUsage(artifacts.specName),
      };
    },
  };
}

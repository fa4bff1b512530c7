/** What the viewer's browse pages count: committed versions per spec, and the tasks of a spec. */
import { and, asc, count, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { StructureQueries } from "../contracts/metadata-repository.ts";
import { type Database, isCommitted } from "./libsql-rows.ts";
import { artifacts } from "./schema.ts";

export function createBrowseQueries(db: Database): Pick<StructureQueries, "browseSpecs" | "browseTasks"> {
  return {
    async browseSpecs(specs) {
      const conditions: (SQL | undefined)[] = [isCommitted];
      if (specs) conditions.push(inArray(artifacts.specName, [...specs]));
      const rows = await db
        .select({
          specName: artifacts.specName,
          tasks: sql<number>`count(DISTINCT ${artifacts.taskId})`,
          artifacts: count(),
          storedBytes: sql<number>`coalesce(sum(${artifacts.size}), 0)`,
          lastCreatedAt: sql<number>`max(${artifacts.createdAt})`,
        })
        .from(artifacts)
        .where(and(...conditions))
        .groupBy(artifacts.specName)
        .orderBy(asc(artifacts.specName));
      return rows.map((row) => ({
        specName: row.specName,
        tasks: Number(row.tasks),
        artifacts: Number(row.artifacts),
        storedBytes: Number(row.storedBytes),
        lastCreatedAt: Number(row.lastCreatedAt),
      }));
    },

    async browseTasks(specName, page) {
      const where = and(eq(artifacts.specName, specName), isCommitted);
      const lastCreatedAt = sql<number>`max(${artifacts.createdAt})`;
      const [rows, [total]] = await Promise.all([
        db
          .select({
            taskId: artifacts.taskId,
            artifacts: count(),
            storedBytes: sql<number>`coalesce(sum(${artifacts.size}), 0)`,
            types: sql<string>`group_concat(DISTINCT ${artifacts.type})`,
            lastCreatedAt,
          })
          .from(artifacts)
          .where(where)
          .groupBy(artifacts.taskId)
          .orderBy(desc(lastCreatedAt), asc(artifacts.taskId))
          .limit(page.limit)
          .offset(page.offset),
        db
          .select({ total: sql<number>`count(DISTINCT ${artifacts.taskId})` })
          .from(artifacts)
          .where(where),
      ]);
      return {
        items: rows.map((row) => ({
          taskId: row.taskId,
          artifacts: Number(row.artifacts),
          storedBytes: Number(row.storedBytes),
          types: (row.types ?? "").split(",").filter(Boolean).sort(),
          lastCreatedAt: Number(row.lastCreatedAt),
        })),
        total: Number(total?.total ?? 0),
      };
    },
  };
}

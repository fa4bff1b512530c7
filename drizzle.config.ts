import { defineConfig } from "drizzle-kit";

/** `npm run db:generate` writes migrations for `src/metadata/schema.ts` into `drizzle/`. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/metadata/schema.ts",
  out: "./drizzle",
});

-- No query reads either index: a record's uri is computed and an inline commit finds its row by id
-- (libsql-rows.ts), and retention follows the current policy, not expires_at. The uri index, on
-- random nonces, cost every inline upload a page written to the WAL.
DROP INDEX `artifacts_uri_unique`;--> statement-breakpoint
DROP INDEX `artifacts_expiry_idx`;
-- Last-access times are not changes a reader keeps rows for (the access log writes them in
-- batches; record-cache.ts updates its own rows): an UPDATE of `last_accessed_at` alone is not
-- logged. Every other column of `artifacts` is listed (test/metadata/record-cache.test.ts checks).
DROP TRIGGER `artifacts_changes_update`;
--> statement-breakpoint
CREATE TRIGGER `artifacts_changes_update` AFTER UPDATE OF `id`, `spec_name`, `task_id`, `type`, `version`, `uri`,
  `storage_key`, `size`, `checksum`, `original_size`, `original_checksum`, `compressed`, `mime_type`, `metadata`,
  `state`, `integrity`, `pinned`, `created_at`, `expires_at` ON `artifacts` BEGIN
  INSERT INTO `artifact_changes` (`spec_name`, `task_id`, `type`) VALUES (NEW.`spec_name`, NEW.`task_id`, NEW.`type`);
  INSERT INTO `artifact_changes` (`spec_name`, `task_id`, `type`) SELECT OLD.`spec_name`, OLD.`task_id`, OLD.`type`
    WHERE OLD.`spec_name` IS NOT NEW.`spec_name` OR OLD.`task_id` IS NOT NEW.`task_id` OR OLD.`type` IS NOT NEW.`type`;
END;

DROP INDEX `artifact_diff_files_path_idx`;--> statement-breakpoint
DROP INDEX `artifact_diff_files_old_path_idx`;--> statement-breakpoint
ALTER TABLE `artifact_diff_files` ADD `created_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Existing diff files take their version's creation time.
UPDATE `artifact_diff_files` SET `created_at` = (SELECT `created_at` FROM `artifacts` WHERE `artifacts`.`id` = `artifact_diff_files`.`artifact_id`);--> statement-breakpoint
CREATE INDEX `artifact_diff_files_path_idx` ON `artifact_diff_files` (`path`,`created_at`,`artifact_id`);--> statement-breakpoint
CREATE INDEX `artifact_diff_files_old_path_idx` ON `artifact_diff_files` (`old_path`,`created_at`,`artifact_id`) WHERE "artifact_diff_files"."old_path" IS NOT NULL;
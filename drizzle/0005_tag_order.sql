DROP INDEX `artifact_tags_tag_idx`;--> statement-breakpoint
ALTER TABLE `artifact_tags` ADD `created_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `artifact_tags_tag_idx` ON `artifact_tags` (`tag`,`created_at`,`artifact_id`);--> statement-breakpoint
-- Existing tags take their artifact's creation time.
UPDATE `artifact_tags` SET `created_at` = (SELECT `created_at` FROM `artifacts` WHERE `artifacts`.`id` = `artifact_tags`.`artifact_id`);

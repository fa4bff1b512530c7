DROP INDEX `artifact_test_cases_failed_idx`;--> statement-breakpoint
ALTER TABLE `artifact_test_cases` ADD `created_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Existing test cases take their version's creation time.
UPDATE `artifact_test_cases` SET `created_at` = (SELECT `created_at` FROM `artifacts` WHERE `artifacts`.`id` = `artifact_test_cases`.`artifact_id`);--> statement-breakpoint
CREATE INDEX `artifact_test_cases_failed_idx` ON `artifact_test_cases` (`name`,`created_at`,`artifact_id`) WHERE "artifact_test_cases"."status" = 'failed';
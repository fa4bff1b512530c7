ALTER TABLE `artifact_diff_files` ADD `binary_size` integer;--> statement-breakpoint
ALTER TABLE `artifact_diff_files` ADD `old_mode` text;--> statement-breakpoint
ALTER TABLE `artifact_diff_files` ADD `new_mode` text;--> statement-breakpoint
ALTER TABLE `artifact_diff_files` ADD `similarity` integer;--> statement-breakpoint
ALTER TABLE `artifact_diff_files` ADD `commit_index` integer;--> statement-breakpoint
ALTER TABLE `artifact_test_cases` ADD `flaky` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `artifact_test_cases` ADD `retries` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `artifact_test_cases` ADD `stdout` text;--> statement-breakpoint
ALTER TABLE `artifact_test_cases` ADD `stderr` text;
CREATE TABLE `artifact_diff_files` (
	`artifact_id` integer NOT NULL,
	`ordinal` integer NOT NULL,
	`path` text NOT NULL,
	`old_path` text,
	`status` text NOT NULL,
	`added` integer NOT NULL,
	`removed` integer NOT NULL,
	`binary` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`artifact_id`, `ordinal`),
	FOREIGN KEY (`artifact_id`) REFERENCES `artifacts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `artifact_diff_files_path_idx` ON `artifact_diff_files` (`path`,`artifact_id`);--> statement-breakpoint
CREATE INDEX `artifact_diff_files_old_path_idx` ON `artifact_diff_files` (`old_path`,`artifact_id`) WHERE "artifact_diff_files"."old_path" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `artifact_summaries` (
	`artifact_id` integer PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`error_count` integer DEFAULT 0 NOT NULL,
	`failed_count` integer DEFAULT 0 NOT NULL,
	`parse_error` integer DEFAULT false NOT NULL,
	`summary` text NOT NULL,
	FOREIGN KEY (`artifact_id`) REFERENCES `artifacts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `artifact_summaries_errors_idx` ON `artifact_summaries` (`artifact_id`) WHERE "artifact_summaries"."error_count" > 0;--> statement-breakpoint
CREATE INDEX `artifact_summaries_failures_idx` ON `artifact_summaries` (`artifact_id`) WHERE "artifact_summaries"."failed_count" > 0;--> statement-breakpoint
CREATE INDEX `artifact_summaries_parse_error_idx` ON `artifact_summaries` (`artifact_id`) WHERE "artifact_summaries"."parse_error" = 1;--> statement-breakpoint
CREATE TABLE `artifact_test_cases` (
	`artifact_id` integer NOT NULL,
	`ordinal` integer NOT NULL,
	`suite` text NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`duration_ms` real,
	`message` text,
	PRIMARY KEY(`artifact_id`, `ordinal`),
	FOREIGN KEY (`artifact_id`) REFERENCES `artifacts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `artifact_test_cases_failed_idx` ON `artifact_test_cases` (`name`,`artifact_id`) WHERE "artifact_test_cases"."status" = 'failed';--> statement-breakpoint
CREATE TABLE `live_log_chunks` (
	`session` text NOT NULL,
	`seq` integer NOT NULL,
	`offset` integer NOT NULL,
	`size` integer NOT NULL,
	`checksum` text NOT NULL,
	`storage_key` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`session`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `live_logs` (
	`spec_name` text NOT NULL,
	`task_id` text NOT NULL,
	`type` text NOT NULL,
	`session` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`spec_name`, `task_id`, `type`)
);

CREATE TABLE `artifact_series` (
	`spec_name` text NOT NULL,
	`task_id` text NOT NULL,
	`type` text NOT NULL,
	`last_version` integer NOT NULL,
	PRIMARY KEY(`spec_name`, `task_id`, `type`)
);
--> statement-breakpoint
CREATE TABLE `artifact_tags` (
	`artifact_id` integer NOT NULL,
	`tag` text NOT NULL,
	PRIMARY KEY(`artifact_id`, `tag`),
	FOREIGN KEY (`artifact_id`) REFERENCES `artifacts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `artifact_tags_tag_idx` ON `artifact_tags` (`tag`,`artifact_id`);--> statement-breakpoint
CREATE TABLE `artifacts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`spec_name` text NOT NULL,
	`task_id` text NOT NULL,
	`type` text NOT NULL,
	`version` integer NOT NULL,
	`uri` text NOT NULL,
	`storage_key` text NOT NULL,
	`size` integer DEFAULT 0 NOT NULL,
	`checksum` text DEFAULT '' NOT NULL,
	`original_size` integer DEFAULT 0 NOT NULL,
	`original_checksum` text DEFAULT '' NOT NULL,
	`compressed` integer NOT NULL,
	`mime_type` text NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`state` text NOT NULL,
	`integrity` text DEFAULT 'ok' NOT NULL,
	`pinned` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`last_accessed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `artifacts_version_unique` ON `artifacts` (`spec_name`,`task_id`,`type`,`version`);--> statement-breakpoint
CREATE UNIQUE INDEX `artifacts_uri_unique` ON `artifacts` (`uri`);--> statement-breakpoint
CREATE INDEX `artifacts_created_idx` ON `artifacts` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `artifacts_spec_idx` ON `artifacts` (`spec_name`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `artifacts_task_idx` ON `artifacts` (`task_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `artifacts_type_idx` ON `artifacts` (`type`,`created_at`);--> statement-breakpoint
CREATE INDEX `artifacts_expiry_idx` ON `artifacts` (`expires_at`) WHERE "artifacts"."state" = 'committed' AND "artifacts"."pinned" = 0;--> statement-breakpoint
CREATE INDEX `artifacts_state_idx` ON `artifacts` (`state`,`created_at`);--> statement-breakpoint
CREATE TABLE `store_usage` (
	`id` integer PRIMARY KEY NOT NULL,
	`stored_bytes` integer DEFAULT 0 NOT NULL,
	`artifact_count` integer DEFAULT 0 NOT NULL
);

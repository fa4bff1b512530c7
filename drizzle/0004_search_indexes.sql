DROP INDEX `artifacts_created_idx`;--> statement-breakpoint
DROP INDEX `artifacts_spec_idx`;--> statement-breakpoint
DROP INDEX `artifacts_task_idx`;--> statement-breakpoint
DROP INDEX `artifacts_type_idx`;--> statement-breakpoint
DROP INDEX `artifacts_state_idx`;--> statement-breakpoint
CREATE INDEX `artifacts_spec_type_idx` ON `artifacts` (`spec_name`,`type`,`created_at`,`id`) WHERE "artifacts"."state" = 'committed';--> statement-breakpoint
CREATE INDEX `artifacts_created_idx` ON `artifacts` (`created_at`,`id`) WHERE "artifacts"."state" = 'committed';--> statement-breakpoint
CREATE INDEX `artifacts_spec_idx` ON `artifacts` (`spec_name`,`created_at`,`id`) WHERE "artifacts"."state" = 'committed';--> statement-breakpoint
CREATE INDEX `artifacts_task_idx` ON `artifacts` (`task_id`,`created_at`,`id`) WHERE "artifacts"."state" = 'committed';--> statement-breakpoint
CREATE INDEX `artifacts_type_idx` ON `artifacts` (`type`,`created_at`,`id`) WHERE "artifacts"."state" = 'committed';--> statement-breakpoint
CREATE INDEX `artifacts_state_idx` ON `artifacts` (`state`,`created_at`) WHERE "artifacts"."state" <> 'committed';
CREATE TABLE `task_leases` (
	`spec_name` text NOT NULL,
	`task_id` text NOT NULL,
	`owner` text NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`spec_name`, `task_id`)
);

CREATE TABLE `artifact_secrets` (
	`artifact_id` integer PRIMARY KEY NOT NULL,
	`masked` integer NOT NULL,
	`total` integer NOT NULL,
	`rules` text NOT NULL,
	`findings` text NOT NULL,
	FOREIGN KEY (`artifact_id`) REFERENCES `artifacts`(`id`) ON UPDATE no action ON DELETE cascade
);

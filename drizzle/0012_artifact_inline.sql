CREATE TABLE `artifact_inline` (
	`artifact_id` integer PRIMARY KEY NOT NULL,
	`bytes` blob NOT NULL,
	FOREIGN KEY (`artifact_id`) REFERENCES `artifacts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
-- Inline bytes go with their artifact row even where foreign keys are not enforced.
CREATE TRIGGER `artifacts_inline_delete` AFTER DELETE ON `artifacts` BEGIN
  DELETE FROM `artifact_inline` WHERE `artifact_id` = OLD.`id`;
END;

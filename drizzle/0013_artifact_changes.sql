CREATE TABLE `artifact_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`spec_name` text NOT NULL,
	`task_id` text NOT NULL,
	`type` text NOT NULL
);
--> statement-breakpoint
-- Every change to a row of `artifacts` is logged by series (record-cache.ts drops only the series
-- touched). An insert is logged BEFORE the row goes in, so an INSERT … RETURNING sees its own entry.
CREATE TRIGGER `artifacts_changes_insert` BEFORE INSERT ON `artifacts` BEGIN
  INSERT INTO `artifact_changes` (`spec_name`, `task_id`, `type`) VALUES (NEW.`spec_name`, NEW.`task_id`, NEW.`type`);
END;
--> statement-breakpoint
CREATE TRIGGER `artifacts_changes_update` AFTER UPDATE ON `artifacts` BEGIN
  INSERT INTO `artifact_changes` (`spec_name`, `task_id`, `type`) VALUES (NEW.`spec_name`, NEW.`task_id`, NEW.`type`);
  INSERT INTO `artifact_changes` (`spec_name`, `task_id`, `type`) SELECT OLD.`spec_name`, OLD.`task_id`, OLD.`type`
    WHERE OLD.`spec_name` IS NOT NEW.`spec_name` OR OLD.`task_id` IS NOT NEW.`task_id` OR OLD.`type` IS NOT NEW.`type`;
END;
--> statement-breakpoint
CREATE TRIGGER `artifacts_changes_delete` AFTER DELETE ON `artifacts` BEGIN
  INSERT INTO `artifact_changes` (`spec_name`, `task_id`, `type`) VALUES (OLD.`spec_name`, OLD.`task_id`, OLD.`type`);
END;
--> statement-breakpoint
-- The log keeps its last 4,096 entries (up to 5,119 between prunes): a reader further behind starts afresh.
CREATE TRIGGER `artifact_changes_prune` AFTER INSERT ON `artifact_changes` WHEN NEW.`seq` % 1024 = 0 BEGIN
  DELETE FROM `artifact_changes` WHERE `seq` <= NEW.`seq` - 4096;
END;

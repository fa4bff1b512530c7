-- Keeps store_usage equal to the sum of artifacts.size (pending, committed and deleting rows),
-- so a quota check is one row read instead of a table scan.
INSERT INTO `store_usage` (`id`, `stored_bytes`, `artifact_count`) VALUES (1, 0, 0);
--> statement-breakpoint
CREATE TRIGGER `artifacts_usage_insert` AFTER INSERT ON `artifacts` BEGIN
  UPDATE `store_usage` SET `stored_bytes` = `stored_bytes` + NEW.`size`, `artifact_count` = `artifact_count` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `artifacts_usage_update` AFTER UPDATE OF `size` ON `artifacts` BEGIN
  UPDATE `store_usage` SET `stored_bytes` = `stored_bytes` - OLD.`size` + NEW.`size` WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `artifacts_usage_delete` AFTER DELETE ON `artifacts` BEGIN
  UPDATE `store_usage` SET `stored_bytes` = `stored_bytes` - OLD.`size`, `artifact_count` = `artifact_count` - 1 WHERE `id` = 1;
END;

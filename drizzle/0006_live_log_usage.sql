-- Live-log chunks are stored bytes like any upload's: store_usage counts them too, so the
-- quota, stats and the upload reservation see them (artifact_count is about versions, not chunks).
UPDATE `store_usage` SET `stored_bytes` = `stored_bytes` + (SELECT coalesce(sum(`size`), 0) FROM `live_log_chunks`) WHERE `id` = 1;
--> statement-breakpoint
CREATE TRIGGER `live_log_chunks_usage_insert` AFTER INSERT ON `live_log_chunks` BEGIN
  UPDATE `store_usage` SET `stored_bytes` = `stored_bytes` + NEW.`size` WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `live_log_chunks_usage_delete` AFTER DELETE ON `live_log_chunks` BEGIN
  UPDATE `store_usage` SET `stored_bytes` = `stored_bytes` - OLD.`size` WHERE `id` = 1;
END;

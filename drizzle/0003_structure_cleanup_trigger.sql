-- Structure rows go with their artifact row even where foreign keys are not enforced
-- (the ON DELETE CASCADE above covers databases that enforce them; this covers the rest).
CREATE TRIGGER `artifacts_structure_delete` AFTER DELETE ON `artifacts` BEGIN
  DELETE FROM `artifact_summaries` WHERE `artifact_id` = OLD.`id`;
  DELETE FROM `artifact_diff_files` WHERE `artifact_id` = OLD.`id`;
  DELETE FROM `artifact_test_cases` WHERE `artifact_id` = OLD.`id`;
END;

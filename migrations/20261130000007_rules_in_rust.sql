-- The task rules move from triggers into the domain code (shared/src/domain/change.rs),
-- used by every backend: remind_at, completed_at, updated_at, re-arming a reminder whose
-- time moved, the search vector (written by the store from the task's search document) and
-- the reminder queue (kept by the store in the change's transaction). The database keeps
-- the constraints that guarantee integrity and exactly-once: the checks, the unique
-- recurrence_parent_id, the keys.
--
-- Existing rows already hold what the triggers computed, so nothing is rewritten.

drop trigger tasks_before_write on tasks;
drop function tasks_before_write();
drop trigger tasks_reminder_queue on tasks;
drop function tasks_reminder_queue();

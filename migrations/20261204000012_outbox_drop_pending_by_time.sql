-- no-transaction
-- outbox_pending_id (the previous migration) serves the sweep's claim. With no index on
-- next_attempt_at left, the claim's update of it and of attempts can stay on the row's
-- page (a HOT update) instead of adding index entries.
drop index concurrently outbox_pending;

-- The sweep claims the oldest pending rows (`order by id limit n`): an index of the pending
-- rows in that order, as on PostgreSQL (whose planner otherwise walked every published row
-- kept), replacing the one by (next_attempt_at, id).
create index outbox_pending_id on outbox (id) where published_at is null;
drop index outbox_pending;

-- no-transaction
-- The sweep claims the oldest pending rows (`where published_at is null and
-- next_attempt_at <= now() order by id limit n`). With the pending rows indexed only by
-- (next_attempt_at, id), the planner walked the primary key instead, past every published
-- row still kept (OUTBOX_RETENTION of them), on every claim of every tick. Built
-- concurrently (outside a transaction, hence one statement here): every change writes to
-- the outbox, and a plain build would hold those writes until it is done.
create index concurrently outbox_pending_id on outbox (id) where published_at is null;

-- Failed webhook deliveries are retried from here by the retry sweep (PostgreSQL's
-- migration 9 says why), in this schema's encodings: times are microseconds since the Unix
-- epoch. SQLite adds no constraint to an existing table; the code keeps `delivered_at` and
-- `failed_at` exclusive and a payload with every `next_attempt_at`.
alter table webhook_deliveries add column next_attempt_at integer;
alter table webhook_deliveries add column failed_at integer;
alter table webhook_deliveries add column payload text;

-- Pairs left owed by the old scheme have no payload to retry with: they are given up.
update webhook_deliveries
    set failed_at = coalesce(last_attempt_at, cast(unixepoch('subsec') * 1000000 as integer))
    where delivered_at is null;

-- The sweep's claim: the due pairs, earliest first.
create index webhook_deliveries_retry_due on webhook_deliveries (next_attempt_at)
    where next_attempt_at is not null;

-- Failed webhook deliveries are retried from here, on a schedule, by the retry sweep
-- (reminder-tick), no longer by handing the event back to Kafka: a redelivered event held
-- its partition, so one dead endpoint delayed every other user's reminders behind it.
--
-- A pair still owed a delivery has `next_attempt_at` (when the sweep tries again) and
-- `payload` (the event as first sent); both are cleared once it is delivered or given up
-- (`failed_at`, after its last attempt). The schedule is the code's
-- (`webhooks::next_attempt_at`), not the database's.
alter table webhook_deliveries
    add column next_attempt_at timestamptz,
    add column failed_at       timestamptz,
    add column payload         text;

-- Pairs left owed by the old scheme have no payload to retry with: they are given up.
update webhook_deliveries set failed_at = coalesce(last_attempt_at, now())
    where delivered_at is null;

alter table webhook_deliveries
    add constraint webhook_deliveries_one_outcome
        check (delivered_at is null or failed_at is null),
    add constraint webhook_deliveries_retry_has_payload
        check (next_attempt_at is null or payload is not null);

-- The sweep's claim: the due pairs, earliest first.
create index webhook_deliveries_retry_due on webhook_deliveries (next_attempt_at)
    where next_attempt_at is not null;

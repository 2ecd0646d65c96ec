-- Reminders and their delivery (PostgreSQL's migrations 3 and 5).

-- The armed reminders (`Task::armed_reminder`: a time, not sent, the task open), one row
-- per task, kept by the store in the change's transaction. The tick claims a reminder by
-- deleting its row.
create table reminder_queue (
    task_id   blob not null primary key references tasks (id) on delete cascade,
    remind_at integer not null
) strict, without rowid;
create index reminder_queue_due on reminder_queue (remind_at);

-- Where a user's reminders are delivered: a JSON POST signed with HMAC-SHA256 of the body
-- under `secret` (kept to sign; never returned by the API, never logged).
create table webhooks (
    id         blob not null primary key check (length(id) = 16),
    user_id    text not null check (length(user_id) between 1 and 255),
    url        text not null check (length(url) between 1 and 2000),
    secret     text not null check (length(secret) between 16 and 256),
    created_at integer not null,
    constraint webhooks_user_url unique (user_id, url)
) strict;

-- One row per (event, webhook): attempts so far, the last outcome, and delivered_at once an
-- attempt succeeded (after which the pair is never delivered again).
create table webhook_deliveries (
    event_id        blob not null,
    webhook_id      blob not null references webhooks (id) on delete cascade,
    attempts        integer not null default 0,
    last_attempt_at integer,
    last_status     integer,
    last_error      text,
    delivered_at    integer,
    primary key (event_id, webhook_id)
) strict, without rowid;
create index webhook_deliveries_webhook on webhook_deliveries (webhook_id);

-- The event-driven core: a transactional outbox, idempotent consumers and the audit trail
-- (PostgreSQL's migration 2).

-- Events are written here in the same transaction as the change that caused them, one row
-- per topic. A relay publishes them right after commit; a sweep publishes what is left.
-- The store writes next_attempt_at as created_at + 10 s: the inline relay owns a fresh row
-- for that grace period, the sweep takes it after.
create table outbox (
    id              integer primary key autoincrement,
    event_id        blob not null check (length(event_id) = 16),
    topic           text not null check (length(topic) between 1 and 200),
    partition_key   text not null,
    payload         text not null check (json_valid(payload)),
    created_at      integer not null,
    next_attempt_at integer not null,
    attempts        integer not null default 0,
    last_error      text,
    published_at    integer,
    constraint outbox_event_topic unique (event_id, topic)
) strict;
create index outbox_pending on outbox (next_attempt_at, id) where published_at is null;
create index outbox_published on outbox (published_at) where published_at is not null;

-- (consumer, event_id) recorded in the same transaction as the consumer's effect.
create table processed_events (
    consumer     text not null,
    event_id     blob not null,
    processed_at integer not null,
    primary key (consumer, event_id)
) strict, without rowid;

create table audit_log (
    id          integer primary key autoincrement,
    event_id    blob not null unique,
    event_type  text not null,
    user_id     text not null,
    task_id     blob not null,
    occurred_at integer not null,
    payload     text not null check (json_valid(payload)),
    recorded_at integer not null
) strict;
create index audit_log_task on audit_log (user_id, task_id, occurred_at, id);

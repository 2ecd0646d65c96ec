-- The event-driven core: a transactional outbox, idempotent consumers and the audit trail.

-- Events are written here in the same transaction as the change that caused them, one row
-- per topic. A relay publishes them right after commit; a sweep publishes what is left.
create table outbox (
    id              bigint generated always as identity primary key,
    event_id        uuid not null,
    topic           text not null check (length(topic) between 1 and 200),
    partition_key   text not null,
    payload         jsonb not null,
    created_at      timestamptz not null default now(),
    -- The inline relay owns a fresh row for a grace period; the sweep takes it after that.
    next_attempt_at timestamptz not null default now() + interval '10 seconds',
    attempts        integer not null default 0,
    last_error      text,
    published_at    timestamptz,
    constraint outbox_event_topic unique (event_id, topic)
);
create index outbox_pending on outbox (next_attempt_at, id) where published_at is null;
create index outbox_published on outbox (published_at) where published_at is not null;

-- (consumer, event_id) recorded in the same transaction as the consumer's effect.
create table processed_events (
    consumer     text not null,
    event_id     uuid not null,
    processed_at timestamptz not null default now(),
    primary key (consumer, event_id)
);

create table audit_log (
    id          bigint generated always as identity primary key,
    event_id    uuid not null unique,
    event_type  text not null,
    user_id     text not null,
    task_id     uuid not null,
    occurred_at timestamptz not null,
    payload     jsonb not null,
    recorded_at timestamptz not null default now()
);
create index audit_log_task on audit_log (user_id, task_id, occurred_at, id);

-- The start of a recurring series: occurrences are computed from it, so a monthly task
-- on the 31st that moved to the 30th returns to the 31st, and COUNT counts the series.
-- Null on the first task of a series (its own due date, or completion time, is the start).
alter table tasks add column recurrence_anchor timestamptz;

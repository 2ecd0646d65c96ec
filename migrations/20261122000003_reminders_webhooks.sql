-- Reminders and their delivery: the users' webhooks and the delivery log.

-- Marking a reminder sent is bookkeeping, not a change of the task: updated_at moves only
-- when something the user sees changes.
create or replace function tasks_before_write() returns trigger language plpgsql as $$
begin
    new.remind_at := new.due_at - make_interval(mins => new.reminder_minutes);
    if tg_op = 'INSERT' then
        new.completed_at := case when new.completed then now() end;
    else
        if new.completed is distinct from old.completed then
            new.completed_at := case when new.completed then now() end;
        end if;
        if new.remind_at is distinct from old.remind_at then
            new.reminder_sent_at := null;
        end if;
    end if;
    if tg_op = 'INSERT' or new.title is distinct from old.title
            or new.description is distinct from old.description or new.tags is distinct from old.tags then
        new.search :=
            setweight(to_tsvector('english', new.title), 'A') ||
            setweight(to_tsvector('english', array_to_string(new.tags, ' ')), 'B') ||
            setweight(to_tsvector('english', new.description), 'C');
    end if;
    if tg_op = 'UPDATE' and (new.title, new.description, new.completed, new.priority, new.tags,
            new.due_at, new.reminder_minutes, new.recurrence, new.timezone)
            is distinct from (old.title, old.description, old.completed, old.priority, old.tags,
            old.due_at, old.reminder_minutes, old.recurrence, old.timezone) then
        new.updated_at := now();
    end if;
    return new;
end
$$;

-- Where a user's reminders are delivered: a JSON POST signed with HMAC-SHA256 of the body
-- under `secret` (kept to sign; never returned by the API, never logged).
create table webhooks (
    id         uuid primary key,
    user_id    text not null check (length(user_id) between 1 and 255),
    url        text not null check (length(url) between 1 and 2000),
    secret     text not null check (length(secret) between 16 and 256),
    created_at timestamptz not null default now(),
    constraint webhooks_user_url unique (user_id, url)
);

-- One row per (event, webhook): attempts so far, the last outcome, and delivered_at once an
-- attempt succeeded (after which the pair is never delivered again).
create table webhook_deliveries (
    event_id        uuid not null,
    webhook_id      uuid not null references webhooks (id) on delete cascade,
    attempts        integer not null default 0,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    primary key (event_id, webhook_id)
);
create index webhook_deliveries_webhook on webhook_deliveries (webhook_id);

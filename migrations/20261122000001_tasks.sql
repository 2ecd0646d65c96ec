-- Tasks, tags and their link table. Every row belongs to one user (the JWT subject);
-- every query the application runs is scoped by user_id.

create table tasks (
    id                   uuid primary key,
    user_id              text not null check (length(user_id) between 1 and 255),
    title                text not null check (length(title) between 1 and 500),
    description          text not null default '' check (length(description) <= 10000),
    completed            boolean not null default false,
    completed_at         timestamptz,
    priority             smallint not null default 3 check (priority between 1 and 4),
    -- Tag names (lower-case) as kept in task_tags: a read-side copy so that filtering,
    -- search and the task JSON need no join. Written only by the store's tag code.
    tags                 text[] not null default '{}' check (cardinality(tags) <= 20),
    due_at               timestamptz,
    reminder_minutes     integer check (reminder_minutes between 0 and 525600),
    remind_at            timestamptz,
    reminder_sent_at     timestamptz,
    recurrence           text check (length(recurrence) between 1 and 500),
    timezone             text not null default 'UTC' check (length(timezone) between 1 and 64),
    -- One next occurrence per parent: the unique constraint is what makes duplicate
    -- and concurrent deliveries of a completion create exactly one child.
    recurrence_parent_id uuid unique,
    recurrence_depth     integer not null default 0 check (recurrence_depth between 0 and 1000),
    search               tsvector not null default ''::tsvector,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    constraint tasks_completed_at_matches check (completed = (completed_at is not null)),
    constraint tasks_reminder_needs_due check (reminder_minutes is null or due_at is not null)
);

-- Derived columns are kept by the database so no writer can forget them:
-- the search vector, updated_at, completed_at, and remind_at (due_at - reminder_minutes).
-- A reminder whose time changes is re-armed (reminder_sent_at cleared).
create function tasks_before_write() returns trigger language plpgsql as $$
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
    if tg_op = 'UPDATE' then
        new.updated_at := now();
    end if;
    return new;
end
$$;

create trigger tasks_before_write
    before insert or update on tasks
    for each row execute function tasks_before_write();

-- List: one index per sort key, each led by user_id and ending in id (the tie-break).
create index tasks_user_created on tasks (user_id, created_at, id);
create index tasks_user_updated on tasks (user_id, updated_at, id);
create index tasks_user_due on tasks (user_id, due_at, id);
create index tasks_user_due_desc on tasks (user_id, due_at desc nulls last, id desc);
create index tasks_user_priority on tasks (user_id, priority, id);
create index tasks_user_title on tasks (user_id, lower(title), id);
create index tasks_search on tasks using gin (search);
create index tasks_tags on tasks using gin (tags);
-- Reminder scan: only armed reminders of open tasks.
create index tasks_reminders_due on tasks (remind_at)
    where remind_at is not null and reminder_sent_at is null and not completed;

create table tags (
    id         bigint generated always as identity primary key,
    user_id    text not null check (length(user_id) between 1 and 255),
    name       text not null check (length(name) between 1 and 50 and name = lower(name)),
    created_at timestamptz not null default now(),
    constraint tags_user_name unique (user_id, name)
);

create table task_tags (
    task_id uuid not null references tasks (id) on delete cascade,
    tag_id  bigint not null references tags (id) on delete cascade,
    primary key (task_id, tag_id)
);
create index task_tags_tag on task_tags (tag_id);

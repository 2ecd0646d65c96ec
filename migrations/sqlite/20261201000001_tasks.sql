-- The embedded SQLite schema: PostgreSQL's (migrations/*.sql, as of migration 7) table for
-- table, with the same keys and checks. No trigger computes anything: the store writes every
-- value, the derived ones from the domain's rules (shared/src/domain/change.rs).
--
-- Encodings (shared/src/store/sqlite/mod.rs): a timestamp is an INTEGER of microseconds
-- since the Unix epoch, so it orders, compares and reads back exactly; a UUID is its 16
-- bytes as a BLOB, which order as PostgreSQL orders uuids; booleans are 0 or 1; JSON is
-- TEXT. Tables are STRICT: a value of another type is refused, not stored.

create table tasks (
    -- The row's stable key, and the rowid of its entry in tasks_fts. The API's id is `id`.
    seq                  integer primary key,
    id                   blob not null unique check (length(id) = 16),
    user_id              text not null check (length(user_id) between 1 and 255),
    title                text not null check (length(title) between 1 and 500),
    -- The title sort's key: the title lower-cased as PostgreSQL's lower() does it (every
    -- character, not only ASCII as SQLite's lower()), written by the store.
    title_key            text not null,
    description          text not null default '' check (length(description) <= 10000),
    completed            integer not null default 0 check (completed in (0, 1)),
    completed_at         integer,
    priority             integer not null default 3 check (priority between 1 and 4),
    -- Tag names (lower-case) as kept in task_tags, as a JSON array: a read-side copy so the
    -- task reads back without a join. Written only by the store's tag code.
    tags                 text not null default '[]'
                         check (json_valid(tags) and json_type(tags) = 'array'
                                and json_array_length(tags) <= 20),
    due_at               integer,
    reminder_minutes     integer check (reminder_minutes between 0 and 525600),
    remind_at            integer,
    reminder_sent_at     integer,
    recurrence           text check (length(recurrence) between 1 and 500),
    timezone             text not null default 'UTC' check (length(timezone) between 1 and 64),
    -- One next occurrence per parent: the unique constraint is what makes duplicate and
    -- concurrent deliveries of a completion create exactly one child.
    recurrence_parent_id blob unique check (length(recurrence_parent_id) = 16),
    recurrence_depth     integer not null default 0 check (recurrence_depth between 0 and 1000),
    recurrence_anchor    integer,
    created_at           integer not null,
    updated_at           integer not null,
    constraint tasks_completed_at_matches check (completed = (completed_at is not null)),
    constraint tasks_reminder_needs_due check (reminder_minutes is null or due_at is not null)
) strict;

-- List: one index per sort, each led by user_id and ending in id (the tie-break). A due
-- date sorts nulls last both ways: descending, a backward scan of tasks_user_due puts them
-- last; ascending, tasks_user_due_nulls_last sorts on `due_at is null` first.
create index tasks_user_created on tasks (user_id, created_at, id);
create index tasks_user_updated on tasks (user_id, updated_at, id);
create index tasks_user_due on tasks (user_id, due_at, id);
create index tasks_user_due_nulls_last on tasks (user_id, due_at is null, due_at, id);
create index tasks_user_priority on tasks (user_id, priority, id);
create index tasks_user_title on tasks (user_id, title_key, id);

-- The search index: one row per task (rowid = tasks.seq) holding its search document
-- (`Task::search_document`: title, tags, description) as one text, written by the store in
-- the change's transaction. One text, as PostgreSQL concatenates the three into one
-- tsvector: a quoted phrase may run from the end of one into the start of the next.
-- English stemming (porter); letters keep their accents, as in PostgreSQL's 'english'.
create virtual table tasks_fts using fts5 (
    document,
    tokenize = 'porter unicode61 remove_diacritics 0'
);

create table tags (
    id         integer primary key autoincrement,
    user_id    text not null check (length(user_id) between 1 and 255),
    name       text not null check (length(name) between 1 and 50 and name = lower(name)),
    created_at integer not null,
    constraint tags_user_name unique (user_id, name)
) strict;

create table task_tags (
    task_id blob not null references tasks (id) on delete cascade,
    tag_id  integer not null references tags (id) on delete cascade,
    primary key (task_id, tag_id)
) strict, without rowid;
create index task_tags_tag on task_tags (tag_id);

-- Search and tag lookups keyed by (user, word) instead of user AND word.
--
-- Migration 4's btree_gin indexes keep user_id and the words as separate GIN keys, so a
-- heavy user's search intersects the posting list of all their rows (100,000 in the
-- benchmark) with the word's posting list over all users: 5-17 ms per lookup whatever the
-- word. Here every lexeme and tag is prefixed with a key of its user, so the index has one
-- posting list per (user, word) holding exactly the rows a lookup wants (docs/BENCHMARKS.md,
-- "user-keyed search").
--
-- The key is 48 bits of md5(user_id) (md5 is stable across versions, unlike hashtext). A
-- collision between two users only widens the index's candidates: every query keeps
-- `user_id = $1` beside these conditions.

-- The prefix every keyed word of a user starts with.
create function task_user_key(user_id text) returns text
    language sql immutable strict parallel safe
    return left(md5(user_id), 12) || ':';

-- Prefixes every quoted lexeme in the text form of a tsvector or a tsquery (both quote
-- every lexeme and write a quote inside one as '') with the user's key.
create function task_user_keyed(user_id text, body text) returns text
    language sql immutable strict parallel safe
    return regexp_replace(body, '''((?:[^'']|'''')*)''',
                          '''' || task_user_key(user_id) || '\1''', 'g');

-- A websearch query in the key space of `tasks.search` (for `search @@ ...`).
create function task_user_query(user_id text, query tsquery) returns tsquery
    language sql immutable strict parallel safe
    return task_user_keyed(user_id, query::text)::tsquery;

-- The task's tag names in a key space of their own (for the tag index).
create function task_user_tags(user_id text, tags text[]) returns text[]
    language sql immutable strict parallel safe
    return array(select task_user_key(user_id) || tag from unnest(tags) as tag);

-- `search` now holds the keyed lexemes (with their positions and weights, so phrases and
-- the exact match work on it directly). Only the list's search reads it.
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
    if tg_op = 'INSERT' or new.title is distinct from old.title or new.user_id is distinct from old.user_id
            or new.description is distinct from old.description or new.tags is distinct from old.tags then
        new.search := task_user_keyed(new.user_id, (
            setweight(to_tsvector('english', new.title), 'A') ||
            setweight(to_tsvector('english', array_to_string(new.tags, ' ')), 'B') ||
            setweight(to_tsvector('english', new.description), 'C'))::text)::tsvector;
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

-- Existing rows: key their vectors (the trigger leaves `search` alone when no text changes,
-- and updated_at does not move).
drop index tasks_user_search;
update tasks set search = task_user_keyed(user_id, search::text)::tsvector;
create index tasks_search_keyed on tasks using gin (search);

create index tasks_tags_keyed on tasks using gin (task_user_tags(user_id, tags));
drop index tasks_user_tags;

-- Counting (the list's capped total) without visiting the table: status, priority and
-- due-date filters are all answered from this index. It replaces the priority sort index,
-- whose key it keeps.
create index tasks_user_priority_covering on tasks (user_id, priority, id) include (completed, due_at);
drop index tasks_user_priority;

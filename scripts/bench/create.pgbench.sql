-- The create transaction of POST /api/{user_id}/tasks, for the pgbench ceiling: the
-- statements PgStore::create_task runs (insert_task_announced in
-- shared/src/store/postgres/tasks.rs):
--   begin; set local plan_cache_mode = force_generic_plan; one statement inserting the task,
--   the user's new tags, the task's tag links and its outbox rows (one per topic:
--   task-events, task-updates), answering those rows (data-modifying CTEs); commit;
-- Same users (user-00001 .. user-00100), tag sets and marker description as create.lua, so
-- both write the same rows to the same indexes. Differences, all small: the event id is the
-- task id (pgbench cannot make a uuid client-side; it is unique all the same), the event
-- payload is built by jsonb_build_object from the returned row instead of bound as JSON,
-- and the task is one row of values, not unnested from arrays (no reminder either: the
-- bodies have none).
-- Run with -M prepared: sqlx prepares and caches every statement per connection too (and
-- :var is only a bind parameter in prepared/extended mode; -M simple would paste it unquoted).
\set u random(1, 100)
\set p random(1, 4)
\set d random(-86400, 5184000)
\set k random(1, 6)
begin;
set local plan_cache_mode = force_generic_plan;
with t as (
    insert into tasks (id, user_id, title, description, priority, tags, due_at,
                       reminder_minutes, recurrence, timezone, recurrence_parent_id, recurrence_depth,
                       recurrence_anchor, created_at, updated_at, search)
    values (gen_random_uuid(), 'user-' || lpad(:u::text, 5, '0'), 'Load test task ' || :u || ' ' || :d,
            'created by scripts/bench', :p,
            (array['{work}', '{errands,home}', '{home,shopping,work}', '{finance}', '{family,kids}', '{health}'])[:k]::text[],
            date_trunc('second', now()) + :d * interval '1 second', null, null, 'UTC', null, 0, null,
            now(), now(),
            task_user_keyed('user-' || lpad(:u::text, 5, '0'), (
                setweight(to_tsvector('english', 'Load test task ' || :u || ' ' || :d), 'A') ||
                setweight(to_tsvector('english', array_to_string((array['{work}', '{errands,home}',
                    '{home,shopping,work}', '{finance}', '{family,kids}', '{health}'])[:k]::text[], ' ')), 'B') ||
                setweight(to_tsvector('english', 'created by scripts/bench'), 'C'))::text)::tsvector)
    on conflict (recurrence_parent_id) do nothing
    returning id, user_id, title, description, completed, completed_at, priority, tags,
        due_at, reminder_minutes, remind_at, reminder_sent_at, recurrence, timezone,
        recurrence_parent_id, recurrence_depth, recurrence_anchor, created_at, updated_at),
named as (select t.id, t.user_id, name from t, unnest(t.tags) as name),
known as (
    select distinct g.id, g.user_id, g.name from named,
        lateral (select id, user_id, name from tags
                 where user_id = named.user_id and name = named.name) g),
made as (
    insert into tags (user_id, name)
    select distinct user_id, name from named
    where (user_id, name) not in (select user_id, name from known)
    order by user_id, name
    on conflict (user_id, name) do update set name = excluded.name
    returning id, user_id, name),
linked as (
    insert into task_tags (task_id, tag_id)
    select named.id, g.id from named
    join (select * from known union all select * from made) g
      on g.user_id = named.user_id and g.name = named.name),
announced as (
    insert into outbox (event_id, topic, partition_key, payload)
    select t.id, topics.topic, t.user_id, jsonb_build_object(
            'event_id', t.id::text, 'event_type', 'task.created', 'schema_version', '1.0',
            'user_id', t.user_id, 'task_id', t.id::text, 'occurred_at', now(),
            'task', jsonb_build_object(
                'id', t.id::text, 'user_id', t.user_id, 'title', t.title,
                'description', t.description, 'completed', false, 'completed_at', null,
                'priority', 'P' || t.priority, 'tags', to_jsonb(t.tags),
                'due_at', t.due_at, 'reminder_minutes', null, 'remind_at', null,
                'reminder_sent_at', null, 'recurrence', null, 'timezone', t.timezone,
                'recurrence_parent_id', null, 'recurrence_depth', 0, 'recurrence_anchor', null,
                'created_at', t.created_at, 'updated_at', t.updated_at))
    from t, unnest(array['task-events', 'task-updates']) with ordinality as topics(topic, n)
    order by topics.n
    returning id, event_id, topic, partition_key, payload)
select id, event_id, topic, partition_key, payload from announced;
commit;

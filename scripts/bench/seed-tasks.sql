-- Seeds tasks number :lo .. :hi (of 1,000,000) in one set-based insert. Run by api.sh in
-- chunks so progress shows; psql variables: lo, hi, vocab (comma-separated words, most
-- frequent first), tags (comma-separated tag names, lower-case).
--
-- Every 10th task belongs to the heavy user `bench-user` (100,000 in all), the others go
-- round-robin to 9,000 users `user-00001` .. `user-09000` (100 each). Interleaved on purpose:
-- a heavy user's rows are spread over the whole table, as they would be after years of
-- writes by everyone, not packed into a few pages.
--
-- Text: titles of 2-6 words and descriptions of 0-12 words drawn from the vocabulary with
-- a skewed distribution (word rank r is drawn with probability ~ 1/sqrt(r)), so search terms
-- range from ~50% of a user's tasks (the first words) to ~2% (the last ones).
-- The derived columns are written here as the store writes them from the domain's rules
-- (shared/src/domain/change.rs: remind_at = due_at - reminder_minutes, completed_at, and
-- the search vector of store/postgres/tasks.rs); seed-finish.sql queues the armed reminders.
\set ON_ERROR_STOP on

insert into tasks (id, user_id, title, description, completed, completed_at, priority, tags,
                   due_at, reminder_minutes, remind_at, reminder_sent_at, created_at,
                   updated_at, search)
select gen_random_uuid(),
       s.user_id,
       upper(left(s.title, 1)) || substr(s.title, 2),
       s.description,
       s.r_done < 0.3,
       case when s.r_done < 0.3 then s.created_at + (now() - s.created_at) * s.r_upd end,
       case when s.r_prio < 0.10 then 1 when s.r_prio < 0.35 then 2 when s.r_prio < 0.80 then 3 else 4 end,
       s.tags,
       s.due_at,
       case when s.due_at is not null then s.rem end,  -- a reminder needs a due date
       s.due_at - make_interval(mins => s.rem),
       -- reminders whose time has passed were sent back then (a fresh server must not
       -- fire tens of thousands of them on its first tick)
       case when s.due_at - make_interval(mins => s.rem) < now() then s.due_at - make_interval(mins => s.rem) end,
       s.created_at,
       s.created_at + (now() - s.created_at) * s.r_upd,
       task_user_keyed(s.user_id, (
           setweight(to_tsvector('english', upper(left(s.title, 1)) || substr(s.title, 2)), 'A') ||
           setweight(to_tsvector('english', array_to_string(s.tags, ' ')), 'B') ||
           setweight(to_tsvector('english', s.description), 'C'))::text)::tsvector
from (
    select g,
           case when g % 10 = 0 then 'bench-user'
                else 'user-' || lpad(((g - 1 - g / 10) % 9000 + 1)::text, 5, '0') end as user_id,
           -- 2..6 words; the subquery mentions g so it is evaluated per row.
           array_to_string(array(
               select v.words[1 + floor(v.n * random() ^ 2)::int]
               from generate_series(1, 2 + (g * 7) % 5)
           ), ' ') as title,
           case when g % 4 = 0 then ''
                else array_to_string(array(
                    select v.words[1 + floor(v.n * random() ^ 2)::int]
                    from generate_series(1, 1 + (g * 11) % 12)
                ), ' ')
           end as description,
           -- 0..3 distinct tags, sorted (as the store writes them), mildly skewed.
           array(
               select distinct v.tagnames[1 + floor(cardinality(v.tagnames) * random() ^ 1.5)::int] as t
               from generate_series(1, (g * 13) % 4)
               order by t
           ) as tags,
           case when random() < 0.15 then null
                else date_trunc('minute', now() + (random() * 120 - 60) * interval '1 day') end as due_at,
           case when random() < 0.10 then (array[10, 30, 60, 1440])[1 + (g % 4)] end as rem,
           now() - random() * interval '180 days' as created_at,
           random() as r_done, random() as r_prio, random() as r_upd
    from generate_series(:lo, :hi) as g,
         (select string_to_array(:'vocab', ',') as words,
                 cardinality(string_to_array(:'vocab', ',')) as n,
                 string_to_array(:'tags', ',') as tagnames) as v
) as s;

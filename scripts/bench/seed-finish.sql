-- After the tasks: the tags / task_tags tables, consistent with tasks.tags (every name in a
-- task's tags array has a row in tags for that user and a link in task_tags), then
-- statistics for the planner.
\set ON_ERROR_STOP on

insert into tags (user_id, name)
select distinct t.user_id, n.name
from tasks t cross join unnest(t.tags) as n(name)
order by 1, 2
on conflict (user_id, name) do nothing;

insert into task_tags (task_id, tag_id)
select t.id, g.id
from tasks t
cross join unnest(t.tags) as n(name)
join tags g on g.user_id = t.user_id and g.name = n.name
on conflict do nothing;

-- The armed reminders (Task::armed_reminder), as the store queues them.
insert into reminder_queue (task_id, remind_at)
select id, remind_at from tasks
where remind_at is not null and reminder_sent_at is null and not completed
on conflict (task_id) do nothing;

vacuum analyze tasks;
vacuum analyze tags;
vacuum analyze task_tags;

-- Due reminders as a narrow queue beside tasks.
--
-- Claiming a reminder used to update tasks.reminder_sent_at, a column in the predicate of
-- the partial index the tick scans; that made every claim a non-HOT update that adds an
-- entry to each of the table's ten indexes (docs/BENCHMARKS.md, "reminder tick"). Now the
-- armed reminders (remind_at set, not sent, task open) are rows of reminder_queue, kept by
-- a trigger; a claim deletes queue rows (skip locked) and sets reminder_sent_at, which no
-- index of tasks mentions any more, so with free space on the page the update is HOT.

create table reminder_queue (
    task_id   uuid primary key references tasks (id) on delete cascade,
    remind_at timestamptz not null
);
create index reminder_queue_due on reminder_queue (remind_at);

insert into reminder_queue (task_id, remind_at)
    select id, remind_at from tasks
    where remind_at is not null and reminder_sent_at is null and not completed;

drop index tasks_reminders_due;

-- Room on each page for an updated row version, so updates that touch no indexed column
-- (marking a reminder sent) stay on the page without new index entries.
alter table tasks set (fillfactor = 85);

create function tasks_reminder_queue() returns trigger language plpgsql as $$
declare
    armed boolean := new.remind_at is not null and new.reminder_sent_at is null and not new.completed;
    was_armed boolean := tg_op = 'UPDATE' and old.remind_at is not null
        and old.reminder_sent_at is null and not old.completed;
begin
    if armed and (not was_armed or new.remind_at is distinct from old.remind_at) then
        insert into reminder_queue (task_id, remind_at) values (new.id, new.remind_at)
            on conflict (task_id) do update set remind_at = excluded.remind_at;
    elsif was_armed and not armed then
        delete from reminder_queue where task_id = new.id;
    end if;
    return null;
end
$$;

create trigger tasks_reminder_queue
    after insert or update on tasks
    for each row execute function tasks_reminder_queue();

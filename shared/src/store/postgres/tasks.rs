//! Writing tasks: each change stores the task the domain computed (`domain::change`), keeps
//! its tags, search vector and reminder queue row in step with it, and writes the events the
//! caller's `announce` builds, all in one transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::outbox::{bind_outbox, insert_outbox, outbox_insert, outbox_messages};
use super::{classify, tag_names, task_from_row, PgStore, MIGRATOR, TASK_COLUMNS};
use crate::domain::{ListQuery, Page, SearchDocument, Task, TaskChange};
use crate::store::{
    Announce, Changed, Modify, OutboxMessage, OutboxRecord, StoreError, TagCount, TaskStore,
};

#[async_trait]
impl TaskStore for PgStore {
    #[tracing::instrument(skip_all, fields(user_id = %task.user_id))]
    async fn create_task(
        &self,
        task: &Task,
        announce: Announce<'_>,
    ) -> Result<Changed<Task>, StoreError> {
        let mut tx = self.begin_generic().await?;
        let records = announce(TaskChange::Created(task));
        let Some(outbox) = insert_task_announced(&mut tx, task, &records).await? else {
            return Err(StoreError::Conflict(
                "this occurrence of the series exists already".into(),
            ));
        };
        tx.commit().await.map_err(classify)?;
        Ok(Changed {
            value: task.clone(),
            outbox,
        })
    }

    #[tracing::instrument(skip_all, fields(consumer, items = items.len()))]
    async fn create_tasks_once(
        &self,
        consumer: &str,
        items: &[(Uuid, Task)],
        announce: Announce<'_>,
    ) -> Result<Changed<Vec<bool>>, StoreError> {
        let mut tx = self.begin_generic().await?;
        // All the batch's event ids in one statement, in key order, so two deliveries that
        // share events lock them in one order (no deadlock): a concurrent delivery of the
        // same event waits here on the primary key, then sees it processed.
        let ids: Vec<Uuid> = items.iter().map(|(event_id, _)| *event_id).collect();
        let mut fresh: HashSet<Uuid> = sqlx::query_scalar(
            "insert into processed_events (consumer, event_id) \
             select $1, e from unnest($2::uuid[]) as e order by e \
             on conflict do nothing returning event_id",
        )
        .bind(consumer)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(classify)?
        .into_iter()
        .collect();
        // Each event's task, the first time the event is seen; a task is not inserted when
        // its parent already has its next occurrence (an earlier completion made it).
        let first_seen: Vec<&Task> = items
            .iter()
            .filter(|(event_id, _)| fresh.remove(event_id))
            .map(|(_, task)| task)
            .collect();
        let inserted = insert_tasks(&mut tx, &first_seen).await?;
        let mut created = Vec::with_capacity(items.len());
        let mut records = Vec::new();
        for (_, task) in items {
            let made = inserted.contains(&task.id);
            if made {
                records.extend(announce(TaskChange::Created(task)));
            }
            created.push(made);
        }
        let outbox = insert_outbox(&mut tx, &records).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Changed {
            value: created,
            outbox,
        })
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn get_task(&self, user_id: &str, id: Uuid) -> Result<Option<Task>, StoreError> {
        sqlx::query(&format!(
            "select {TASK_COLUMNS} from tasks where user_id = $1 and id = $2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?
        .as_ref()
        .map(task_from_row)
        .transpose()
    }

    async fn list_tasks(&self, user_id: &str, query: &ListQuery) -> Result<Page<Task>, StoreError> {
        self.list(user_id, query).await
    }

    async fn list_tags(&self, user_id: &str) -> Result<Vec<TagCount>, StoreError> {
        self.tags(user_id).await
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn modify_task(
        &self,
        user_id: &str,
        id: Uuid,
        modify: Modify<'_>,
        announce: Announce<'_>,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query(&format!(
            "select {TASK_COLUMNS} from tasks where user_id = $1 and id = $2 for update"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?
        else {
            return Ok(None);
        };
        let before = task_from_row(&row)?;
        let Some(after) = modify(&before)? else {
            // Nothing changes: nothing to write, no event.
            tx.rollback().await.map_err(classify)?;
            return Ok(Some(Changed {
                value: before,
                outbox: Vec::new(),
            }));
        };
        update_task(&mut tx, &before, &after).await?;
        let change = TaskChange::Updated {
            before: &before,
            after: &after,
        };
        let outbox = insert_outbox(&mut tx, &announce(change)).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Some(Changed {
            value: after,
            outbox,
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn delete_task(
        &self,
        user_id: &str,
        id: Uuid,
        announce: Announce<'_>,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        let mut tx = self.begin().await?;
        // Its tag links and reminder queue row go with it (on delete cascade).
        let row = sqlx::query(&format!(
            "delete from tasks where user_id = $1 and id = $2 returning {TASK_COLUMNS}"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let Some(row) = row else { return Ok(None) };
        let task = task_from_row(&row)?;
        let outbox = insert_outbox(&mut tx, &announce(TaskChange::Deleted(&task))).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Some(Changed {
            value: task,
            outbox,
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    fn pool_status(&self) -> crate::store::PoolStatus {
        crate::store::PoolStatus {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(e.into()))
    }
}

/// The search vector of a task, from its search document (`Task::search_document`): the
/// SQL expressions of its user id, title, tags and description; English stemming, weights
/// A, B, C, and every lexeme keyed by its user (migration 6).
fn search_vector(user: &str, title: &str, tags: &str, description: &str) -> String {
    format!(
        "task_user_keyed({user}, (setweight(to_tsvector('english', {title}), 'A') || \
         setweight(to_tsvector('english', {tags}), 'B') || \
         setweight(to_tsvector('english', {description}), 'C'))::text)::tsvector"
    )
}

/// Inserts `tasks` in one statement, with their tags (the user's tags made on first use,
/// and the links), search vectors and reminder queue rows, and answers the ids of those
/// inserted: not those whose `recurrence_parent_id` has its occurrence already (an earlier
/// row of the same batch included). One statement rather than one per task and table,
/// because each statement opens and sets up every index of the table (expression indexes
/// included), which cost more than the rows themselves, and each is a round trip.
///
/// A tag another transaction creates meanwhile is not among those the statement's snapshot
/// finds; inserting it then meets the other's row, and `do update` answers that row's id
/// (a no-op write, only in that race). New names are inserted sorted, so concurrent
/// statements take the unique-index locks in one order and cannot deadlock.
async fn insert_tasks(
    tx: &mut Transaction<'static, Postgres>,
    tasks: &[&Task],
) -> Result<HashSet<Uuid>, StoreError> {
    if tasks.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = Columns::of(tasks)
        .bind(sqlx::query(&insert_tasks_sql("select id from t")))
        .fetch_all(&mut **tx)
        .await
        .map_err(classify)?;
    rows.iter()
        .map(|row| row.try_get("id").map_err(classify))
        .collect()
}

/// Inserts `task` as [`insert_tasks`] does and, in the same statement, writes `records` to
/// the outbox if it was inserted: its outbox rows, or `None` when the task was not
/// inserted (its series has this occurrence already). One statement, so one round trip.
async fn insert_task_announced(
    tx: &mut Transaction<'static, Postgres>,
    task: &Task,
    records: &[OutboxRecord],
) -> Result<Option<Vec<OutboxMessage>>, StoreError> {
    if records.is_empty() {
        let inserted = insert_tasks(tx, &[task]).await?;
        return Ok(inserted.contains(&task.id).then(Vec::new));
    }
    let tasks = [task];
    let columns = Columns::of(&tasks);
    let sql = insert_tasks_sql(&format!(
        ", announced as ({}) select * from announced",
        outbox_insert(Columns::COUNT + 1, "exists (select from t)")
    ));
    let rows = bind_outbox(columns.bind(sqlx::query(&sql)), records)
        .fetch_all(&mut **tx)
        .await
        .map_err(classify)?;
    (!rows.is_empty())
        .then(|| outbox_messages(&rows))
        .transpose()
}

/// The statement of [`insert_tasks`], up to its last part: `tail` (the final select, or
/// more parts and then it). Its parameters are the [`Columns`], `$1` to `$23`.
fn insert_tasks_sql(tail: &str) -> String {
    format!(
        "with r as ( \
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[], \
                     $6::timestamptz[], $7::int2[], $8::text[], $9::timestamptz[], $10::int4[], \
                     $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[], \
                     $15::uuid[], $16::int4[], $17::timestamptz[], $18::timestamptz[], \
                     $19::timestamptz[], $20::text[], $21::text[], $22::text[], \
                     $23::timestamptz[]) \
                 with ordinality as r(id, user_id, title, description, completed, completed_at, \
                     priority, tags, due_at, reminder_minutes, remind_at, reminder_sent_at, \
                     recurrence, timezone, recurrence_parent_id, recurrence_depth, \
                     recurrence_anchor, created_at, updated_at, search_title, search_tags, \
                     search_description, armed, n)), \
         t as ( \
             insert into tasks ({TASK_COLUMNS}, search) \
             select r.id, r.user_id, r.title, r.description, r.completed, r.completed_at, \
                    r.priority, \
                    array(select t from jsonb_array_elements_text(r.tags::jsonb) \
                          with ordinality as a(t, n) order by n), \
                    r.due_at, r.reminder_minutes, r.remind_at, r.reminder_sent_at, r.recurrence, \
                    r.timezone, r.recurrence_parent_id, r.recurrence_depth, r.recurrence_anchor, \
                    r.created_at, r.updated_at, {search} \
             from r order by r.n \
             on conflict (recurrence_parent_id) do nothing \
             returning id, user_id, tags), \
         named as (select t.id, t.user_id, name from t, unnest(t.tags) as name), \
         known as ( \
             select distinct g.id, g.user_id, g.name from named, \
                 lateral (select id, user_id, name from tags \
                          where user_id = named.user_id and name = named.name) g), \
         made as ( \
             insert into tags (user_id, name) \
             select distinct user_id, name from named \
             where (user_id, name) not in (select user_id, name from known) \
             order by user_id, name \
             on conflict (user_id, name) do update set name = excluded.name \
             returning id, user_id, name), \
         linked as ( \
             insert into task_tags (task_id, tag_id) \
             select named.id, g.id from named \
             join (select * from known union all select * from made) g \
               on g.user_id = named.user_id and g.name = named.name), \
         queued as ( \
             insert into reminder_queue (task_id, remind_at) \
             select r.id, r.armed from r join t on t.id = r.id where r.armed is not null \
             on conflict (task_id) do update set remind_at = excluded.remind_at) \
         {tail}",
        search = search_vector(
            "r.user_id",
            "r.search_title",
            "r.search_tags",
            "r.search_description"
        ),
    )
}

/// The tasks of an insert as column arrays, for `unnest`.
struct Columns<'a> {
    tasks: &'a [&'a Task],
    documents: Vec<SearchDocument<'a>>,
    /// One JSON array per task: unnest cannot take an array of arrays of different lengths.
    tags: Vec<String>,
}

impl<'a> Columns<'a> {
    /// How many parameters [`Columns::bind`] binds.
    const COUNT: usize = 23;

    fn of(tasks: &'a [&'a Task]) -> Self {
        Columns {
            tasks,
            documents: tasks.iter().map(|t| t.search_document()).collect(),
            tags: tasks
                .iter()
                .map(|t| serde_json::Value::from(tag_names(&t.tags)).to_string())
                .collect(),
        }
    }

    fn bind<'q>(
        &'q self,
        query: Query<'q, Postgres, PgArguments>,
    ) -> Query<'q, Postgres, PgArguments> {
        let tasks = self.tasks;
        query
            .bind(column(tasks, |t| t.id))
            .bind(column(tasks, |t| t.user_id.as_str()))
            .bind(column(tasks, |t| t.title.as_str()))
            .bind(column(tasks, |t| t.description.as_str()))
            .bind(column(tasks, |t| t.completed))
            .bind(column(tasks, |t| t.completed_at))
            .bind(column(tasks, |t| t.priority.level()))
            .bind(&self.tags)
            .bind(column(tasks, |t| t.due_at))
            .bind(column(tasks, |t| t.reminder_minutes))
            .bind(column(tasks, |t| t.remind_at))
            .bind(column(tasks, |t| t.reminder_sent_at))
            .bind(column(tasks, |t| t.recurrence.as_ref().map(|r| r.as_str())))
            .bind(column(tasks, |t| t.timezone.name()))
            .bind(column(tasks, |t| t.recurrence_parent_id))
            .bind(column(tasks, |t| t.recurrence_depth))
            .bind(column(tasks, |t| t.recurrence_anchor))
            .bind(column(tasks, |t| t.created_at))
            .bind(column(tasks, |t| t.updated_at))
            .bind(column(&self.documents, |d| d.title))
            .bind(column(&self.documents, |d| d.tags.as_str()))
            .bind(column(&self.documents, |d| d.description))
            .bind(column(tasks, |t| t.armed_reminder()))
    }
}

/// One field of each row, as an array parameter of an `unnest(...)` insert.
fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

/// Writes `after` over `before` (the same task, locked): its fields, and its tags, search
/// vector and reminder queue row where they change.
async fn update_task(
    tx: &mut Transaction<'static, Postgres>,
    before: &Task,
    after: &Task,
) -> Result<(), StoreError> {
    let document = after.search_document();
    let search = if document == before.search_document() {
        String::new()
    } else {
        format!(", search = {}", search_vector("$16", "$17", "$18", "$19"))
    };
    let sql = format!(
        "update tasks set title = $3, description = $4, completed = $5, completed_at = $6, \
             priority = $7, tags = $8, due_at = $9, reminder_minutes = $10, remind_at = $11, \
             reminder_sent_at = $12, recurrence = $13, timezone = $14, updated_at = $15{search} \
         where user_id = $1 and id = $2"
    );
    let mut query = sqlx::query(&sql)
        .bind(&after.user_id)
        .bind(after.id)
        .bind(after.title.as_str())
        .bind(after.description.as_str())
        .bind(after.completed)
        .bind(after.completed_at)
        .bind(after.priority.level())
        .bind(tag_names(&after.tags))
        .bind(after.due_at)
        .bind(after.reminder_minutes)
        .bind(after.remind_at)
        .bind(after.reminder_sent_at)
        .bind(after.recurrence.as_ref().map(|r| r.as_str()))
        .bind(after.timezone.name())
        .bind(after.updated_at);
    if !search.is_empty() {
        query = query
            .bind(&after.user_id)
            .bind(document.title)
            .bind(document.tags.clone())
            .bind(document.description);
    }
    query.execute(&mut **tx).await.map_err(classify)?;
    if after.tags != before.tags {
        sqlx::query("delete from task_tags where task_id = $1")
            .bind(after.id)
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
        link_tags(tx, &after.user_id, after.id, &tag_names(&after.tags)).await?;
    }
    queue_reminder(tx, Some(before), after).await
}

/// Keeps the task's row of `reminder_queue` (the armed reminders the tick claims) in step
/// with `Task::armed_reminder`: added or moved when it is armed, removed when it is not.
async fn queue_reminder(
    tx: &mut Transaction<'static, Postgres>,
    before: Option<&Task>,
    after: &Task,
) -> Result<(), StoreError> {
    let was = before.and_then(Task::armed_reminder);
    match after.armed_reminder() {
        Some(at) if was != Some(at) => {
            sqlx::query(
                "insert into reminder_queue (task_id, remind_at) values ($1, $2) \
                 on conflict (task_id) do update set remind_at = excluded.remind_at",
            )
            .bind(after.id)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
        }
        None if was.is_some() => {
            sqlx::query("delete from reminder_queue where task_id = $1")
                .bind(after.id)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
        }
        _ => {}
    }
    Ok(())
}

/// Creates the user's tags on first use and links them to the task. Names arrive sorted, so
/// concurrent transactions take the unique-index locks in one order and cannot deadlock.
async fn link_tags(
    tx: &mut Transaction<'static, Postgres>,
    user_id: &str,
    task_id: Uuid,
    names: &[String],
) -> Result<(), StoreError> {
    if names.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into tags (user_id, name) \
         select $1, name from unnest($2::text[]) as name order by name \
         on conflict (user_id, name) do nothing",
    )
    .bind(user_id)
    .bind(names)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    sqlx::query(
        "insert into task_tags (task_id, tag_id) \
         select $1, id from tags where user_id = $2 and name = any($3)",
    )
    .bind(task_id)
    .bind(user_id)
    .bind(names)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    Ok(())
}

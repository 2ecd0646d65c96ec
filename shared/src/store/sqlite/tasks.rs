//! Writing tasks: each change stores the task the domain computed (`domain::change`), keeps
//! its tags, search entry and reminder queue row in step with it, and writes the events the
//! caller's `announce` builds, all in one transaction.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::outbox::insert_outbox;
use super::search;
use super::{
    classify, micros, now_micros, task_from_row, title_key, SqliteStore, MIGRATOR, TASK_COLUMNS,
};
use crate::domain::{ListQuery, Page, Task, TaskChange};
use crate::store::{Announce, Changed, Modify, StoreError, TagCount, TaskStore};

#[async_trait]
impl TaskStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(user_id = %task.user_id))]
    async fn create_task(
        &self,
        task: &Task,
        announce: Announce<'_>,
    ) -> Result<Changed<Task>, StoreError> {
        let mut tx = self.begin().await?;
        if !insert_task(&mut tx, task).await? {
            return Err(StoreError::Conflict(
                "this occurrence of the series exists already".into(),
            ));
        }
        let outbox = insert_outbox(&mut tx, &announce(TaskChange::Created(task))).await?;
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
        // The write lock is held from the start: a concurrent delivery of the same event
        // waits for this one to commit, then sees it processed.
        let mut tx = self.begin().await?;
        let mut created = Vec::with_capacity(items.len());
        let mut records = Vec::new();
        for (event_id, task) in items {
            let fresh = sqlx::query(
                "insert into processed_events (consumer, event_id, processed_at) values (?1, ?2, ?3) \
                 on conflict do nothing",
            )
            .bind(consumer)
            .bind(event_id)
            .bind(now_micros())
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected()
                == 1;
            // `insert_task` is false when the parent already has its next occurrence (an
            // earlier completion made it).
            let made = fresh && insert_task(&mut tx, task).await?;
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
            "select {TASK_COLUMNS} from tasks where user_id = ?1 and id = ?2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&self.reader)
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
        // Holding the write lock, the task read here is the one the change replaces.
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query(&format!(
            "select seq, {TASK_COLUMNS} from tasks where user_id = ?1 and id = ?2"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?
        else {
            return Ok(None);
        };
        let seq: i64 = row.try_get("seq").map_err(classify)?;
        let before = task_from_row(&row)?;
        let Some(after) = modify(&before)? else {
            // Nothing changes: nothing to write, no event.
            tx.rollback().await.map_err(classify)?;
            return Ok(Some(Changed {
                value: before,
                outbox: Vec::new(),
            }));
        };
        update_task(&mut tx, seq, &before, &after).await?;
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
        // Its tag links and reminder queue row go with it (on delete cascade); its search
        // entry is removed here.
        let row = sqlx::query(&format!(
            "delete from tasks where user_id = ?1 and id = ?2 returning seq, {TASK_COLUMNS}"
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let Some(row) = row else { return Ok(None) };
        let seq: i64 = row.try_get("seq").map_err(classify)?;
        let task = task_from_row(&row)?;
        sqlx::query("delete from tasks_fts where rowid = ?1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let outbox = insert_outbox(&mut tx, &announce(TaskChange::Deleted(&task))).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Some(Changed {
            value: task,
            outbox,
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1")
            .execute(&self.reader)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// The writer's pool and the readers' together.
    fn pool_status(&self) -> crate::store::PoolStatus {
        let [writer, reader] = [&self.writer, &self.reader].map(|pool| crate::store::PoolStatus {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        });
        crate::store::PoolStatus {
            size: writer.size + reader.size,
            idle: writer.idle + reader.idle,
            max: writer.max + reader.max,
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // One migration run at a time in this process; a run of another process on the same
        // file may still apply a migration between this one's check and its own attempt,
        // which then fails ("table exists"): running again finds it applied.
        static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = ONE_AT_A_TIME.lock().await;
        let mut attempt = 1;
        loop {
            match MIGRATOR.run(&self.writer).await {
                Ok(()) => return Ok(()),
                Err(
                    sqlx::migrate::MigrateError::Execute(_)
                    | sqlx::migrate::MigrateError::ExecuteMigration(..),
                ) if attempt < 5 => {
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    attempt += 1;
                }
                Err(sqlx::migrate::MigrateError::Execute(e)) => return Err(classify(e)),
                Err(e) => return Err(StoreError::Other(e.into())),
            }
        }
    }
}

/// Inserts `task` with its tags, search entry and reminder; `false` when a task with the
/// same `recurrence_parent_id` exists already (one next occurrence per parent).
async fn insert_task(
    tx: &mut Transaction<'static, Sqlite>,
    task: &Task,
) -> Result<bool, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar(
        "insert into tasks (id, user_id, title, title_key, description, completed, completed_at, \
             priority, tags, due_at, reminder_minutes, remind_at, reminder_sent_at, recurrence, \
             timezone, recurrence_parent_id, recurrence_depth, recurrence_anchor, created_at, \
             updated_at) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                 ?18, ?19, ?20) \
         on conflict (recurrence_parent_id) do nothing \
         returning seq",
    )
    .bind(task.id)
    .bind(&task.user_id)
    .bind(task.title.as_str())
    .bind(title_key(task.title.as_str()))
    .bind(task.description.as_str())
    .bind(task.completed)
    .bind(task.completed_at.map(micros))
    .bind(task.priority.level())
    .bind(tags_json(task))
    .bind(task.due_at.map(micros))
    .bind(task.reminder_minutes)
    .bind(task.remind_at.map(micros))
    .bind(task.reminder_sent_at.map(micros))
    .bind(task.recurrence.as_ref().map(|r| r.as_str()))
    .bind(task.timezone.name())
    .bind(task.recurrence_parent_id)
    .bind(task.recurrence_depth)
    .bind(task.recurrence_anchor.map(micros))
    .bind(micros(task.created_at))
    .bind(micros(task.updated_at))
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    let Some(seq) = seq else { return Ok(false) };
    sqlx::query("insert into tasks_fts (rowid, document) values (?1, ?2)")
        .bind(seq)
        .bind(search::document(&task.search_document()))
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    link_tags(tx, &task.user_id, task.id, &tags_json(task)).await?;
    queue_reminder(tx, None, task).await?;
    Ok(true)
}

/// Writes `after` over `before` (the same task, row `seq`, under the write lock): its
/// fields, and its tags, search entry and reminder queue row where they change.
async fn update_task(
    tx: &mut Transaction<'static, Sqlite>,
    seq: i64,
    before: &Task,
    after: &Task,
) -> Result<(), StoreError> {
    sqlx::query(
        "update tasks set title = ?2, title_key = ?3, description = ?4, completed = ?5, \
             completed_at = ?6, priority = ?7, tags = ?8, due_at = ?9, reminder_minutes = ?10, \
             remind_at = ?11, reminder_sent_at = ?12, recurrence = ?13, timezone = ?14, \
             updated_at = ?15 \
         where seq = ?1",
    )
    .bind(seq)
    .bind(after.title.as_str())
    .bind(title_key(after.title.as_str()))
    .bind(after.description.as_str())
    .bind(after.completed)
    .bind(after.completed_at.map(micros))
    .bind(after.priority.level())
    .bind(tags_json(after))
    .bind(after.due_at.map(micros))
    .bind(after.reminder_minutes)
    .bind(after.remind_at.map(micros))
    .bind(after.reminder_sent_at.map(micros))
    .bind(after.recurrence.as_ref().map(|r| r.as_str()))
    .bind(after.timezone.name())
    .bind(micros(after.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    let document = after.search_document();
    if document != before.search_document() {
        sqlx::query("update tasks_fts set document = ?2 where rowid = ?1")
            .bind(seq)
            .bind(search::document(&document))
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
    }
    if after.tags != before.tags {
        sqlx::query("delete from task_tags where task_id = ?1")
            .bind(after.id)
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
        link_tags(tx, &after.user_id, after.id, &tags_json(after)).await?;
    }
    queue_reminder(tx, Some(before), after).await
}

/// Keeps the task's row of `reminder_queue` (the armed reminders the tick claims) in step
/// with `Task::armed_reminder`: added or moved when it is armed, removed when it is not.
async fn queue_reminder(
    tx: &mut Transaction<'static, Sqlite>,
    before: Option<&Task>,
    after: &Task,
) -> Result<(), StoreError> {
    let was = before.and_then(Task::armed_reminder);
    match after.armed_reminder() {
        Some(at) if was != Some(at) => {
            sqlx::query(
                "insert into reminder_queue (task_id, remind_at) values (?1, ?2) \
                 on conflict (task_id) do update set remind_at = excluded.remind_at",
            )
            .bind(after.id)
            .bind(micros(at))
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
        }
        None if was.is_some() => {
            sqlx::query("delete from reminder_queue where task_id = ?1")
                .bind(after.id)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
        }
        _ => {}
    }
    Ok(())
}

/// The task's tag names as a JSON array (the `tags` column, and the list `link_tags` takes).
fn tags_json(task: &Task) -> String {
    let names: Vec<&str> = task.tags.iter().map(|t| t.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

/// Creates the user's tags on first use and links them to the task; `names` is a JSON array.
async fn link_tags(
    tx: &mut Transaction<'static, Sqlite>,
    user_id: &str,
    task_id: Uuid,
    names: &str,
) -> Result<(), StoreError> {
    if names == "[]" {
        return Ok(());
    }
    // `where true`: an upsert's select needs a where clause (SQLite's parser).
    sqlx::query(
        "insert into tags (user_id, name, created_at) \
         select ?1, value, ?3 from json_each(?2) where true \
         on conflict (user_id, name) do nothing",
    )
    .bind(user_id)
    .bind(names)
    .bind(now_micros())
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    sqlx::query(
        "insert into task_tags (task_id, tag_id) \
         select ?1, id from tags where user_id = ?2 and name in (select value from json_each(?3))",
    )
    .bind(task_id)
    .bind(user_id)
    .bind(names)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uuid::Uuid;

    use super::super::test_support::TempDb;
    use crate::domain::{NewTask, TagName, Task, TaskChange, TaskPatch};
    use crate::store::{OutboxRecord, StoreError, TaskStore};

    fn new_task(title: &str, tags: &[&str]) -> NewTask {
        NewTask {
            tags: tags.iter().map(|t| TagName::parse(t).unwrap()).collect(),
            ..NewTask::titled(title)
        }
    }

    /// One event for any change, carrying the task's id.
    fn announce(change: TaskChange<'_>) -> Vec<OutboxRecord> {
        let task = match change {
            TaskChange::Created(t) | TaskChange::Deleted(t) => t,
            TaskChange::Updated { after, .. } => after,
        };
        vec![OutboxRecord {
            event_id: Uuid::new_v4(),
            topic: "task-events",
            partition_key: task.user_id.clone(),
            payload: serde_json::json!({"task_id": task.id}),
            traceparent: None,
        }]
    }

    async fn count(db: &TempDb, sql: &str, id: Uuid) -> i64 {
        sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(db.store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn each_change_keeps_tags_search_and_reminder_in_step_and_writes_its_events() {
        let db = TempDb::new().await;
        let now = crate::domain::now();
        let mut new = new_task("buy milk", &["home", "shop"]);
        new.due_at = Some(now + chrono::Duration::hours(1));
        new.reminder_minutes = Some(10);
        let task = Task::create(Uuid::new_v4(), "alice", new, now);
        let created = db.store.create_task(&task, &announce).await.unwrap();
        assert_eq!(created.outbox.len(), 1);
        assert_eq!(created.outbox[0].payload["task_id"], task.id.to_string());
        let links = "select count(*) from task_tags where task_id = ?1";
        let queued = "select count(*) from reminder_queue where task_id = ?1";
        assert_eq!(count(&db, links, task.id).await, 2);
        assert_eq!(count(&db, queued, task.id).await, 1);

        // New tags and a completion: the links follow, the reminder is disarmed.
        let patch = TaskPatch {
            tags: Some(vec![TagName::parse("work").unwrap()]),
            completed: Some(true),
            ..Default::default()
        };
        let changed = db
            .store
            .modify_task("alice", task.id, &|t| t.apply(&patch, now), &|_| vec![])
            .await
            .unwrap()
            .unwrap();
        assert!(changed.value.completed);
        assert_eq!(count(&db, links, task.id).await, 1);
        assert_eq!(count(&db, queued, task.id).await, 0);
        let search = |q: &str| {
            let q = q.to_owned();
            let store = db.store.clone();
            async move {
                let query = crate::domain::ListQuery::parse([("search", q.as_str())]).unwrap();
                store.list_tasks("alice", &query).await.unwrap().total_count
            }
        };
        assert_eq!(search("work").await, 1);
        assert_eq!(search("shop").await, 0);

        // No change: no write, no event.
        let same = db
            .store
            .modify_task("alice", task.id, &|t| t.apply(&patch, now), &announce)
            .await
            .unwrap()
            .unwrap();
        assert!(same.outbox.is_empty());

        let deleted = db
            .store
            .delete_task("alice", task.id, &announce)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(deleted.value.id, task.id);
        assert_eq!(deleted.outbox.len(), 1);
        assert_eq!(count(&db, links, task.id).await, 0);
        assert_eq!(search("milk").await, 0);
        let entries: i64 = sqlx::query_scalar("select count(*) from tasks_fts")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(entries, 0, "the search entry went with the task");
        let tags: Vec<String> =
            sqlx::query_scalar("select name from tags where user_id = 'alice' order by name")
                .fetch_all(db.store.pool())
                .await
                .unwrap();
        assert_eq!(tags, ["home", "shop", "work"], "a user's tags stay");
    }

    #[tokio::test]
    async fn a_second_occurrence_of_a_parent_is_a_conflict() {
        let db = TempDb::new().await;
        let parent = Uuid::new_v4();
        let child = |i: usize| {
            let mut new = new_task(&format!("child {i}"), &[]);
            new.recurrence_parent_id = Some(parent);
            Task::create(Uuid::new_v4(), "alice", new, crate::domain::now())
        };
        db.store.create_task(&child(1), &|_| vec![]).await.unwrap();
        let err = db
            .store
            .create_task(&child(2), &|_| vec![])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }

    /// Duplicate deliveries of one completion, concurrently and through several stores (as
    /// several processes would): one creates the next occurrence, the others see it done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_duplicate_deliveries_create_one_task() {
        let db = TempDb::new().await;
        let stores: Vec<Arc<dyn TaskStore>> = (0..4)
            .map(|_| Arc::new(db.another_store()) as Arc<dyn TaskStore>)
            .collect();
        let parent = Uuid::new_v4();
        let event = Uuid::new_v4();
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                tokio::spawn(async move {
                    let mut new = new_task("again", &["x"]);
                    new.recurrence_parent_id = Some(parent);
                    let task = Task::create(Uuid::new_v4(), "alice", new, crate::domain::now());
                    // Half deliver the same event, half another delivery of the completion
                    // (a new event id): the unique parent still stops them.
                    let event = if i % 2 == 0 { event } else { Uuid::new_v4() };
                    store
                        .create_tasks_once("recurrence", &[(event, task)], &announce)
                        .await
                        .unwrap()
                        .value[0]
                })
            })
            .collect();
        let mut created = 0;
        for handle in handles {
            created += usize::from(handle.await.unwrap());
        }
        assert_eq!(created, 1);
        let children: i64 =
            sqlx::query_scalar("select count(*) from tasks where recurrence_parent_id = ?1")
                .bind(parent)
                .fetch_one(db.store.pool())
                .await
                .unwrap();
        assert_eq!(children, 1);
        let events: i64 = sqlx::query_scalar("select count(*) from outbox")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(events, 1, "only the created task announced");
    }
}

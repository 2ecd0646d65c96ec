//! PostgreSQL task store (sqlx). Lower-case SQL, explicit column lists, bind parameters
//! only; sort expressions come from an allow-list.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::{
    AuditEntry, AuditStore, DeliveryAttempt, DeliveryRecord, OutboxStore, ReminderStore,
    StoreError, TaskStore, Webhook, WebhookStore, WebhookTarget, DELIVERY_BACKOFF_BASE,
    DELIVERY_BACKOFF_MAX, JOB_EARLINESS, MAX_DELIVERY_ATTEMPTS, MAX_WEBHOOKS_PER_USER,
};
use crate::domain::{
    ListQuery, NewTask, Page, Priority, SortBy, SortOrder, Status, TagName, Task, TaskPatch, Total,
    COUNT_CAP,
};
use crate::events::{
    Changed, EventType, OutboxMessage, ReminderEvent, ReminderEventType, TaskEvent, REMINDERS,
    SCHEMA_VERSION,
};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

const TASK_COLUMNS: &str =
    "id, user_id, title, description, completed, completed_at, priority, tags, \
    due_at, reminder_minutes, remind_at, reminder_sent_at, recurrence, timezone, \
    recurrence_parent_id, recurrence_depth, recurrence_anchor, created_at, updated_at";

/// Settings of every connection the functions open, sent in the startup packet.
///
/// No parallel query: every statement here reads one user's rows and stops early (a page,
/// a count capped at `COUNT_CAP`). The planner still chose a parallel bitmap scan for a
/// capped tag count, and starting two workers cost more than the scan: 14 ms instead of
/// 5 ms alone, and worse under load, when the workers wait for the same two cores that
/// serve the requests (docs/BENCHMARKS.md, "No parallel query").
const SESSION_SETTINGS: [(&str, &str); 1] = [("max_parallel_workers_per_gather", "0")];

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        PgStore { pool }
    }

    pub fn connect_lazy(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = url.parse::<PgConnectOptions>()?.options(SESSION_SETTINGS);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(classify)
    }

    /// A change that changed nothing: undone (so `updated_at` stays), with no event; the
    /// task as it is.
    async fn no_change(
        &self,
        tx: Transaction<'static, Postgres>,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        tx.rollback().await.map_err(classify)?;
        Ok(self.get_task(user_id, id).await?.map(|task| Changed {
            value: task,
            outbox: Vec::new(),
        }))
    }
}

#[async_trait]
impl TaskStore for PgStore {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn create_task(&self, user_id: &str, task: NewTask) -> Result<Changed<Task>, StoreError> {
        let mut tx = self.begin().await?;
        let created = insert_task(&mut tx, user_id, &task).await?.ok_or_else(|| {
            StoreError::Conflict("this occurrence of the series exists already".into())
        })?;
        let outbox = write_event(&mut tx, EventType::Created, &created).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Changed {
            value: created,
            outbox,
        })
    }

    #[tracing::instrument(skip_all, fields(consumer, %event_id))]
    async fn create_task_once(
        &self,
        consumer: &str,
        event_id: Uuid,
        user_id: &str,
        task: NewTask,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        let mut tx = self.begin().await?;
        // A concurrent delivery of the same event waits here on the primary key, then sees
        // it processed.
        let fresh = sqlx::query(
            "insert into processed_events (consumer, event_id) values ($1, $2) on conflict do nothing",
        )
        .bind(consumer)
        .bind(event_id)
        .execute(&mut *tx)
        .await
        .map_err(classify)?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(None);
        }
        let Some(created) = insert_task(&mut tx, user_id, &task).await? else {
            // The parent already has its next occurrence (an earlier completion did it).
            tx.commit().await.map_err(classify)?;
            return Ok(None);
        };
        let outbox = write_event(&mut tx, EventType::Created, &created).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Some(Changed {
            value: created,
            outbox,
        }))
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

    /// Word filters (search, tags) count first, through the (user, word) indexes, and the
    /// count picks how the page is read: up to `COUNT_CAP` matches, from those indexes and
    /// sorted (in the same pass as the count when the page lies within them,
    /// `count_and_page`); more, by walking the user's sort index and testing each row,
    /// which finds a page of a common word within a few hundred rows. The planner cannot
    /// choose between the two itself: it multiplies the word's selectivity (already one
    /// user's) by the user's share of the table, underestimates the matches by that share
    /// (10x for the benchmark's heavy user) and takes the sorted path for common words too
    /// (docs/BENCHMARKS.md, "user-keyed search"). For the same reason it cannot weigh a
    /// priority or due-date range against the word, so the store asks for the range's row
    /// estimate and ANDs the two indexes only when the range is narrow (`NARROW_USER_RANGE`).
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn list_tasks(&self, user_id: &str, query: &ListQuery) -> Result<Page<Task>, StoreError> {
        if Access::words_usable(query) {
            let words = if Access::user_range(query)
                && self.user_range_rows(user_id, query).await? <= NARROW_USER_RANGE
            {
                Access::WORD_AND_USER_INDEX
            } else {
                Access::WORD_INDEX
            };
            let (total, items) = if query.count_limit() == Some(COUNT_CAP) {
                self.count_and_page(user_id, query, words).await?
            } else {
                let total = self.count_tasks(user_id, query, words).await?;
                let items = match total {
                    // No match, or the page starts past the last one: nothing to read.
                    Total::Exact(n) if n <= query.offset() => Some(Vec::new()),
                    Total::Exact(n) if n <= COUNT_CAP => {
                        Some(self.page_of_tasks(user_id, query, words).await?)
                    }
                    _ => None,
                };
                (total, items)
            };
            let items = match items {
                Some(items) => items,
                None => {
                    self.page_of_tasks(user_id, query, Access::USER_INDEX)
                        .await?
                }
            };
            return Ok(Page::new(items, total, query));
        }
        let items = self
            .page_of_tasks(user_id, query, Access::USER_INDEX)
            .await?;
        // A short page tells the total without counting (unless it is past the end).
        let total = if !items.is_empty() && items.len() < query.page_size as usize {
            Total::Exact(query.offset() + items.len() as u64)
        } else if items.is_empty() && query.page == 1 {
            Total::Exact(0)
        } else {
            self.count_tasks(user_id, query, Access::USER_INDEX).await?
        };
        Ok(Page::new(items, total, query))
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn update_task(
        &self,
        user_id: &str,
        id: Uuid,
        patch: TaskPatch,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        let mut tx = self.begin().await?;
        let mut update = QueryBuilder::new("update tasks t set updated_at = now()");
        if let Some(title) = &patch.title {
            update
                .push(", title = ")
                .push_bind(title.as_str().to_owned());
        }
        if let Some(description) = &patch.description {
            update
                .push(", description = ")
                .push_bind(description.as_str().to_owned());
        }
        if let Some(priority) = patch.priority {
            update.push(", priority = ").push_bind(priority.level());
        }
        let tags = patch.tags.as_deref().map(tag_names);
        if let Some(tags) = &tags {
            update.push(", tags = ").push_bind(tags.clone());
        }
        if let Some(due_at) = patch.due_at {
            update.push(", due_at = ").push_bind(due_at);
        }
        if let Some(minutes) = patch.reminder_minutes {
            update.push(", reminder_minutes = ").push_bind(minutes);
        }
        if let Some(recurrence) = &patch.recurrence {
            update
                .push(", recurrence = ")
                .push_bind(recurrence.as_ref().map(|r| r.as_str().to_owned()));
        }
        if let Some(tz) = &patch.timezone {
            update.push(", timezone = ").push_bind(tz.name());
        }
        if let Some(completed) = patch.completed {
            update.push(", completed = ").push_bind(completed);
        }
        // `old` is the row before this change (locked first): `was` its completion state,
        // `unchanged` whether the user's fields are all as they were.
        update.push(format!(
            " from (select id, completed as was, {EDITABLE_COLUMNS} from tasks where user_id = "
        ));
        update.push_bind(user_id);
        update.push(" and id = ").push_bind(id);
        update.push(format!(
            " for update) old where t.id = old.id returning {}, old.was, {} as unchanged",
            qualified("t"),
            unchanged("t", "old")
        ));
        let Some(row) = update
            .build()
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?
        else {
            return Ok(None);
        };
        if row.try_get::<bool, _>("unchanged").map_err(classify)? {
            return self.no_change(tx, user_id, id).await;
        }
        if let Some(tags) = &tags {
            sqlx::query("delete from task_tags where task_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            link_tags(&mut tx, user_id, id, tags).await?;
        }
        let task = task_from_row(&row)?;
        let was: bool = row.try_get("was").map_err(classify)?;
        let outbox = write_event(&mut tx, change_type(was, &task), &task).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Some(Changed {
            value: task,
            outbox,
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn set_completed(
        &self,
        user_id: &str,
        id: Uuid,
        completed: Option<bool>,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "update tasks t set completed = coalesce($3, not old.was) \
             from (select id, completed as was from tasks where user_id = $1 and id = $2 for update) old \
             where t.id = old.id returning {}, old.was",
            qualified("t")
        ))
        .bind(user_id)
        .bind(id)
        .bind(completed)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let Some(row) = row else { return Ok(None) };
        let task = task_from_row(&row)?;
        let was: bool = row.try_get("was").map_err(classify)?;
        if task.completed == was {
            return self.no_change(tx, user_id, id).await;
        }
        let outbox = write_event(&mut tx, change_type(was, &task), &task).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Some(Changed {
            value: task,
            outbox,
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id, %id))]
    async fn delete_task(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<Changed<Task>>, StoreError> {
        let mut tx = self.begin().await?;
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
        let outbox = write_event(&mut tx, EventType::Deleted, &task).await?;
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

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => classify(e),
            other => StoreError::Other(other.into()),
        })
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn claim_pending(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query(
            "update outbox set next_attempt_at = now() + make_interval(secs => $2), attempts = attempts + 1 \
             where id in (select id from outbox where published_at is null and next_attempt_at <= now() \
                          order by id limit $1 for update skip locked) \
             returning id, event_id, topic, partition_key, payload",
        )
        .bind(limit as i64)
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        outbox_messages(&rows)
    }

    async fn mark_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        // Bookkeeping: a mark lost in a crash only has the sweep publish the row again, which
        // delivery at least once allows (consumers key on the event id, docs/events.md). So
        // the mark commits without waiting for the WAL flush, in one round trip (the ids are
        // integers, written into the statement).
        let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        sqlx::raw_sql(&format!(
            "set local synchronous_commit = off; \
             update outbox set published_at = now(), last_error = null \
             where id = any('{{{ids}}}'::bigint[]) and published_at is null"
        ))
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "update outbox set last_error = left($2, 2000), \
                 next_attempt_at = now() + make_interval(secs => least(power(2, least(attempts, 12)), 3600)) \
             where id = $1",
        )
        .bind(id)
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn prune_published(&self, older_than: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "delete from outbox where published_at < now() - make_interval(secs => $1)",
        )
        .bind(older_than.as_secs_f64())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("select count(*) from outbox where published_at is null")
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?
            .get(0);
        Ok(n as u64)
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record_event(&self, event: &TaskEvent) -> Result<bool, StoreError> {
        let payload = serde_json::to_value(&event.task).map_err(|e| StoreError::Other(e.into()))?;
        let done = sqlx::query(
            "insert into audit_log (event_id, event_type, user_id, task_id, occurred_at, payload) \
             values ($1, $2, $3, $4, $5, $6) on conflict (event_id) do nothing",
        )
        .bind(event.event_id)
        .bind(event.event_type.as_str())
        .bind(&event.user_id)
        .bind(event.task_id)
        .bind(event.occurred_at)
        .bind(payload)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    async fn task_history(
        &self,
        user_id: &str,
        task_id: Uuid,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "select event_id, event_type, occurred_at, payload from audit_log \
             where user_id = $1 and task_id = $2 order by occurred_at, id",
        )
        .bind(user_id)
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    event_type: r.try_get("event_type").map_err(classify)?,
                    occurred_at: r.try_get("occurred_at").map_err(classify)?,
                    task: r.try_get("payload").map_err(classify)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl ReminderStore for PgStore {
    #[tracing::instrument(skip_all, fields(limit, task = ?task))]
    async fn claim_due_reminders(
        &self,
        limit: usize,
        task: Option<Uuid>,
    ) -> Result<Changed<usize>, StoreError> {
        // The claim is the delete from reminder_queue (skip locked: concurrent claimers take
        // disjoint rows); marking the task sent is a HOT update (no index mentions
        // reminder_sent_at). The task conditions are checked again in case the queue and
        // the task disagree.
        let (due, one_task) = match task {
            None => ("remind_at <= now()", ""),
            Some(_) => (
                "remind_at <= now() + make_interval(secs => $3)",
                "and task_id = $2",
            ),
        };
        let sql = format!(
            "with due as ( \
                 delete from reminder_queue where task_id in ( \
                     select task_id from reminder_queue where {due} {one_task} \
                     order by remind_at limit $1 for update skip locked) \
                 returning task_id) \
             update tasks t set reminder_sent_at = now() from due \
             where t.id = due.task_id and t.reminder_sent_at is null and not t.completed \
             returning t.id, t.user_id, t.title, t.due_at, t.remind_at"
        );
        let mut tx = self.begin().await?;
        let mut query = sqlx::query(&sql).bind(limit as i64);
        if let Some(id) = task {
            query = query.bind(id).bind(JOB_EARLINESS.as_secs_f64());
        }
        let rows = query.fetch_all(&mut *tx).await.map_err(classify)?;
        let now = Utc::now();
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            events.push(ReminderEvent {
                event_id: Uuid::new_v4(),
                event_type: ReminderEventType::Due,
                schema_version: SCHEMA_VERSION.into(),
                user_id: row.try_get("user_id").map_err(classify)?,
                task_id: row.try_get("id").map_err(classify)?,
                title: row.try_get("title").map_err(classify)?,
                due_at: row.try_get("due_at").map_err(classify)?,
                remind_at: row.try_get("remind_at").map_err(classify)?,
                occurred_at: now,
            });
        }
        let outbox = if events.is_empty() {
            Vec::new()
        } else {
            let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
            let keys: Vec<&str> = events.iter().map(|e| e.user_id.as_str()).collect();
            let payloads = events
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Other(e.into()))?;
            let rows = sqlx::query(
                "insert into outbox (event_id, topic, partition_key, payload) \
                 select e, $1, k, p from unnest($2::uuid[], $3::text[], $4::jsonb[]) \
                     with ordinality as t(e, k, p, n) order by n \
                 returning id, event_id, topic, partition_key, payload",
            )
            .bind(REMINDERS)
            .bind(&ids)
            .bind(&keys)
            .bind(&payloads)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
            outbox_messages(&rows)?
        };
        tx.commit().await.map_err(classify)?;
        Ok(Changed {
            value: events.len(),
            outbox,
        })
    }
}

#[async_trait]
impl WebhookStore for PgStore {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn create_webhook(
        &self,
        user_id: &str,
        url: &str,
        secret: &str,
    ) -> Result<Webhook, StoreError> {
        let mut tx = self.begin().await?;
        // One writer per user at a time, so the per-user limit holds under concurrency.
        sqlx::query("select pg_advisory_xact_lock(hashtextextended('webhooks:' || $1, 0))")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let count: i64 = sqlx::query("select count(*) from webhooks where user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?
            .get(0);
        if count >= MAX_WEBHOOKS_PER_USER {
            return Err(StoreError::Invalid {
                field: "url",
                message: format!("at most {MAX_WEBHOOKS_PER_USER} webhooks per user"),
            });
        }
        let row = sqlx::query(
            "insert into webhooks (id, user_id, url, secret) values ($1, $2, $3, $4) \
             returning id, url, created_at",
        )
        .bind(Uuid::new_v4())
        .bind(user_id)
        .bind(url)
        .bind(secret)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match classify(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict("this webhook URL is registered already".into())
            }
            other => other,
        })?;
        tx.commit().await.map_err(classify)?;
        webhook_from_row(&row)
    }

    async fn list_webhooks(&self, user_id: &str) -> Result<Vec<Webhook>, StoreError> {
        let rows = sqlx::query(
            "select id, url, created_at from webhooks where user_id = $1 order by created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn delete_webhook(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from webhooks where user_id = $1 and id = $2")
            .bind(user_id)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    async fn webhook_deliveries(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<Vec<DeliveryRecord>>, StoreError> {
        let exists = sqlx::query("select 1 from webhooks where user_id = $1 and id = $2")
            .bind(user_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        if exists.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "select event_id, attempts, last_attempt_at, last_status, last_error, delivered_at \
             from webhook_deliveries where webhook_id = $1 \
             order by last_attempt_at desc nulls last, event_id limit 100",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRecord {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    attempts: r.try_get("attempts").map_err(classify)?,
                    last_attempt_at: r.try_get("last_attempt_at").map_err(classify)?,
                    last_status: r.try_get("last_status").map_err(classify)?,
                    last_error: r.try_get("last_error").map_err(classify)?,
                    delivered_at: r.try_get("delivered_at").map_err(classify)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    async fn pending_deliveries(
        &self,
        user_id: &str,
        event_id: Uuid,
    ) -> Result<Vec<WebhookTarget>, StoreError> {
        let rows = sqlx::query(
            "select w.id, w.url, w.secret, \
                 d.last_attempt_at is null or d.last_attempt_at \
                     + make_interval(secs => least($4 * power(2, d.attempts - 1), $5)) <= now() as due \
             from webhooks w \
             left join webhook_deliveries d on d.webhook_id = w.id and d.event_id = $2 \
             where w.user_id = $1 and d.delivered_at is null and coalesce(d.attempts, 0) < $3 \
             order by w.created_at, w.id",
        )
        .bind(user_id)
        .bind(event_id)
        .bind(MAX_DELIVERY_ATTEMPTS)
        .bind(DELIVERY_BACKOFF_BASE)
        .bind(DELIVERY_BACKOFF_MAX)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(WebhookTarget {
                    id: r.try_get("id").map_err(classify)?,
                    url: r.try_get("url").map_err(classify)?,
                    secret: crate::config::Secret::new(
                        r.try_get::<String, _>("secret").map_err(classify)?,
                    ),
                    due: r.try_get("due").map_err(classify)?,
                })
            })
            .collect()
    }

    async fn record_delivery(
        &self,
        event_id: Uuid,
        webhook_id: Uuid,
        attempt: &DeliveryAttempt,
    ) -> Result<(), StoreError> {
        // A webhook deleted meanwhile has nothing left to record (the foreign key).
        sqlx::query(
            "insert into webhook_deliveries \
                 (event_id, webhook_id, attempts, last_attempt_at, last_status, last_error, delivered_at) \
             select $1, $2, 1, now(), $3, left($4, 2000), case when $4 is null then now() end \
             where exists (select 1 from webhooks where id = $2) \
             on conflict (event_id, webhook_id) do update set \
                 attempts = webhook_deliveries.attempts + 1, last_attempt_at = now(), \
                 last_status = excluded.last_status, last_error = excluded.last_error, \
                 delivered_at = coalesce(webhook_deliveries.delivered_at, excluded.delivered_at)",
        )
        .bind(event_id)
        .bind(webhook_id)
        .bind(attempt.status.map(i32::from))
        .bind(attempt.error.as_deref())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }
}

fn webhook_from_row(row: &PgRow) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: row.try_get("id").map_err(classify)?,
        url: row.try_get("url").map_err(classify)?,
        created_at: row.try_get("created_at").map_err(classify)?,
    })
}

/// Inserts a task and links its tags. `None` when a task with the same
/// `recurrence_parent_id` exists already (one next occurrence per parent).
async fn insert_task(
    tx: &mut Transaction<'static, Postgres>,
    user_id: &str,
    task: &NewTask,
) -> Result<Option<Task>, StoreError> {
    let id = Uuid::new_v4();
    let tags = tag_names(&task.tags);
    let row = sqlx::query(&format!(
        "insert into tasks (id, user_id, title, description, priority, tags, due_at, \
             reminder_minutes, recurrence, timezone, recurrence_parent_id, recurrence_depth, recurrence_anchor) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         on conflict (recurrence_parent_id) do nothing \
         returning {TASK_COLUMNS}"
    ))
    .bind(id)
    .bind(user_id)
    .bind(task.title.as_str())
    .bind(task.description.as_str())
    .bind(task.priority.level())
    .bind(&tags)
    .bind(task.due_at)
    .bind(task.reminder_minutes)
    .bind(task.recurrence.as_ref().map(|r| r.as_str()))
    .bind(task.timezone.name())
    .bind(task.recurrence_parent_id)
    .bind(task.recurrence_depth)
    .bind(task.recurrence_anchor)
    .fetch_optional(&mut **tx)
    .await
    .map_err(classify)?;
    let Some(row) = row else { return Ok(None) };
    link_tags(tx, user_id, id, &tags).await?;
    task_from_row(&row).map(Some)
}

/// `task.completed` when this change completed the task, else `task.updated`.
fn change_type(was_completed: bool, task: &Task) -> EventType {
    if task.completed && !was_completed {
        EventType::Completed
    } else {
        EventType::Updated
    }
}

/// Writes a change's event to the outbox, one row per topic, in the change's transaction.
async fn write_event(
    tx: &mut Transaction<'static, Postgres>,
    event_type: EventType,
    task: &Task,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let event = TaskEvent::new(event_type, task);
    let payload = serde_json::to_value(&event).map_err(|e| StoreError::Other(e.into()))?;
    let topics: Vec<&str> = event_type.topics().to_vec();
    let rows = sqlx::query(
        "insert into outbox (event_id, topic, partition_key, payload) \
         select $1, topic, $2, $3 from unnest($4::text[]) with ordinality as t(topic, n) order by n \
         returning id, event_id, topic, partition_key, payload",
    )
    .bind(event.event_id)
    .bind(&event.user_id)
    .bind(&payload)
    .bind(&topics)
    .fetch_all(&mut **tx)
    .await
    .map_err(classify)?;
    outbox_messages(&rows)
}

/// Outbox rows as messages, in publishing order.
fn outbox_messages(rows: &[PgRow]) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut messages = rows
        .iter()
        .map(outbox_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    messages.sort_by_key(|m| m.id);
    Ok(messages)
}

fn outbox_from_row(row: &PgRow) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: row.try_get("id").map_err(classify)?,
        event_id: row.try_get("event_id").map_err(classify)?,
        topic: row.try_get("topic").map_err(classify)?,
        partition_key: row.try_get("partition_key").map_err(classify)?,
        payload: row.try_get("payload").map_err(classify)?,
    })
}

/// The task columns a user edits: when none of them changes, nothing happened (no event,
/// `updated_at` kept).
const EDITABLE_COLUMNS: &str =
    "title, description, priority, tags, due_at, reminder_minutes, recurrence, timezone, completed";

/// SQL that is true when the row `new` holds the same editable columns as the row `old`.
fn unchanged(new: &str, old: &str) -> String {
    format!(
        "(({}) is not distinct from ({}))",
        prefixed(EDITABLE_COLUMNS, new),
        prefixed(EDITABLE_COLUMNS, old)
    )
}

/// The task columns prefixed by a table alias (for `update ... from ... returning`).
fn qualified(alias: &str) -> String {
    prefixed(TASK_COLUMNS, alias)
}

/// `columns` (comma-separated), each prefixed with `alias`.
fn prefixed(columns: &str, alias: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which conditions of a list query are written so an index can serve them (see
/// `list_tasks`). The others are still applied, as `coalesce(<condition>, false)`: the same
/// test, opaque to the planner (it neither matches an index nor feeds the row estimate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Access {
    /// `user_id = $1`: the sort indexes, the covering count index.
    user: bool,
    /// The search and tag conditions: the (user, word) GIN indexes.
    words: bool,
}

/// Up to this many rows expected from the user's priority and due-date conditions, a word
/// filter is ANDed with that range of a user index (`Access::WORD_AND_USER_INDEX`); past
/// it, the range's bitmap costs more than it saves and the word's rows are tested instead.
/// For the benchmark's heavy user: `fix` (7,974 matches) with P1 (10,006 rows) 4.3 ms
/// ANDed against 7.5 ms tested; with P1,P2 (~35,000 rows) and other broad ranges, p50
/// 9.5-11 ms ANDed against ~4 ms tested (docs/BENCHMARKS.md, "narrow ranges").
const NARROW_USER_RANGE: f64 = 15_000.0;

impl Access {
    const USER_INDEX: Access = Access {
        user: true,
        words: false,
    };
    const WORD_INDEX: Access = Access {
        user: false,
        words: true,
    };
    /// The word indexes ANDed with a narrow range of a user index (`NARROW_USER_RANGE`).
    const WORD_AND_USER_INDEX: Access = Access {
        user: true,
        words: true,
    };

    /// Whether the query has a condition that narrows a user index beyond the user: a
    /// priority or a due date, the conditions `push_filters` shows or hides with the user.
    fn user_range(query: &ListQuery) -> bool {
        !query.priorities.is_empty()
            || query.due_before.is_some()
            || query.due_after.is_some()
            || query.overdue == Some(true)
    }

    /// Whether the word indexes can find the matches: a tag filter or a usable search.
    fn words_usable(query: &ListQuery) -> bool {
        !query.tags.is_empty() || Self::search_usable(query)
    }

    /// A search with no `-excluded` term: a query of exclusions only would have GIN scan
    /// every user's entries, and with the user condition hidden the planner could scan the
    /// table instead.
    fn search_usable(query: &ListQuery) -> bool {
        query.search.as_deref().is_some_and(|s| {
            !s.split_whitespace()
                .any(|t| t.trim_start_matches('"').starts_with('-'))
        })
    }
}

impl PgStore {
    async fn page_of_tasks(
        &self,
        user_id: &str,
        query: &ListQuery,
        access: Access,
    ) -> Result<Vec<Task>, StoreError> {
        let mut select = QueryBuilder::new(format!("select {TASK_COLUMNS} from tasks"));
        push_filters(&mut select, user_id, query, access);
        push_page(&mut select, query, sort_key(query));
        let rows = self.list_rows(select).await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Counts the matches up to `COUNT_CAP` and sorts the page from them, in one pass over
    /// the matching rows (a count and then a page would read them twice). The page is
    /// `None` when more rows match: it cannot be told from the ones read. For pages within
    /// the first `COUNT_CAP` matches (`count_limit`).
    ///
    /// The matches are kept as their row address (`ctid`), sort key and id, and only the
    /// page's rows are fetched whole, by address: one statement sees one snapshot, so each
    /// address still holds the version that matched. When more rows match, the sort is
    /// skipped, and the statement costs about what the count alone does.
    async fn count_and_page(
        &self,
        user_id: &str,
        query: &ListQuery,
        access: Access,
    ) -> Result<(Total, Option<Vec<Task>>), StoreError> {
        debug_assert_eq!(query.count_limit(), Some(COUNT_CAP));
        let key = sort_key(query);
        let mut select = QueryBuilder::new(format!(
            "with matches as materialized (select ctid as found, {key} as sort_key, id from tasks"
        ));
        push_filters(&mut select, user_id, query, access);
        select
            .push(" limit ")
            .push_bind(COUNT_CAP as i64 + 1)
            .push(format!(
                ") select {TASK_COLUMNS}, total.n from (select count(*) as n from matches) as total \
                 left join lateral (select found from matches where total.n <= "
            ))
            .push_bind(COUNT_CAP as i64);
        push_page(&mut select, query, "sort_key");
        // One row with a null task when the page is empty.
        select.push(") as page on true left join tasks on tasks.ctid = page.found");
        push_order(&mut select, query, key);
        let rows = self.list_rows(select).await?;
        let n: i64 = match rows.first() {
            Some(row) => row.try_get("n").map_err(classify)?,
            None => 0, // not reached: the count's row is always there
        };
        let total = Total::counted(n as u64, Some(COUNT_CAP));
        if let Total::AtLeast(_) = total {
            return Ok((total, None));
        }
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            if row
                .try_get::<Option<Uuid>, _>("id")
                .map_err(classify)?
                .is_some()
            {
                items.push(task_from_row(row)?);
            }
        }
        Ok((total, Some(items)))
    }

    /// How many rows the planner expects the user's priority and due-date conditions to
    /// select (`explain`, no execution): its estimate for one user and one column is good,
    /// unlike its estimate for a keyed word (see `list_tasks`).
    async fn user_range_rows(&self, user_id: &str, query: &ListQuery) -> Result<f64, StoreError> {
        let range = ListQuery {
            search: None,
            tags: vec![],
            status: Status::All,
            ..query.clone()
        };
        let mut explain = QueryBuilder::new("explain (format json) select 1 from tasks");
        push_filters(&mut explain, user_id, &range, Access::USER_INDEX);
        let plan: serde_json::Value = self.one_value(explain).await?;
        plan[0]["Plan"]["Plan Rows"]
            .as_f64()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("explain gave no row estimate")))
    }

    /// Counts the matches up to `query.count_limit()`: finding one more row than the limit
    /// proves there are more.
    async fn count_tasks(
        &self,
        user_id: &str,
        query: &ListQuery,
        access: Access,
    ) -> Result<Total, StoreError> {
        let limit = query.count_limit();
        let mut count = QueryBuilder::new("select count(*) from (select 1 from tasks");
        push_filters(&mut count, user_id, query, access);
        if let Some(limit) = limit {
            count.push(" limit ").push_bind(limit as i64 + 1);
        }
        count.push(") as matches");
        let n: i64 = self.one_value(count).await?;
        Ok(Total::counted(n as u64, limit))
    }

    /// Runs a list statement unnamed: planned with the actual user and search term each
    /// time. A cached generic plan assumes an average user and turns a heavy user's search
    /// into a scan of all their rows (docs/BENCHMARKS.md, "generic plans").
    async fn list_rows(&self, mut q: QueryBuilder<'_, Postgres>) -> Result<Vec<PgRow>, StoreError> {
        q.build()
            .persistent(false)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)
    }

    /// The one value a list statement returns (count, explain), run unnamed (`list_rows`).
    async fn one_value<T>(&self, q: QueryBuilder<'_, Postgres>) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        let rows = self.list_rows(q).await?;
        let row = rows.first().ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("a one-value statement gave no row"))
        })?;
        row.try_get(0).map_err(classify)
    }
}

/// The expression the list sorts by.
fn sort_key(query: &ListQuery) -> &'static str {
    match query.sort_by {
        SortBy::DueAt => "due_at",
        SortBy::Priority => "priority",
        SortBy::Title => "lower(title)",
        SortBy::CreatedAt => "created_at",
        SortBy::UpdatedAt => "updated_at",
    }
}

/// The list's order by `key` (the sort key, or a column holding it): nulls last in both
/// directions, then id, which breaks ties so pages never overlap. Only a due date can be
/// null; the other keys get no `nulls last`, which lets a backward index scan serve `desc`.
fn push_order(q: &mut QueryBuilder<'_, Postgres>, query: &ListQuery, key: &str) {
    let dir = match query.sort_order {
        SortOrder::Asc => "asc",
        SortOrder::Desc => "desc",
    };
    let nulls = match query.sort_by {
        SortBy::DueAt => " nulls last",
        _ => "",
    };
    q.push(format!(" order by {key} {dir}{nulls}, id {dir}"));
}

/// The requested page in the list's order by `key` (see `push_order`).
fn push_page(q: &mut QueryBuilder<'_, Postgres>, query: &ListQuery, key: &str) {
    push_order(q, query, key);
    q.push(" limit ")
        .push_bind(query.page_size as i64)
        .push(" offset ")
        .push_bind(query.offset() as i64);
}

fn push_filters(
    q: &mut QueryBuilder<'_, Postgres>,
    user_id: &str,
    query: &ListQuery,
    access: Access,
) {
    let hidden = |indexable: bool| {
        if indexable {
            ("", "")
        } else {
            ("coalesce(", ", false)")
        }
    };
    let (open, close) = hidden(access.user);
    q.push(format!(" where {open}user_id = "))
        .push_bind(user_id.to_owned())
        .push(close);
    // `search` and the tag index hold words keyed by user (migration 6): one posting list
    // per (user, word). A search with exclusions stays hidden (see `search_usable`); the
    // plain `tags &&` keeps a key collision from widening the result.
    let (open, close) = hidden(access.words && Access::search_usable(query));
    if let Some(search) = &query.search {
        q.push(format!(" and {open}search @@ task_user_query("))
            .push_bind(user_id.to_owned())
            .push(", websearch_to_tsquery('english', ")
            .push_bind(search.clone())
            .push(format!(")){close}"));
    }
    if !query.tags.is_empty() {
        let names = tag_names(&query.tags);
        // The keyed tags only serve the index; testing them row by row costs a SQL
        // function call per row (8 µs), so a walk tests the plain tags alone.
        if access.words {
            q.push(" and task_user_tags(user_id, tags) && task_user_tags(")
                .push_bind(user_id.to_owned())
                .push(", ")
                .push_bind(names.clone())
                .push(")");
        }
        q.push(" and tags && ").push_bind(names);
    }
    match query.status {
        Status::All => {}
        Status::Pending => {
            q.push(" and not completed");
        }
        Status::Completed => {
            q.push(" and completed");
        }
    }
    // Priority and due dates are second columns of the user's indexes: they are shown with
    // the user condition or hidden with it. Shown without it, the planner scans one of those
    // indexes over every user's entries and ANDs that with the word's (a search for `call`
    // due this fortnight: 56 ms; 9 ms with both hidden, which tests the word's rows; 4.6 ms
    // with both shown, `WORD_AND_USER_INDEX`).
    let (open, close) = hidden(access.user);
    if !query.priorities.is_empty() {
        let levels: Vec<i16> = query.priorities.iter().map(|p| p.level()).collect();
        q.push(format!(" and {open}priority = any("))
            .push_bind(levels)
            .push(format!("){close}"));
    }
    if let Some(before) = query.due_before {
        q.push(format!(" and {open}due_at < "))
            .push_bind(before)
            .push(close);
    }
    if let Some(after) = query.due_after {
        q.push(format!(" and {open}due_at > "))
            .push_bind(after)
            .push(close);
    }
    match query.overdue {
        None => {}
        Some(true) => {
            q.push(format!(
                " and not completed and {open}due_at < now(){close}"
            ));
        }
        Some(false) => {
            q.push(" and (completed or due_at is null or due_at >= now())");
        }
    }
}

fn tag_names(tags: &[TagName]) -> Vec<String> {
    tags.iter().map(|t| t.as_str().to_owned()).collect()
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

fn task_from_row(row: &PgRow) -> Result<Task, StoreError> {
    let level: i16 = row.try_get("priority").map_err(classify)?;
    let get = |e: sqlx::Error| classify(e);
    Ok(Task {
        id: row.try_get("id").map_err(get)?,
        user_id: row.try_get("user_id").map_err(get)?,
        title: row.try_get("title").map_err(get)?,
        description: row.try_get("description").map_err(get)?,
        completed: row.try_get("completed").map_err(get)?,
        completed_at: row
            .try_get::<Option<DateTime<Utc>>, _>("completed_at")
            .map_err(get)?,
        priority: Priority::from_level(level)
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("priority {level} out of range")))?,
        tags: row.try_get("tags").map_err(get)?,
        due_at: row.try_get("due_at").map_err(get)?,
        reminder_minutes: row.try_get("reminder_minutes").map_err(get)?,
        remind_at: row.try_get("remind_at").map_err(get)?,
        reminder_sent_at: row.try_get("reminder_sent_at").map_err(get)?,
        recurrence: row.try_get("recurrence").map_err(get)?,
        timezone: row.try_get("timezone").map_err(get)?,
        recurrence_parent_id: row.try_get("recurrence_parent_id").map_err(get)?,
        recurrence_depth: row.try_get("recurrence_depth").map_err(get)?,
        recurrence_anchor: row.try_get("recurrence_anchor").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
    })
}

/// Sorts a sqlx error into what the caller can act on: an outage (503, retry), a broken
/// field rule (422), a conflict (409), or a bug (500).
pub fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.into()),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // connection exceptions, shutdown, too many connections, read-only standby
                c if c.starts_with("08")
                    || c == "57P01"
                    || c == "57P02"
                    || c == "57P03"
                    || c == "53300"
                    || c == "25006" =>
                {
                    StoreError::Unavailable(err.into())
                }
                "23514" => match db.constraint() {
                    Some("tasks_reminder_needs_due") => StoreError::Invalid {
                        field: "reminder_minutes",
                        message: "a reminder needs a due date (due_at)".into(),
                    },
                    _ => StoreError::Other(err.into()),
                },
                // deadlock, serialization failure: transient
                "40P01" | "40001" => StoreError::Unavailable(err.into()),
                "23505" => StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned()),
                _ => StoreError::Other(err.into()),
            }
        }
        _ => StoreError::Other(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The access paths only change the plan: each gives the same page and the same count,
    /// for word filters with and without the priority and due-date conditions they hide,
    /// read in two queries or in one (`count_and_page`).
    /// (Which one `list_tasks` takes depends on row estimates; on small test data it is
    /// always the narrow one, so the others are run here directly.)
    #[tokio::test]
    async fn every_access_path_gives_the_same_page_and_count() {
        let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/test.sh");
        let store = PgStore::connect_lazy(&url, 2).unwrap();
        MIGRATOR.run(&store.pool).await.unwrap();
        let user = format!("access-{}", Uuid::new_v4());
        sqlx::query(
            "insert into tasks (id, user_id, title, priority, tags, due_at, completed, completed_at) \
             select gen_random_uuid(), $1, \
                    'task ' || i || case when i % 3 = 0 then ' call' else '' end, 1 + i % 4, \
                    case when i % 5 = 0 then array['work'] else array['home'] end, \
                    case when i % 7 = 0 then null else now() + (i - 30) * interval '1 day' end, \
                    i % 4 = 0, case when i % 4 = 0 then now() end \
             from generate_series(1, 60) i",
        )
        .bind(&user)
        .execute(&store.pool)
        .await
        .unwrap();
        let week = (Utc::now() + chrono::Duration::days(7)).to_rfc3339();
        let queries: [&[(&str, &str)]; 6] = [
            &[("search", "call")],
            &[
                ("search", "call"),
                ("priority", "P1,P2"),
                ("sort_by", "priority"),
            ],
            &[
                ("search", "call"),
                ("due_before", &week),
                ("sort_by", "due_at"),
            ],
            &[("tag", "work"), ("overdue", "true"), ("sort_by", "due_at")],
            &[
                ("search", "call"),
                ("overdue", "false"),
                ("sort_order", "asc"),
            ],
            &[
                ("tag", "home"),
                ("priority", "P3"),
                ("status", "pending"),
                ("sort_by", "title"),
                ("page", "2"),
                ("page_size", "3"),
            ],
        ];
        for pairs in queries {
            let query = ListQuery::parse(pairs.iter().copied()).unwrap();
            let mut answers = vec![];
            for access in [
                Access::USER_INDEX,
                Access::WORD_INDEX,
                Access::WORD_AND_USER_INDEX,
            ] {
                let page = store.page_of_tasks(&user, &query, access).await.unwrap();
                let ids: Vec<Uuid> = page.iter().map(|t| t.id).collect();
                let total = store.count_tasks(&user, &query, access).await.unwrap();
                // The one-pass count and page agrees with the two.
                let (one_total, one_page) =
                    store.count_and_page(&user, &query, access).await.unwrap();
                let one_ids: Option<Vec<Uuid>> =
                    one_page.map(|page| page.iter().map(|t| t.id).collect());
                assert_eq!(
                    (one_ids.as_ref(), one_total),
                    (Some(&ids), total),
                    "{pairs:?}: {access:?} in one pass"
                );
                answers.push((ids, total));
            }
            assert!(!answers[0].0.is_empty(), "{pairs:?} matches nothing");
            assert_eq!(answers[0], answers[1], "{pairs:?}: user vs word index");
            assert_eq!(
                answers[0], answers[2],
                "{pairs:?}: user vs word and user index"
            );
        }
    }
}

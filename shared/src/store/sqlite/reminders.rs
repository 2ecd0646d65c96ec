//! Claiming due reminders: each once, whatever the number of concurrent claimers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::outbox::insert_outbox;
use super::{classify, micros, task_from_row, SqliteStore, TASK_COLUMNS};
use crate::store::{AnnounceReminder, Changed, ReminderStore, StoreError, JOB_EARLINESS};

/// Tasks marked sent per statement (bind parameters per statement stay well below
/// SQLite's limit).
const CHUNK: usize = 500;

#[async_trait]
impl ReminderStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(limit, task = ?task))]
    async fn claim_due_reminders(
        &self,
        limit: usize,
        task: Option<Uuid>,
        now: DateTime<Utc>,
        announce: AnnounceReminder<'_>,
    ) -> Result<Changed<usize>, StoreError> {
        // The claim is the delete from reminder_queue, under the write lock held from the
        // transaction's start: a concurrent claimer waits, then finds the rows gone. Marking
        // the task sent (`Task::reminded`: reminder_sent_at = now) follows. The queue follows
        // `Task::armed_reminder`; the task is checked again in case the two disagree.
        let due_until = match task {
            None => now,
            Some(_) => now + JOB_EARLINESS,
        };
        let mut tx = self.begin().await?;
        let mut claim = QueryBuilder::<Sqlite>::new(
            "delete from reminder_queue where task_id in \
             (select task_id from reminder_queue where remind_at <= ",
        );
        claim.push_bind(micros(due_until));
        if let Some(id) = task {
            claim.push(" and task_id = ").push_bind(id);
        }
        claim
            .push(" order by remind_at, task_id limit ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .push(") returning task_id");
        let claimed: Vec<Uuid> = claim
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(classify)?;
        let mut reminded = Vec::with_capacity(claimed.len());
        for ids in claimed.chunks(CHUNK) {
            let mut mark = QueryBuilder::<Sqlite>::new("update tasks set reminder_sent_at = ");
            mark.push_bind(micros(now))
                .push(" where reminder_sent_at is null and not completed and id in (");
            let mut list = mark.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            mark.push(format!(") returning {TASK_COLUMNS}"));
            for row in mark.build().fetch_all(&mut *tx).await.map_err(classify)? {
                reminded.push(task_from_row(&row)?);
            }
        }
        reminded.sort_by_key(|t| (t.remind_at, t.id));
        let mut records = Vec::new();
        for task in &reminded {
            records.extend(announce(task, now));
        }
        let outbox = insert_outbox(&mut tx, &records).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Changed {
            value: reminded.len(),
            outbox,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use chrono::Duration;
    use uuid::Uuid;

    use super::super::test_support::TempDb;
    use crate::domain::{NewTask, Task, Title};
    use crate::store::{OutboxRecord, ReminderStore, TaskStore};

    fn due_task(title: &str, due: chrono::DateTime<chrono::Utc>) -> Task {
        let new = NewTask {
            title: Title::parse(title).unwrap(),
            description: Default::default(),
            priority: crate::domain::Priority::DEFAULT,
            tags: vec![],
            due_at: Some(due),
            reminder_minutes: Some(0),
            recurrence: None,
            timezone: crate::domain::Timezone::UTC,
            recurrence_parent_id: None,
            recurrence_depth: 0,
            recurrence_anchor: None,
        };
        Task::create(Uuid::new_v4(), "alice", new, crate::domain::now())
    }

    fn reminder(task: &Task, _: chrono::DateTime<chrono::Utc>) -> Vec<OutboxRecord> {
        vec![OutboxRecord {
            event_id: Uuid::new_v4(),
            topic: "reminders",
            partition_key: task.user_id.clone(),
            payload: serde_json::json!({"task_id": task.id, "sent": task.reminder_sent_at}),
            traceparent: None,
        }]
    }

    #[tokio::test]
    async fn only_due_armed_reminders_are_claimed_and_a_job_may_fire_early() {
        let db = TempDb::new().await;
        let now = crate::domain::now();
        let due = due_task("due", now - Duration::minutes(1));
        let soon = due_task("soon", now + Duration::seconds(3));
        let done = due_task("done", now - Duration::minutes(1))
            .set_completed(Some(true), now)
            .unwrap();
        for t in [&due, &soon, &done] {
            db.store.create_task(t, &|_| vec![]).await.unwrap();
        }
        let claimed = db
            .store
            .claim_due_reminders(10, None, now, &reminder)
            .await
            .unwrap();
        assert_eq!(claimed.value, 1);
        assert_eq!(claimed.outbox[0].payload["task_id"], due.id.to_string());
        let sent = db.store.get_task("alice", due.id).await.unwrap().unwrap();
        assert_eq!(sent.reminder_sent_at, Some(now));
        assert_eq!(sent.updated_at, due.updated_at, "bookkeeping only");
        assert_eq!(
            claimed.outbox[0].payload["sent"],
            serde_json::to_value(now).unwrap(),
            "announced as sent"
        );
        let again = db
            .store
            .claim_due_reminders(10, None, now, &reminder)
            .await
            .unwrap();
        assert_eq!(again.value, 0);
        // The job of `soon` fires within JOB_EARLINESS of its time; the tick does not.
        let job = db
            .store
            .claim_due_reminders(10, Some(soon.id), now, &reminder)
            .await
            .unwrap();
        assert_eq!(job.value, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claimers_claim_each_reminder_once() {
        let db = TempDb::new().await;
        let now = crate::domain::now();
        for i in 0..600 {
            let task = due_task(&format!("t{i}"), now - Duration::minutes(1));
            db.store.create_task(&task, &|_| vec![]).await.unwrap();
        }
        let stores: Vec<Arc<dyn ReminderStore>> = (0..3)
            .map(|_| Arc::new(db.another_store()) as Arc<dyn ReminderStore>)
            .collect();
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    loop {
                        let claimed = store
                            .claim_due_reminders(45, None, now, &reminder)
                            .await
                            .unwrap();
                        if claimed.value == 0 {
                            return ids;
                        }
                        ids.extend(
                            claimed
                                .outbox
                                .into_iter()
                                .map(|m| m.payload["task_id"].clone()),
                        );
                    }
                })
            })
            .collect();
        let mut counts = HashMap::new();
        for handle in handles {
            for id in handle.await.unwrap() {
                *counts.entry(id.to_string()).or_insert(0) += 1;
            }
        }
        assert_eq!(counts.len(), 600);
        assert!(counts.values().all(|n| *n == 1));
    }
}

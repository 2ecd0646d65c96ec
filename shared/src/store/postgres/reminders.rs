//! Claiming due reminders: each once, whatever the number of concurrent claimers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::insert_outbox;
use super::{classify, qualified, task_from_row, PgStore};
use crate::store::{AnnounceReminder, Changed, ReminderStore, StoreError, JOB_EARLINESS};

#[async_trait]
impl ReminderStore for PgStore {
    #[tracing::instrument(skip_all, fields(limit, task = ?task))]
    async fn claim_due_reminders(
        &self,
        limit: usize,
        task: Option<Uuid>,
        now: DateTime<Utc>,
        announce: AnnounceReminder<'_>,
    ) -> Result<Changed<usize>, StoreError> {
        // The claim is the delete from reminder_queue (skip locked: concurrent claimers take
        // disjoint rows); marking the task sent (`Task::reminded`: reminder_sent_at = now) is
        // a HOT update (no index mentions reminder_sent_at). The queue follows
        // `Task::armed_reminder`; the task is checked again in case the two disagree.
        let (due, one_task) = match task {
            None => ("remind_at <= $2", ""),
            Some(_) => (
                "remind_at <= $2 + make_interval(secs => $4)",
                "and task_id = $3",
            ),
        };
        let sql = format!(
            "with due as ( \
                 delete from reminder_queue where task_id in ( \
                     select task_id from reminder_queue where {due} {one_task} \
                     order by remind_at limit $1 for update skip locked) \
                 returning task_id) \
             update tasks t set reminder_sent_at = $2 from due \
             where t.id = due.task_id and t.reminder_sent_at is null and not t.completed \
             returning {}",
            qualified("t")
        );
        let mut tx = self.begin().await?;
        let mut query = sqlx::query(&sql).bind(limit as i64).bind(now);
        if let Some(id) = task {
            query = query.bind(id).bind(JOB_EARLINESS.as_secs_f64());
        }
        let rows = query.fetch_all(&mut *tx).await.map_err(classify)?;
        let mut records = Vec::new();
        for row in &rows {
            records.extend(announce(&task_from_row(row)?, now));
        }
        let outbox = insert_outbox(&mut tx, &records).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Changed {
            value: rows.len(),
            outbox,
        })
    }
}

//! The audit trail: each event once, a task's history in order.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use super::{classify, micros, now_micros, time, SqliteStore};
use crate::store::{AuditEntry, AuditRecord, AuditStore, StoreError};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_events(&self, records: &[AuditRecord]) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        // One transaction for the batch: a single commit (SQLite's cost is the commit).
        let mut tx = self.begin().await?;
        let mut recorded = 0;
        for record in records {
            recorded += sqlx::query(
                "insert into audit_log \
                     (event_id, event_type, user_id, task_id, occurred_at, payload, recorded_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7) on conflict (event_id) do nothing",
            )
            .bind(record.event_id)
            .bind(record.event_type)
            .bind(&record.user_id)
            .bind(record.task_id)
            .bind(micros(record.occurred_at))
            .bind(record.task.to_string())
            .bind(now_micros())
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
        }
        tx.commit().await.map_err(classify)?;
        Ok(recorded)
    }

    async fn task_history(
        &self,
        user_id: &str,
        task_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        let total: i64 = sqlx::query_scalar(
            "select count(*) from audit_log where user_id = ?1 and task_id = ?2",
        )
        .bind(user_id)
        .bind(task_id)
        .fetch_one(&self.reader)
        .await
        .map_err(classify)?;
        let rows = sqlx::query(
            "select event_id, event_type, occurred_at, payload from audit_log \
             where user_id = ?1 and task_id = ?2 order by occurred_at, id limit ?3 offset ?4",
        )
        .bind(user_id)
        .bind(task_id)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(classify)?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    event_type: r.try_get("event_type").map_err(classify)?,
                    occurred_at: time(r, "occurred_at")?,
                    task: serde_json::from_str(r.try_get("payload").map_err(classify)?)
                        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored payload: {e}")))?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((entries, u64::try_from(total).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::super::test_support::TempDb;
    use crate::store::{AuditRecord, AuditStore};

    #[tokio::test]
    async fn each_event_is_recorded_once_and_history_is_in_order_for_its_user() {
        let db = TempDb::new().await;
        let task_id = Uuid::new_v4();
        let now = crate::domain::now();
        let record = |event_type, occurred_at| AuditRecord {
            event_id: Uuid::new_v4(),
            event_type,
            user_id: "alice".into(),
            task_id,
            occurred_at,
            task: serde_json::json!({"id": task_id, "title": "t"}),
        };
        let updated = record("task.updated", now);
        let created = record("task.created", now - Duration::microseconds(1));
        assert_eq!(
            db.store
                .record_events(std::slice::from_ref(&updated))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            db.store
                .record_events(&[updated.clone(), created.clone()])
                .await
                .unwrap(),
            1,
            "each once"
        );
        let (history, total) = db
            .store
            .task_history("alice", task_id, 0, 10)
            .await
            .unwrap();
        let types: Vec<&str> = history.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["task.created", "task.updated"]);
        assert_eq!(total, 2);
        assert_eq!(history[1].occurred_at, now);
        assert_eq!(history[1].event_id, updated.event_id);
        assert_eq!(history[1].task, updated.task);
        let (second, total) = db.store.task_history("alice", task_id, 1, 1).await.unwrap();
        assert_eq!(
            (second.len(), second[0].event_id, total),
            (1, updated.event_id, 2)
        );
        assert_eq!(
            db.store.task_history("bob", task_id, 0, 10).await.unwrap(),
            (vec![], 0)
        );
    }
}

//! The audit trail: each event once, a task's history in order.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use super::{classify, PgStore};
use crate::store::{AuditEntry, AuditRecord, AuditStore, StoreError};

#[async_trait]
impl AuditStore for PgStore {
    async fn record_events(&self, records: &[AuditRecord]) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        // One statement for the batch: a column array per field.
        let done = sqlx::query(
            "insert into audit_log (event_id, event_type, user_id, task_id, occurred_at, payload) \
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], \
                                  $5::timestamptz[], $6::jsonb[]) \
             on conflict (event_id) do nothing",
        )
        .bind(records.iter().map(|r| r.event_id).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.event_type).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.user_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(records.iter().map(|r| r.task_id).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.occurred_at).collect::<Vec<_>>())
        .bind(records.iter().map(|r| &r.task).collect::<Vec<_>>())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn task_history(
        &self,
        user_id: &str,
        task_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        let total: i64 = sqlx::query_scalar(
            "select count(*) from audit_log where user_id = $1 and task_id = $2",
        )
        .bind(user_id)
        .bind(task_id)
        .fetch_one(&self.pool)
        .await
        .map_err(classify)?;
        let rows = sqlx::query(
            "select event_id, event_type, occurred_at, payload from audit_log \
             where user_id = $1 and task_id = $2 order by occurred_at, id limit $3 offset $4",
        )
        .bind(user_id)
        .bind(task_id)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    event_type: r.try_get("event_type").map_err(classify)?,
                    occurred_at: r.try_get("occurred_at").map_err(classify)?,
                    task: r.try_get("payload").map_err(classify)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((entries, u64::try_from(total).unwrap_or_default()))
    }
}

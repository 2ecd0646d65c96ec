//! The outbox: claimed and marked by the relay, pruned by the tick.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{classify, now_micros, optional_time, SqliteStore};
use crate::store::{OutboxBacklog, OutboxMessage, OutboxRecord, OutboxStore, StoreError};

/// A fresh row waits this long before the sweep may take it: the inline relay, which
/// publishes it right after the commit, owns it meanwhile (PostgreSQL's column default).
const INLINE_RELAY_GRACE: Duration = Duration::from_secs(10);
/// A failed attempt waits 2^attempts seconds, at most this long.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_pending(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // One statement: it holds the write lock from its first read, so concurrent
        // claimers take turns and each sees the rows the ones before it leased.
        let now = now_micros();
        let rows = sqlx::query(
            "update outbox set next_attempt_at = ?1, attempts = attempts + 1 \
             where id in (select id from outbox where published_at is null and next_attempt_at <= ?2 \
                          order by id limit ?3) \
             returning id, event_id, topic, partition_key, payload, traceparent",
        )
        .bind(now.saturating_add(duration_micros(lease)))
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.writer)
        .await
        .map_err(classify)?;
        outbox_messages(&rows)
    }

    async fn mark_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = serde_json::Value::from(ids.to_vec()).to_string();
        sqlx::query(
            "update outbox set published_at = ?1, last_error = null \
             where id in (select value from json_each(?2)) and published_at is null",
        )
        .bind(now_micros())
        .bind(ids)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "update outbox set last_error = substr(?2, 1, 2000), \
                 next_attempt_at = ?3 + min(1 << min(attempts, 12), ?4) * 1000000 \
             where id = ?1",
        )
        .bind(id)
        .bind(error)
        .bind(now_micros())
        .bind(MAX_BACKOFF.as_secs() as i64)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn prune_published(&self, older_than: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query("delete from outbox where published_at < ?1")
            .bind(now_micros().saturating_sub(duration_micros(older_than)))
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        let row = sqlx::query(
            "select count(*) as pending, min(created_at) as oldest from outbox \
             where published_at is null",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(classify)?;
        let pending: i64 = row.try_get("pending").map_err(classify)?;
        Ok(OutboxBacklog {
            pending: pending.unsigned_abs(),
            oldest: optional_time(&row, "oldest")?,
        })
    }
}

fn duration_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Writes `records` to the outbox in the change's transaction, in order; answers the rows
/// for the relay.
pub(super) async fn insert_outbox(
    tx: &mut Transaction<'static, Sqlite>,
    records: &[OutboxRecord],
) -> Result<Vec<OutboxMessage>, StoreError> {
    let now = now_micros();
    let mut messages = Vec::with_capacity(records.len());
    for record in records {
        let row = sqlx::query(
            "insert into outbox \
                 (event_id, topic, partition_key, payload, created_at, next_attempt_at, traceparent) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             returning id, event_id, topic, partition_key, payload, traceparent",
        )
        .bind(record.event_id)
        .bind(record.topic)
        .bind(&record.partition_key)
        .bind(record.payload.to_string())
        .bind(now)
        .bind(now.saturating_add(duration_micros(INLINE_RELAY_GRACE)))
        .bind(record.traceparent.as_deref())
        .fetch_one(&mut **tx)
        .await
        .map_err(classify)?;
        messages.push(outbox_message(&row)?);
    }
    Ok(messages)
}

fn outbox_message(row: &SqliteRow) -> Result<OutboxMessage, StoreError> {
    let payload: &str = row.try_get("payload").map_err(classify)?;
    Ok(OutboxMessage {
        id: row.try_get("id").map_err(classify)?,
        event_id: row.try_get("event_id").map_err(classify)?,
        topic: row.try_get("topic").map_err(classify)?,
        partition_key: row.try_get("partition_key").map_err(classify)?,
        payload: serde_json::from_str(payload)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("stored payload: {e}")))?,
        traceparent: row.try_get("traceparent").map_err(classify)?,
    })
}

/// Outbox rows as messages, in publishing order.
fn outbox_messages(rows: &[SqliteRow]) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut messages = rows
        .iter()
        .map(outbox_message)
        .collect::<Result<Vec<_>, StoreError>>()?;
    messages.sort_by_key(|m| m.id);
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use uuid::Uuid;

    use super::super::test_support::TempDb;
    use super::*;

    /// Writes `n` outbox rows, due now (past the relay's grace period).
    async fn pending(db: &TempDb, n: usize) -> Vec<i64> {
        let mut tx = db.store.begin().await.unwrap();
        let records: Vec<OutboxRecord> = (0..n)
            .map(|i| OutboxRecord {
                event_id: Uuid::new_v4(),
                topic: "task-events",
                partition_key: "alice".into(),
                payload: serde_json::json!({"n": i}),
                traceparent: None,
            })
            .collect();
        let written = insert_outbox(&mut tx, &records).await.unwrap();
        tx.commit().await.unwrap();
        let ids: Vec<i64> = written.iter().map(|m| m.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
        ids
    }

    async fn make_due(db: &TempDb) {
        sqlx::query("update outbox set next_attempt_at = ?1 where published_at is null")
            .bind(now_micros() - 1)
            .execute(db.store.pool())
            .await
            .unwrap();
    }

    async fn wait_secs(db: &TempDb, id: i64) -> f64 {
        let next: i64 = sqlx::query_scalar("select next_attempt_at from outbox where id = ?1")
            .bind(id)
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        (next - now_micros()) as f64 / 1e6
    }

    #[tokio::test]
    async fn fresh_rows_belong_to_the_inline_relay_for_a_grace_period() {
        let db = TempDb::new().await;
        let ids = pending(&db, 2).await;
        assert!((9.0..=10.0).contains(&wait_secs(&db, ids[0]).await));
        let claimed = db
            .store
            .claim_pending(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(claimed.is_empty(), "not the sweep's yet");
        assert_eq!(db.store.outbox_backlog().await.unwrap().pending, 2);
    }

    #[tokio::test]
    async fn a_claim_leases_publish_marks_failure_backs_off_and_prune_removes() {
        let db = TempDb::new().await;
        let ids = pending(&db, 3).await;
        make_due(&db).await;
        let claimed = db
            .store
            .claim_pending(2, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..2]);
        assert_eq!(claimed[1].payload, serde_json::json!({"n": 1}));
        let again = db
            .store
            .claim_pending(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            again.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[2..],
            "leased rows hidden"
        );

        db.store.mark_published(&ids[..1]).await.unwrap();
        db.store
            .mark_failed(ids[1], &"e".repeat(3000))
            .await
            .unwrap();
        // attempts = 1 after one claim: the next attempt waits 2 s.
        assert!((1.0..=2.0).contains(&wait_secs(&db, ids[1]).await));
        let error: String = sqlx::query_scalar("select last_error from outbox where id = ?1")
            .bind(ids[1])
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(error.len(), 2000);
        // After many attempts, an hour at most.
        sqlx::query("update outbox set attempts = 30 where id = ?1")
            .bind(ids[1])
            .execute(db.store.pool())
            .await
            .unwrap();
        db.store.mark_failed(ids[1], "again").await.unwrap();
        assert!((3599.0..=3600.0).contains(&wait_secs(&db, ids[1]).await));
        assert_eq!(db.store.outbox_backlog().await.unwrap().pending, 2);

        assert_eq!(
            db.store
                .prune_published(Duration::from_secs(60))
                .await
                .unwrap(),
            0
        );
        assert_eq!(db.store.prune_published(Duration::ZERO).await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claimers_never_take_a_row_twice() {
        let db = TempDb::new().await;
        let ids = pending(&db, 300).await;
        make_due(&db).await;
        let stores: Vec<Arc<SqliteStore>> = (0..4).map(|_| Arc::new(db.another_store())).collect();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let batch = store
                            .claim_pending(7, Duration::from_secs(600))
                            .await
                            .unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|m| m.id));
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for id in handle.await.unwrap() {
                assert!(seen.insert(id), "row {id} claimed twice");
            }
        }
        assert_eq!(seen.len(), ids.len());
    }
}

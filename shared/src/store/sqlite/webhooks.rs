//! The users' webhooks and their delivery log.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{classify, now_micros, optional_time, time, SqliteStore};
use crate::domain::Invalid;
use crate::store::{
    DeliveryAttempt, DeliveryRecord, StoreError, Webhook, WebhookStore, WebhookTarget,
    DELIVERY_BACKOFF_BASE, DELIVERY_BACKOFF_MAX, MAX_DELIVERY_ATTEMPTS, MAX_WEBHOOKS_PER_USER,
};

#[async_trait]
impl WebhookStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn create_webhook(
        &self,
        user_id: &str,
        url: &str,
        secret: &str,
    ) -> Result<Webhook, StoreError> {
        // The write lock, held from the start, makes the count and the insert one step, so
        // the per-user limit holds under concurrency.
        let mut tx = self.begin().await?;
        let count: i64 = sqlx::query_scalar("select count(*) from webhooks where user_id = ?1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
        if count >= MAX_WEBHOOKS_PER_USER {
            return Err(StoreError::Invalid(Invalid::new(
                "url",
                format!("at most {MAX_WEBHOOKS_PER_USER} webhooks per user"),
            )));
        }
        let row = sqlx::query(
            "insert into webhooks (id, user_id, url, secret, created_at) \
             values (?1, ?2, ?3, ?4, ?5) returning id, url, created_at",
        )
        .bind(Uuid::new_v4())
        .bind(user_id)
        .bind(url)
        .bind(secret)
        .bind(now_micros())
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
            "select id, url, created_at from webhooks where user_id = ?1 order by created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
        .map_err(classify)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn delete_webhook(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from webhooks where user_id = ?1 and id = ?2")
            .bind(user_id)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    async fn webhook_deliveries(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<Vec<DeliveryRecord>>, StoreError> {
        // One snapshot for both reads.
        let mut tx = self.reader.begin().await.map_err(classify)?;
        let exists = sqlx::query("select 1 from webhooks where user_id = ?1 and id = ?2")
            .bind(user_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
        if exists.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "select event_id, attempts, last_attempt_at, last_status, last_error, delivered_at \
             from webhook_deliveries where webhook_id = ?1 \
             order by last_attempt_at desc nulls last, event_id limit 100",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRecord {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    attempts: r.try_get("attempts").map_err(classify)?,
                    last_attempt_at: optional_time(r, "last_attempt_at")?,
                    last_status: r.try_get("last_status").map_err(classify)?,
                    last_error: r.try_get("last_error").map_err(classify)?,
                    delivered_at: optional_time(r, "delivered_at")?,
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
            "select w.id, w.url, w.secret, d.attempts, d.last_attempt_at \
             from webhooks w \
             left join webhook_deliveries d on d.webhook_id = w.id and d.event_id = ?2 \
             where w.user_id = ?1 and d.delivered_at is null and coalesce(d.attempts, 0) < ?3 \
             order by w.created_at, w.id",
        )
        .bind(user_id)
        .bind(event_id)
        .bind(MAX_DELIVERY_ATTEMPTS)
        .fetch_all(&self.reader)
        .await
        .map_err(classify)?;
        let now = now_micros();
        rows.iter()
            .map(|r| {
                let attempts: Option<i32> = r.try_get("attempts").map_err(classify)?;
                let last: Option<i64> = r.try_get("last_attempt_at").map_err(classify)?;
                Ok(WebhookTarget {
                    id: r.try_get("id").map_err(classify)?,
                    url: r.try_get("url").map_err(classify)?,
                    secret: crate::config::Secret::new(
                        r.try_get::<String, _>("secret").map_err(classify)?,
                    ),
                    due: match last {
                        None => true,
                        Some(last) => {
                            last.saturating_add(backoff_micros(attempts.unwrap_or(1))) <= now
                        }
                    },
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
        // A webhook deleted meanwhile has nothing left to record (`where exists`).
        sqlx::query(
            "insert into webhook_deliveries \
                 (event_id, webhook_id, attempts, last_attempt_at, last_status, last_error, delivered_at) \
             select ?1, ?2, 1, ?5, ?3, substr(?4, 1, 2000), case when ?4 is null then ?5 end \
             where exists (select 1 from webhooks where id = ?2) \
             on conflict (event_id, webhook_id) do update set \
                 attempts = webhook_deliveries.attempts + 1, last_attempt_at = excluded.last_attempt_at, \
                 last_status = excluded.last_status, last_error = excluded.last_error, \
                 delivered_at = coalesce(webhook_deliveries.delivered_at, excluded.delivered_at)",
        )
        .bind(event_id)
        .bind(webhook_id)
        .bind(attempt.status.map(i32::from))
        .bind(attempt.error.as_deref())
        .bind(now_micros())
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }
}

/// How long after failed attempt `attempts` the next one waits: `DELIVERY_BACKOFF_BASE *
/// 2^(attempts-1)` seconds, at most `DELIVERY_BACKOFF_MAX`.
fn backoff_micros(attempts: i32) -> i64 {
    let secs =
        (DELIVERY_BACKOFF_BASE * 2f64.powi(attempts.saturating_sub(1))).min(DELIVERY_BACKOFF_MAX);
    (secs * 1e6) as i64
}

fn webhook_from_row(row: &SqliteRow) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: row.try_get("id").map_err(classify)?,
        url: row.try_get("url").map_err(classify)?,
        created_at: time(row, "created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uuid::Uuid;

    use super::super::test_support::TempDb;
    use super::*;

    const SECRET: &str = "0123456789abcdef";

    #[test]
    fn backoff_doubles_up_to_its_maximum() {
        let secs: Vec<i64> = (1..=7).map(|n| backoff_micros(n) / 1_000_000).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 60, 60]);
    }

    #[tokio::test]
    async fn urls_are_unique_per_user_and_lists_are_scoped() {
        let db = TempDb::new().await;
        let hook = db
            .store
            .create_webhook("alice", "https://a.example/h", SECRET)
            .await
            .unwrap();
        let err = db
            .store
            .create_webhook("alice", "https://a.example/h", SECRET)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        db.store
            .create_webhook("bob", "https://a.example/h", SECRET)
            .await
            .unwrap();
        assert_eq!(
            db.store.list_webhooks("alice").await.unwrap(),
            std::slice::from_ref(&hook)
        );
        assert_eq!(
            db.store.webhook_deliveries("bob", hook.id).await.unwrap(),
            None
        );
        assert!(!db.store.delete_webhook("bob", hook.id).await.unwrap());
        assert!(db.store.delete_webhook("alice", hook.id).await.unwrap());
        assert!(db.store.list_webhooks("alice").await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_per_user_limit_holds_under_concurrency() {
        let db = TempDb::new().await;
        let stores: Vec<Arc<SqliteStore>> = (0..3).map(|_| Arc::new(db.another_store())).collect();
        let handles: Vec<_> = (0..30)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                tokio::spawn(async move {
                    store
                        .create_webhook("alice", &format!("https://h{i}.example/"), SECRET)
                        .await
                })
            })
            .collect();
        let mut created = 0;
        for handle in handles {
            match handle.await.unwrap() {
                Ok(_) => created += 1,
                Err(StoreError::Invalid(_)) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(created, MAX_WEBHOOKS_PER_USER);
        assert_eq!(db.store.list_webhooks("alice").await.unwrap().len(), 10);
    }

    #[tokio::test]
    async fn deliveries_back_off_stop_when_delivered_and_skip_deleted_webhooks() {
        let db = TempDb::new().await;
        let hook = db
            .store
            .create_webhook("alice", "https://a.example/h", SECRET)
            .await
            .unwrap();
        let event = Uuid::new_v4();
        let pending = db.store.pending_deliveries("alice", event).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert!(pending[0].due);
        let failed = DeliveryAttempt {
            status: Some(500),
            error: Some("HTTP 500".into()),
        };
        db.store
            .record_delivery(event, hook.id, &failed)
            .await
            .unwrap();
        let pending = db.store.pending_deliveries("alice", event).await.unwrap();
        assert!(!pending[0].due, "backing off");
        // The backoff over (2 s after attempt 1), it is due again.
        sqlx::query("update webhook_deliveries set last_attempt_at = last_attempt_at - 2000000")
            .execute(db.store.pool())
            .await
            .unwrap();
        assert!(db.store.pending_deliveries("alice", event).await.unwrap()[0].due);
        let ok = DeliveryAttempt {
            status: Some(204),
            error: None,
        };
        db.store.record_delivery(event, hook.id, &ok).await.unwrap();
        assert!(db
            .store
            .pending_deliveries("alice", event)
            .await
            .unwrap()
            .is_empty());
        let log = db
            .store
            .webhook_deliveries("alice", hook.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].attempts, log[0].last_status), (2, Some(204)));
        assert!(log[0].delivered_at.is_some() && log[0].last_error.is_none());

        // Out of attempts: no longer pending.
        let other = Uuid::new_v4();
        for _ in 0..MAX_DELIVERY_ATTEMPTS {
            db.store
                .record_delivery(other, hook.id, &failed)
                .await
                .unwrap();
        }
        assert!(db
            .store
            .pending_deliveries("alice", other)
            .await
            .unwrap()
            .is_empty());

        // A deleted webhook records nothing.
        db.store.delete_webhook("alice", hook.id).await.unwrap();
        db.store
            .record_delivery(Uuid::new_v4(), hook.id, &ok)
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar("select count(*) from webhook_deliveries")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0);
    }
}

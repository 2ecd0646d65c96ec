//! The users' webhooks and their delivery log.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use chrono::{DateTime, Utc};

use super::{classify, micros, now_micros, optional_time, time, SqliteStore};
use crate::domain::Invalid;
use crate::store::{
    DeliveryAttempt, DeliveryRecord, DeliveryStatus, DueRetry, StoreError, Webhook, WebhookStore,
    WebhookTarget, MAX_WEBHOOKS_PER_USER,
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
            "select event_id, attempts, last_attempt_at, last_status, last_error, delivered_at, \
                 next_attempt_at, failed_at \
             from webhook_deliveries where webhook_id = ?1 \
             order by last_attempt_at desc nulls last, event_id limit 100",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                let delivered_at = optional_time(r, "delivered_at")?;
                let failed_at = optional_time(r, "failed_at")?;
                Ok(DeliveryRecord {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    status: DeliveryStatus::of(delivered_at, failed_at),
                    attempts: r.try_get("attempts").map_err(classify)?,
                    last_attempt_at: optional_time(r, "last_attempt_at")?,
                    last_status: r.try_get("last_status").map_err(classify)?,
                    last_error: r.try_get("last_error").map_err(classify)?,
                    delivered_at,
                    next_attempt_at: optional_time(r, "next_attempt_at")?,
                    failed_at,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    async fn claim_first_deliveries(
        &self,
        user_id: &str,
        event_id: Uuid,
        payload: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<WebhookTarget>, StoreError> {
        const UNCLAIMED: &str = "select w.id, w.url, w.secret from webhooks w \
             where w.user_id = ?1 and not exists \
                 (select 1 from webhook_deliveries d where d.webhook_id = w.id and d.event_id = ?2) \
             order by w.created_at, w.id";
        // Most users have no webhook: they cost a read, not the write lock.
        let unclaimed = sqlx::query(UNCLAIMED)
            .bind(user_id)
            .bind(event_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(classify)?;
        if unclaimed.is_none() {
            return Ok(Vec::new());
        }
        // The write lock, held from the transaction's start, makes the read and the claims
        // one step: a concurrent claim waits, then finds the lines there.
        let mut tx = self.begin().await?;
        let rows = sqlx::query(UNCLAIMED)
            .bind(user_id)
            .bind(event_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
        let targets = rows
            .iter()
            .map(target_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for target in &targets {
            sqlx::query(
                "insert into webhook_deliveries (event_id, webhook_id, attempts, next_attempt_at, payload) \
                 values (?1, ?2, 0, ?3, ?4)",
            )
            .bind(event_id)
            .bind(target.id)
            .bind(micros(lease_until))
            .bind(payload)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(targets)
    }

    async fn record_delivery(
        &self,
        event_id: Uuid,
        webhook_id: Uuid,
        attempt: &DeliveryAttempt,
        next_attempt_at: Option<DateTime<Utc>>,
        payload: &str,
    ) -> Result<(), StoreError> {
        // ?6: the next attempt; ?7: the payload while one is owed. A webhook deleted
        // meanwhile has nothing left to record (`where exists`).
        let delivered = attempt.delivered();
        let next = next_attempt_at.filter(|_| !delivered).map(micros);
        sqlx::query(
            "insert into webhook_deliveries (event_id, webhook_id, attempts, last_attempt_at, \
                 last_status, last_error, delivered_at, failed_at, next_attempt_at, payload) \
             select ?1, ?2, 1, ?5, ?3, substr(?4, 1, 2000), \
                 case when ?4 is null then ?5 end, \
                 case when ?4 is not null and ?6 is null then ?5 end, ?6, ?7 \
             where exists (select 1 from webhooks where id = ?2) \
             on conflict (event_id, webhook_id) do update set \
                 attempts = webhook_deliveries.attempts + 1, last_attempt_at = excluded.last_attempt_at, \
                 last_status = excluded.last_status, last_error = excluded.last_error, \
                 delivered_at = coalesce(webhook_deliveries.delivered_at, excluded.delivered_at), \
                 failed_at = case when webhook_deliveries.delivered_at is null \
                     then excluded.failed_at end, \
                 next_attempt_at = case when webhook_deliveries.delivered_at is null \
                     then excluded.next_attempt_at end, \
                 payload = case when webhook_deliveries.delivered_at is null \
                     then excluded.payload end",
        )
        .bind(event_id)
        .bind(webhook_id)
        .bind(attempt.status.map(i32::from))
        .bind(attempt.error.as_deref())
        .bind(micros(attempt.at))
        .bind(next)
        .bind(next.map(|_| payload))
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn claim_due_retries(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<DueRetry>, StoreError> {
        // The write lock, held from the transaction's start, makes the read and the lease
        // one step: a concurrent sweep waits, then finds them leased.
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "select d.event_id, d.attempts, d.payload, w.id, w.url, w.secret \
             from webhook_deliveries d join webhooks w on w.id = d.webhook_id \
             where d.next_attempt_at <= ?1 \
             order by d.next_attempt_at, d.event_id, d.webhook_id limit ?2",
        )
        .bind(micros(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(classify)?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let retry = DueRetry {
                event_id: r.try_get("event_id").map_err(classify)?,
                webhook: target_from_row(r)?,
                attempts: r.try_get("attempts").map_err(classify)?,
                payload: r.try_get("payload").map_err(classify)?,
            };
            sqlx::query(
                "update webhook_deliveries set next_attempt_at = ?3 \
                 where event_id = ?1 and webhook_id = ?2",
            )
            .bind(retry.event_id)
            .bind(retry.webhook.id)
            .bind(micros(lease_until))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            due.push(retry);
        }
        tx.commit().await.map_err(classify)?;
        Ok(due)
    }
}

fn target_from_row(r: &SqliteRow) -> Result<WebhookTarget, StoreError> {
    Ok(WebhookTarget {
        id: r.try_get("id").map_err(classify)?,
        url: r.try_get("url").map_err(classify)?,
        secret: crate::config::Secret::new(r.try_get::<String, _>("secret").map_err(classify)?),
    })
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
    async fn failed_deliveries_wait_for_their_retry_are_claimed_once_and_end_delivered_or_failed() {
        let db = TempDb::new().await;
        let hook = db
            .store
            .create_webhook("alice", "https://a.example/h", SECRET)
            .await
            .unwrap();
        let event = Uuid::new_v4();
        let t0 = crate::domain::now();
        let secs = chrono::Duration::seconds;
        let first = |lease_until| {
            db.store
                .claim_first_deliveries("alice", event, "{\"e\":1}", lease_until)
        };
        let claimed = first(t0 + secs(5)).await.unwrap();
        assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), [hook.id]);
        assert!(
            first(t0 + secs(5)).await.unwrap().is_empty(),
            "claimed once"
        );
        let log = db
            .store
            .webhook_deliveries("alice", hook.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (log[0].status, log[0].attempts),
            (DeliveryStatus::Retrying, 0)
        );
        assert_eq!(log[0].next_attempt_at, Some(t0 + secs(5)));
        let failed = DeliveryAttempt {
            at: t0,
            status: Some(500),
            error: Some("HTTP 500".into()),
        };
        db.store
            .record_delivery(event, hook.id, &failed, Some(t0 + secs(30)), "{\"e\":1}")
            .await
            .unwrap();
        assert!(
            first(t0 + secs(5)).await.unwrap().is_empty(),
            "its first attempt was made"
        );
        let claim = |now| db.store.claim_due_retries(10, now, now + secs(300));
        assert!(
            claim(t0 + secs(29)).await.unwrap().is_empty(),
            "backing off"
        );
        let due = claim(t0 + secs(31)).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].event_id, due[0].webhook.id), (event, hook.id));
        assert_eq!((due[0].attempts, due[0].payload.as_str()), (1, "{\"e\":1}"));
        assert!(claim(t0 + secs(31)).await.unwrap().is_empty(), "leased");
        let ok = DeliveryAttempt {
            at: t0 + secs(32),
            status: Some(204),
            error: None,
        };
        db.store
            .record_delivery(event, hook.id, &ok, Some(t0 + secs(90)), "{}")
            .await
            .unwrap();
        let log = db
            .store
            .webhook_deliveries("alice", hook.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].status, DeliveryStatus::Delivered);
        assert_eq!((log[0].attempts, log[0].last_status), (2, Some(204)));
        assert_eq!(log[0].delivered_at, Some(ok.at));
        assert!(log[0].next_attempt_at.is_none() && log[0].last_error.is_none());
        assert!(
            claim(t0 + secs(9999)).await.unwrap().is_empty(),
            "delivered"
        );

        // Failed with no next attempt: given up.
        let other = Uuid::new_v4();
        db.store
            .record_delivery(other, hook.id, &failed, None, "{}")
            .await
            .unwrap();
        let log = db
            .store
            .webhook_deliveries("alice", hook.id)
            .await
            .unwrap()
            .unwrap();
        let given_up = log.iter().find(|r| r.event_id == other).unwrap();
        assert_eq!(given_up.status, DeliveryStatus::Failed);
        assert_eq!(given_up.failed_at, Some(t0));
        assert!(claim(t0 + secs(9999)).await.unwrap().is_empty(), "given up");

        // A deleted webhook records nothing.
        db.store.delete_webhook("alice", hook.id).await.unwrap();
        db.store
            .record_delivery(Uuid::new_v4(), hook.id, &ok, None, "{}")
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar("select count(*) from webhook_deliveries")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 0);
    }
}

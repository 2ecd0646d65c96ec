//! The users' webhooks and their delivery log.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

use chrono::{DateTime, Utc};

use super::{classify, PgStore};
use crate::domain::Invalid;
use crate::store::{
    DeliveryAttempt, DeliveryRecord, DeliveryStatus, DueRetry, StoreError, Webhook, WebhookStore,
    WebhookTarget, MAX_WEBHOOKS_PER_USER,
};

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
            return Err(StoreError::Invalid(Invalid::new(
                "url",
                format!("at most {MAX_WEBHOOKS_PER_USER} webhooks per user"),
            )));
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
            "select event_id, attempts, last_attempt_at, last_status, last_error, delivered_at, \
                 next_attempt_at, failed_at \
             from webhook_deliveries where webhook_id = $1 \
             order by last_attempt_at desc nulls last, event_id limit 100",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                let delivered_at = r.try_get("delivered_at").map_err(classify)?;
                let failed_at = r.try_get("failed_at").map_err(classify)?;
                Ok(DeliveryRecord {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    status: DeliveryStatus::of(delivered_at, failed_at),
                    attempts: r.try_get("attempts").map_err(classify)?,
                    last_attempt_at: r.try_get("last_attempt_at").map_err(classify)?,
                    last_status: r.try_get("last_status").map_err(classify)?,
                    last_error: r.try_get("last_error").map_err(classify)?,
                    delivered_at,
                    next_attempt_at: r.try_get("next_attempt_at").map_err(classify)?,
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
        // `on conflict do nothing`: of two concurrent claims of a pair, the second waits for
        // the first to commit and then claims nothing.
        let rows = sqlx::query(
            "with mine as (select id, url, secret, created_at from webhooks where user_id = $1), \
             claimed as ( \
                 insert into webhook_deliveries (event_id, webhook_id, attempts, next_attempt_at, payload) \
                 select $2, id, 0, $3, $4 from mine \
                 on conflict (event_id, webhook_id) do nothing \
                 returning webhook_id) \
             select m.id, m.url, m.secret from mine m join claimed c on c.webhook_id = m.id \
             order by m.created_at, m.id",
        )
        .bind(user_id)
        .bind(event_id)
        .bind(lease_until)
        .bind(payload)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(target_from_row).collect()
    }

    async fn record_delivery(
        &self,
        event_id: Uuid,
        webhook_id: Uuid,
        attempt: &DeliveryAttempt,
        next_attempt_at: Option<DateTime<Utc>>,
        payload: &str,
    ) -> Result<(), StoreError> {
        // $5: the next attempt; $6: the payload while one is owed. A webhook deleted
        // meanwhile has nothing left to record (`where exists`).
        let next = next_attempt_at.filter(|_| !attempt.delivered());
        sqlx::query(
            "insert into webhook_deliveries (event_id, webhook_id, attempts, last_attempt_at, \
                 last_status, last_error, delivered_at, failed_at, next_attempt_at, payload) \
             select $1, $2, 1, $7, $3, left($4, 2000), \
                 case when $4 is null then $7::timestamptz end, \
                 case when $4 is not null and $5::timestamptz is null then $7::timestamptz end, $5, $6 \
             where exists (select 1 from webhooks where id = $2) \
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
        .bind(next)
        .bind(next.map(|_| payload))
        .bind(attempt.at)
        .execute(&self.pool)
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
        // `skip locked`: a concurrent sweep takes other rows, never these.
        let rows = sqlx::query(
            "with due as ( \
                 select event_id, webhook_id from webhook_deliveries \
                 where next_attempt_at <= $1 \
                 order by next_attempt_at, event_id, webhook_id limit $2 \
                 for update skip locked) \
             update webhook_deliveries d set next_attempt_at = $3 \
             from due, webhooks w \
             where d.event_id = due.event_id and d.webhook_id = due.webhook_id \
                 and w.id = d.webhook_id \
             returning d.event_id, d.attempts, d.payload, w.id, w.url, w.secret",
        )
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|r| {
                Ok(DueRetry {
                    event_id: r.try_get("event_id").map_err(classify)?,
                    webhook: target_from_row(r)?,
                    attempts: r.try_get("attempts").map_err(classify)?,
                    payload: r.try_get("payload").map_err(classify)?,
                })
            })
            .collect()
    }
}

fn target_from_row(r: &PgRow) -> Result<WebhookTarget, StoreError> {
    Ok(WebhookTarget {
        id: r.try_get("id").map_err(classify)?,
        url: r.try_get("url").map_err(classify)?,
        secret: crate::config::Secret::new(r.try_get::<String, _>("secret").map_err(classify)?),
    })
}

fn webhook_from_row(row: &PgRow) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: row.try_get("id").map_err(classify)?,
        url: row.try_get("url").map_err(classify)?,
        created_at: row.try_get("created_at").map_err(classify)?,
    })
}

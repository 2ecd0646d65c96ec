//! The outbox: claimed and marked by the relay, pruned by the tick.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row, Transaction};

use super::{classify, PgStore};
use crate::store::{OutboxBacklog, OutboxMessage, OutboxRecord, OutboxStore, StoreError};

/// The sweep's claim: the oldest `$1` due pending rows, leased for `$2` seconds. Its plan
/// must read the index of the pending rows by id (`outbox_pending_id`), not walk the
/// primary key past every published row still kept (`tests/outbox_claim_plan.rs`).
pub const CLAIM_PENDING: &str =
    "update outbox set next_attempt_at = now() + make_interval(secs => $2), attempts = attempts + 1 \
     where id in (select id from outbox where published_at is null and next_attempt_at <= now() \
                  order by id limit $1 for update skip locked) \
     returning id, event_id, topic, partition_key, payload, traceparent";

#[async_trait]
impl OutboxStore for PgStore {
    async fn claim_pending(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query(CLAIM_PENDING)
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

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        let row =
            sqlx::query("select count(*), min(created_at) from outbox where published_at is null")
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
        let pending: i64 = row.try_get(0).map_err(classify)?;
        Ok(OutboxBacklog {
            pending: pending.unsigned_abs(),
            oldest: row.try_get(1).map_err(classify)?,
        })
    }
}

/// Writes `records` to the outbox in the change's transaction, in order; answers the rows
/// for the relay.
pub(super) async fn insert_outbox(
    tx: &mut Transaction<'static, Postgres>,
    records: &[OutboxRecord],
) -> Result<Vec<OutboxMessage>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let rows = bind_outbox(sqlx::query(&outbox_insert(1, "true")), records)
        .fetch_all(&mut **tx)
        .await
        .map_err(classify)?;
    outbox_messages(&rows)
}

/// The statement that writes outbox records, in order, when `condition` (SQL) holds, and
/// answers the rows ([`outbox_messages`]); its parameters are numbered from `$first` on
/// and bound by [`bind_outbox`]. Also a part of a larger statement (a task's insert).
pub(super) fn outbox_insert(first: usize, condition: &str) -> String {
    let [e, t, k, p, c] = [0, 1, 2, 3, 4].map(|i| format!("${}", first + i));
    format!(
        "insert into outbox (event_id, topic, partition_key, payload, traceparent) \
         select e.id, e.topic, e.key, e.payload, e.trace \
         from unnest({e}::uuid[], {t}::text[], {k}::text[], {p}::jsonb[], {c}::text[]) \
             with ordinality as e(id, topic, key, payload, trace, n) \
         where {condition} order by e.n \
         returning id, event_id, topic, partition_key, payload, traceparent"
    )
}

/// Binds `records` to the parameters of [`outbox_insert`].
pub(super) fn bind_outbox<'q>(
    query: Query<'q, Postgres, PgArguments>,
    records: &'q [OutboxRecord],
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(records.iter().map(|r| r.event_id).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.topic).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.partition_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(records.iter().map(|r| &r.payload).collect::<Vec<_>>())
        .bind(
            records
                .iter()
                .map(|r| r.traceparent.as_deref())
                .collect::<Vec<_>>(),
        )
}

/// Outbox rows as messages, in publishing order.
pub(super) fn outbox_messages(rows: &[PgRow]) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut messages = rows
        .iter()
        .map(|row| {
            Ok(OutboxMessage {
                id: row.try_get("id").map_err(classify)?,
                event_id: row.try_get("event_id").map_err(classify)?,
                topic: row.try_get("topic").map_err(classify)?,
                partition_key: row.try_get("partition_key").map_err(classify)?,
                payload: row.try_get("payload").map_err(classify)?,
                traceparent: row.try_get("traceparent").map_err(classify)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    messages.sort_by_key(|m| m.id);
    Ok(messages)
}

//! `reminder-tick` — driven by the Dapr cron input binding `reminder-cron` (every minute):
//! daprd `POST /reminder-cron`.
//!
//! 1. Claims due reminders in batches, each batch one transaction (`for update skip
//!    locked`): marks them sent and writes their `reminder.due` events to the outbox, so
//!    two ticks at once never send a reminder twice; then publishes the batch.
//! 2. Sweeps the outbox (publishes what an inline publish could not, with backoff) and
//!    prunes published rows past their retention.
//! 3. The webhook retry sweep: attempts again the failed deliveries whose backoff is over
//!    (`webhooks::Webhooks::retry_due`; bounded, so it never delays the next tick much).
//!
//! Answers 200 only when every batch is committed; any other answer makes daprd log it,
//! and the next tick picks up where this one stopped.

use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;

use crate::domain;
use crate::events;
use crate::http::ApiError;
use crate::http::AppState;
use crate::http::Function;
use crate::webhooks::RetryReport;

pub const BINDING: &str = "reminder-cron";
/// Published outbox rows are kept this long (for inspection), then deleted.
pub const OUTBOX_RETENTION: Duration = Duration::from_secs(72 * 3600);
/// Reminders claimed per transaction.
pub const REMINDER_BATCH: usize = 1000;
/// At most this many batches per tick; the next tick continues.
const MAX_REMINDER_BATCHES: usize = 100;
/// Outbox rows claimed per sweep batch (the transport splits them into its own requests).
const SWEEP_BATCH: usize = 1000;
/// How long one tick's outbox sweep may go on: a backlog left by a broker outage drains
/// in the first tick after it, and the sweep still ends well inside the binding's minute,
/// so ticks do not overlap (two sweeps at once could reorder a user's events).
const SWEEP_BUDGET: Duration = Duration::from_secs(30);

pub const FUNCTION: Function = Function {
    name: "reminder-tick",
    api: crate::http::no_api,
    pages: crate::http::no_routes,
    sidecar,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

fn sidecar() -> Router<AppState> {
    Router::new().route(&format!("/{BINDING}"), post(handler))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Reminders claimed (marked sent, reminder.due written) by this tick.
    pub reminders: usize,
    /// Outbox rows the sweep published, and those it failed to.
    pub published: usize,
    pub failed: usize,
    pub pruned: u64,
    /// The webhook retry sweep.
    pub retries: RetryReport,
}

#[tracing::instrument(skip_all)]
async fn handler(State(state): State<AppState>) -> Result<Json<TickReport>, ApiError> {
    let started = std::time::Instant::now();
    let mut report = TickReport::default();
    for _ in 0..MAX_REMINDER_BATCHES {
        let claimed = state
            .store
            .claim_due_reminders(REMINDER_BATCH, None, domain::now(), &events::reminder_due)
            .await?;
        let n = claimed.value;
        report.reminders += n;
        state.publish(claimed).await;
        if n < REMINDER_BATCH {
            break;
        }
    }
    let swept = state.relay.sweep_for(SWEEP_BATCH, SWEEP_BUDGET).await?;
    report.published = swept.published;
    report.failed = swept.failed;
    report.pruned = state.relay.prune(OUTBOX_RETENTION).await?;
    report.retries = state.webhooks.retry_due(state.store.as_ref()).await?;
    metrics::histogram!("reminder_tick_duration_seconds").record(started.elapsed().as_secs_f64());
    metrics::counter!("reminder_tick_claims_total").increment(report.reminders as u64);
    if report != TickReport::default() {
        tracing::info!(
            reminders = report.reminders,
            published = report.published,
            failed = report.failed,
            pruned = report.pruned,
            retried = report.retries.attempted,
            retries_delivered = report.retries.delivered,
            retries_given_up = report.retries.given_up,
            "tick"
        );
    }
    Ok(Json(report))
}

//! `reminder-tick` — driven by the Dapr cron input binding `reminder-cron` (every minute):
//! daprd `POST /reminder-cron`. Sweeps the outbox (publishes what the inline relay could
//! not, with backoff) and prunes published rows past their retention. Answers 200 only
//! when the work is done; any other answer makes daprd log and retry on the next tick.

use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::events::relay::SweepReport;
use crate::functions::Function;
use crate::http::AppState;

pub const BINDING: &str = "reminder-cron";
/// Published outbox rows are kept this long (for inspection), then deleted.
pub const OUTBOX_RETENTION: Duration = Duration::from_secs(72 * 3600);

pub const FUNCTION: Function = Function {
    name: "reminder-tick",
    routes,
    subscriptions: &[],
};

fn routes() -> Router<AppState> {
    Router::new().route(&format!("/{BINDING}"), post(handler))
}

#[tracing::instrument(skip_all)]
async fn handler(State(state): State<AppState>) -> Result<Json<SweepReport>, ApiError> {
    let report = state.relay.sweep_all(100, 50).await?;
    let pruned = state.relay.prune(OUTBOX_RETENTION).await?;
    if report.published + report.failed + pruned as usize > 0 {
        tracing::info!(
            published = report.published,
            failed = report.failed,
            pruned,
            "outbox swept"
        );
    }
    Ok(Json(report))
}

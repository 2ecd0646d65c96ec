//! `reminder-jobs` — exact-time reminders with the Dapr Jobs API (deploy it when the Dapr
//! scheduler runs; the cron tick stays as the safety net).
//!
//! - Subscribed to `task-events`: a task with an armed reminder (remind_at set, not sent,
//!   not completed) gets job `reminder-<task_id>` scheduled at remind_at, replacing any
//!   earlier one; a task whose reminder was cleared, sent, completed or deleted has its job
//!   deleted.
//! - daprd `POST /job/reminder-<task_id>` when the job is due: claims that task's reminder
//!   exactly as the tick does (marked sent and `reminder.due` written in one transaction),
//!   so a reminder fires once whichever comes first, job or tick.
//!
//! The jobs are scheduled through this function's own sidecar, because the scheduler calls
//! a job back on the app that scheduled it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use uuid::Uuid;

use crate::dapr::Refused;
use crate::domain;
use crate::events::subscription::{self, ConsumeError, Reply, Subscription};
use crate::events::{self, EventType, TaskEvent, TASK_EVENTS};
use crate::http::ApiError;
use crate::http::AppState;
use crate::http::Function;

const ROUTE: &str = "/events/reminder-jobs";
const JOB_PREFIX: &str = "reminder-";

pub const FUNCTION: Function = Function {
    name: "reminder-jobs",
    api: crate::http::no_api,
    pages: crate::http::no_routes,
    sidecar,
    setup: crate::http::no_setup,
    subscriptions: &[Subscription {
        pubsub: events::PUBSUB,
        topic: TASK_EVENTS,
        route: ROUTE,
        bulk: false,
    }],
};

fn sidecar() -> Router<AppState> {
    Router::new()
        .route(ROUTE, post(consume))
        .route("/job/{name}", post(fire))
}

/// The job name of a task's reminder.
pub fn job_name(task_id: Uuid) -> String {
    format!("{JOB_PREFIX}{task_id}")
}

#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Reply {
    let state = &state;
    subscription::consume(&body, |event: TaskEvent| async move {
        let task = &event.task;
        let name = job_name(task.id);
        let armed = task
            .armed_reminder()
            .filter(|_| event.event_type != EventType::Deleted);
        match armed {
            Some(remind_at) => {
                let data = serde_json::json!({ "task_id": task.id, "user_id": task.user_id });
                match state.sidecar.schedule_job(&name, remind_at, &data).await {
                    Ok(()) => tracing::debug!(job = %name, %remind_at, "reminder job scheduled"),
                    // Refused for good (4xx): asking again cannot help; the tick sends it.
                    Err(e) if e.downcast_ref::<Refused>().is_some_and(Refused::is_permanent) => {
                        tracing::error!(job = %name, error = %e, "the scheduler refused a reminder job; the cron tick will send it");
                    }
                    Err(e) => return Err(ConsumeError::Retry(e)),
                }
            }
            None => {
                // A leftover job finds nothing to claim, so a failed delete is harmless.
                if let Err(e) = state.sidecar.delete_job(&name).await {
                    tracing::warn!(job = %name, error = %format!("{e:#}"), "could not delete a reminder job");
                }
            }
        }
        Ok(())
    })
    .await
}

/// Fires a task's reminder job. 404 for a job that is not a reminder (daprd then gives up
/// on it); 503 when the database is out, so the scheduler tries again.
#[tracing::instrument(skip_all, fields(job = %name))]
async fn fire(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let task_id = name
        .strip_prefix(JOB_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(ApiError::NotFound)?;
    let claimed = state
        .store
        .claim_due_reminders(1, Some(task_id), domain::now(), &events::reminder_due)
        .await?;
    let reminders = claimed.value;
    state.publish(claimed).await;
    tracing::info!(%task_id, reminders, "reminder job fired");
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "reminders": reminders })),
    ))
}

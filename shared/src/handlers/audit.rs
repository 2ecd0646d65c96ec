//! `audit` — subscribed to `task-events`: records every task event once (by event id) in
//! the audit log, and serves `GET /api/{user_id}/tasks/{id}/history`, the task's events
//! in order (404 when there are none for this user).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::subscription::{self, ConsumeError, Reply, Subscription, Traced};
use crate::events::{self, TaskEvent, TASK_EVENTS};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, PathId};
use crate::store::{AuditEntry, AuditRecord};

const ROUTE: &str = "/events/audit";

pub const FUNCTION: Function = Function {
    name: "audit",
    api,
    pages: crate::http::no_routes,
    sidecar,
    setup: crate::http::no_setup,
    subscriptions: &[Subscription {
        pubsub: events::PUBSUB,
        topic: TASK_EVENTS,
        route: ROUTE,
        bulk: true,
    }],
};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(consume))
}

#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Reply {
    subscription::consume_batch(&body, |events: Vec<Traced<TaskEvent>>| async move {
        let records: Vec<AuditRecord> = events.iter().map(|e| e.event.audit_record()).collect();
        record(&state, &records).await
    })
    .await
}

/// Records a batch of events in one write; when that fails, each on its own, so one bad
/// event never fails its neighbours (and the order of a user's events does not matter:
/// the history is ordered by when they occurred).
async fn record(state: &AppState, records: &[AuditRecord]) -> Vec<Result<(), ConsumeError>> {
    match state.store.record_events(records).await {
        Ok(_) => records.iter().map(|_| Ok(())).collect(),
        Err(e) if records.len() == 1 => vec![Err(e.into())],
        Err(e) => {
            tracing::debug!(error = %e, "a batch of audit records failed; recording one at a time");
            let mut results = Vec::with_capacity(records.len());
            for record in records {
                let one = state
                    .store
                    .record_events(std::slice::from_ref(record))
                    .await;
                results.push(one.map(drop).map_err(ConsumeError::from));
            }
            results
        }
    }
}

/// A task's history
///
/// Every event of the task, in order (a deleted task's too). Recorded as the events
/// arrive, so the latest change can take a moment to show.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks/{id}/history",
    operation_id = "taskHistory",
    responses(
        (status = 200, description = "The task's events, oldest first", body = Vec<AuditEntry>),
        (status = 503),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let entries = state.store.task_history(&user.0, id).await?;
    if entries.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(entries))
}

//! `audit` — subscribed to `task-events`: records every task event once (by event id) in
//! the audit log, and serves `GET /api/{user_id}/tasks/{id}/history`, the task's events
//! in order (404 when there are none for this user).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::subscription::{self, Reply, Subscription};
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

/// Records a delivery's events in one write (`subscription::consume_together`: one at a
/// time when that fails, to isolate a bad one).
#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Reply {
    subscription::consume_together(&body, |events: &[(&TaskEvent, &tracing::Span)]| {
        let records: Vec<AuditRecord> = events.iter().map(|(e, _)| e.audit_record()).collect();
        let store = state.store.clone();
        Box::pin(async move { store.record_events(&records).await.map(drop) })
    })
    .await
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

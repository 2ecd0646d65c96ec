//! `audit` — subscribed to `task-events`: records every task event once (by event id) in
//! the audit log, and serves `GET /api/{user_id}/tasks/{id}/history`, the task's events
//! in order (404 when there are none for this user).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::subscription::{self, ConsumeError, Delivery, Subscription};
use crate::events::{self, TaskEvent, TASK_EVENTS};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, PathId};
use crate::store::AuditEntry;

const ROUTE: &str = "/events/audit";

pub const FUNCTION: Function = Function {
    name: "audit",
    api,
    pages: crate::http::no_routes,
    sidecar,
    subscriptions: &[Subscription {
        pubsub: events::PUBSUB,
        topic: TASK_EVENTS,
        route: ROUTE,
    }],
};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(consume))
}

#[tracing::instrument(skip_all)]
async fn consume(State(state): State<AppState>, body: Bytes) -> Delivery {
    subscription::consume(&body, |event: TaskEvent| async move {
        state
            .store
            .record_event(&event.audit_record())
            .await
            .map(drop)
            .map_err(ConsumeError::from)
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

//! `audit` — subscribed to `task-events`: records every task event once (by event id) in
//! the audit log, and serves `GET /api/{user_id}/tasks/{id}/history`, the task's events
//! in order (404 when there are none for this user).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

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
    sidecar,
    subscriptions: &[Subscription {
        pubsub: events::PUBSUB,
        topic: TASK_EVENTS,
        route: ROUTE,
    }],
};

fn api() -> Router<AppState> {
    Router::new().route("/api/{user_id}/tasks/{id}/history", get(history))
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

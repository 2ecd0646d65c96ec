//! `audit` — subscribed to `task-events`: records every task event once (by event id) in
//! the audit log, and serves `GET /api/{user_id}/tasks/{id}/history`, the task's events
//! in order, a page at a time (404 when there are none for this user).

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::events::subscription::{self, Reply, Subscription};
use crate::events::{self, TaskEvent, TASK_EVENTS};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, Paging, PathId};
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
/// The task's events in order, a page at a time (a deleted task's too). Recorded as the
/// events arrive, so the latest change can take a moment to show.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks/{id}/history",
    operation_id = "taskHistory",
    params(Paging),
    responses(
        (status = 200, description = "A page of the task's events, oldest first", body = HistoryPage),
        (status = 400, description = "A query parameter is unknown or not acceptable"),
        (status = 503),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    paging: Paging,
) -> Result<Json<HistoryPage>, ApiError> {
    let (items, total_count) = state
        .store
        .task_history(&user.0, id, paging.offset(), paging.page_size)
        .await?;
    if total_count == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(Json(HistoryPage {
        items,
        total_count,
        page: paging.page,
        page_size: paging.page_size,
        total_pages: paging.total_pages(total_count),
    }))
}

/// One page of a task's history.
#[derive(Serialize, utoipa::ToSchema)]
struct HistoryPage {
    items: Vec<AuditEntry>,
    total_count: u64,
    page: u32,
    page_size: u32,
    total_pages: u64,
}

//! `DELETE /api/{user_id}/tasks/{id}` — 204, or 404 when there is no such task of this user.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::delete;
use axum::Router;

use crate::events;
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, PathId};

pub const FUNCTION: Function = Function {
    name: "delete-task",
    api,
    sidecar: crate::http::no_routes,
    subscriptions: &[],
};

fn api() -> Router<AppState> {
    Router::new().route("/api/{user_id}/tasks/{id}", delete(handler))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let changed = state
        .store
        .delete_task(&user.0, id, &events::announce)
        .await?
        .ok_or(ApiError::NotFound)?;
    state.publish(changed).await;
    Ok(StatusCode::NO_CONTENT)
}

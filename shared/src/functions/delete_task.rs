//! `DELETE /api/{user_id}/tasks/{id}` — 204, or 404 when there is no such task of this user.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::delete;
use axum::Router;

use crate::error::ApiError;
use crate::http::{AppState, AuthUser, TaskId};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/{user_id}/tasks/{id}", delete(handler))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn handler(State(state): State<AppState>, user: AuthUser, TaskId(id): TaskId) -> Result<StatusCode, ApiError> {
    if state.store.delete_task(&user.0, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

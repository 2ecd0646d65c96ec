//! `POST /api/{user_id}/tasks` — create a task; 201 with the task.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use crate::domain::Task;
use crate::error::ApiError;
use crate::http::input::TaskInput;
use crate::http::{AppState, AuthUser, JsonBody};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/{user_id}/tasks", post(handler))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(input): JsonBody<TaskInput>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let task = state.store.create_task(&user.0, input.into_new_task()?).await?;
    tracing::info!(task_id = %task.id, "task created");
    Ok((StatusCode::CREATED, Json(task)))
}

//! `POST /api/{user_id}/tasks` — create a task; 201 with the task.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use uuid::Uuid;

use crate::domain::{self, Task};
use crate::events;
use crate::http::input::TaskInput;
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, JsonBody};

pub const FUNCTION: Function = Function {
    name: "create-task",
    api,
    sidecar: crate::http::no_routes,
    subscriptions: &[],
};

fn api() -> Router<AppState> {
    Router::new().route("/api/{user_id}/tasks", post(handler))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(input): JsonBody<TaskInput>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let task = create(&state, &user.0, input).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// Creates `user_id`'s task from `input` (the REST call and the MCP tool `add_task`).
pub async fn create(state: &AppState, user_id: &str, input: TaskInput) -> Result<Task, ApiError> {
    let task = Task::create(
        Uuid::new_v4(),
        user_id,
        input.into_new_task()?,
        domain::now(),
    );
    let changed = state.store.create_task(&task, &events::announce).await?;
    let task = state.publish(changed).await;
    tracing::info!(task_id = %task.id, "task created");
    Ok(task)
}

//! `PUT|PATCH /api/{user_id}/tasks/{id}` — partial update: absent fields are kept, `null`
//! clears a nullable field (description, tags, due_at, reminder_minutes, recurrence).

use axum::extract::State;
use axum::routing::put;
use axum::{Json, Router};
use uuid::Uuid;

use crate::domain::{self, Task};
use crate::events;
use crate::http::input::TaskInput;
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, JsonBody, PathId};

pub const FUNCTION: Function = Function {
    name: "update-task",
    api,
    sidecar: crate::http::no_routes,
    subscriptions: &[],
};

fn api() -> Router<AppState> {
    Router::new().route("/api/{user_id}/tasks/{id}", put(handler).patch(handler))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    JsonBody(input): JsonBody<TaskInput>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(update(&state, &user.0, id, input).await?))
}

/// Changes `user_id`'s task `id` by `input` (the REST call and the MCP tool `update_task`);
/// another user's or a missing task is `NotFound`.
pub async fn update(
    state: &AppState,
    user_id: &str,
    id: Uuid,
    input: TaskInput,
) -> Result<Task, ApiError> {
    let patch = input.into_patch()?;
    let now = domain::now();
    let changed = state
        .store
        .modify_task(
            user_id,
            id,
            &|task| task.apply(&patch, now),
            &events::announce,
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(state.publish(changed).await)
}

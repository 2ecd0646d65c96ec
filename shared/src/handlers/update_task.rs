//! `PUT|PATCH /api/{user_id}/tasks/{id}` — partial update: absent fields are kept, `null`
//! clears a nullable field (description, tags, due_at, reminder_minutes, recurrence).

use axum::extract::State;
use axum::routing::put;
use axum::{Json, Router};

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
    let patch = input.into_patch()?;
    let now = domain::now();
    let changed = state
        .store
        .modify_task(
            &user.0,
            id,
            &|task| task.apply(&patch, now),
            &events::announce,
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(state.publish(changed).await))
}

//! `PATCH /api/{user_id}/tasks/{id}/complete` — toggles completion, or sets it with
//! `{"completed": true|false}`. The body is optional.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::routing::patch;
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{self, Task};
use crate::events;
use crate::http::extract::{body_rejection, parse_json};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, PathId};

pub const FUNCTION: Function = Function {
    name: "complete-task",
    api,
    sidecar: crate::http::no_routes,
    subscriptions: &[],
};

fn api() -> Router<AppState> {
    Router::new().route(
        "/api/{user_id}/tasks/{id}/complete",
        patch(handler).post(handler),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteInput {
    completed: Option<bool>,
}

#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Task>, ApiError> {
    let body = body.map_err(body_rejection)?;
    let completed = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        parse_json::<CompleteInput>(&body)?.completed
    };
    Ok(Json(complete(&state, &user.0, id, completed).await?))
}

/// Completes (`Some(true)`), reopens (`Some(false)`) or toggles (`None`) `user_id`'s task
/// `id` (the REST call and the MCP tool `complete_task`).
pub async fn complete(
    state: &AppState,
    user_id: &str,
    id: Uuid,
    completed: Option<bool>,
) -> Result<Task, ApiError> {
    let now = domain::now();
    let changed = state
        .store
        .modify_task(
            user_id,
            id,
            &|task| Ok(task.set_completed(completed, now)),
            &events::announce,
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(state.publish(changed).await)
}

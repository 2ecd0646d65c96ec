//! `DELETE /api/{user_id}/tasks/{id}` — 204, or 404 when there is no such task of this user.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::Task;
use crate::events;
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, PathId};

pub const FUNCTION: Function = Function {
    name: "delete-task",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(handler))
}

/// Delete a task
///
/// Its reminder is disarmed; its history stays.
#[utoipa::path(
    delete,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "deleteTask",
    responses((status = 204, description = "Deleted"), (status = 503)),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    remove(&state, &user.0, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes `user_id`'s task `id` (the REST call and the MCP tool `delete_task`); answers
/// the task as it was.
pub async fn remove(state: &AppState, user_id: &str, id: Uuid) -> Result<Task, ApiError> {
    let changed = state
        .store
        .delete_task(user_id, id, &events::announce)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(state.publish(changed).await)
}

//! `GET /api/{user_id}/tasks/{id}` — one task, or 404 (also for another user's task).

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::Task;
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, PathId};

pub const FUNCTION: Function = Function {
    name: "get-task",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(handler))
}

/// Get a task
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "getTask",
    responses((status = 200, description = "The task", body = Task), (status = 503)),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<Json<Task>, ApiError> {
    get(&state, &user.0, id).await.map(Json)
}

/// `user_id`'s task `id` (the REST call and the MCP tool `get_task`); another user's is
/// not found.
pub async fn get(state: &AppState, user_id: &str, id: Uuid) -> Result<Task, ApiError> {
    state
        .store
        .get_task(user_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

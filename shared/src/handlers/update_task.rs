//! `PUT|PATCH /api/{user_id}/tasks/{id}` — partial update: absent fields are kept, `null`
//! clears a nullable field (description, tags, due_at, reminder_minutes, recurrence).

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
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
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

// `PUT` and `PATCH` do the same (both update partially); they are two operations in the
// OpenAPI document because an operation id names one method.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(patch_handler, put_handler))
}

/// Update a task
///
/// A partial update: absent fields are kept, `null` clears a nullable one, unknown fields
/// are refused. Changing `due_at` or `reminder_minutes` re-arms the reminder. An update
/// that changes nothing answers the task as it is.
#[utoipa::path(
    patch,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "updateTask",
    request_body = TaskInput,
    responses((status = 200, description = "The task as updated", body = Task), (status = 503)),
)]
async fn patch_handler(
    state: State<AppState>,
    user: AuthUser,
    id: PathId,
    input: JsonBody<TaskInput>,
) -> Result<Json<Task>, ApiError> {
    handler(state, user, id, input).await
}

/// Update a task (`PUT`)
///
/// The same as `PATCH`: a partial update.
#[utoipa::path(
    put,
    path = "/api/{user_id}/tasks/{id}",
    operation_id = "updateTaskPut",
    request_body = TaskInput,
    responses((status = 200, description = "The task as updated", body = Task), (status = 503)),
)]
async fn put_handler(
    state: State<AppState>,
    user: AuthUser,
    id: PathId,
    input: JsonBody<TaskInput>,
) -> Result<Json<Task>, ApiError> {
    handler(state, user, id, input).await
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

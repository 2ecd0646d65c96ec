//! `PATCH /api/{user_id}/tasks/{id}/complete` — toggles completion, or sets it with
//! `{"completed": true|false}`. The body is optional.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::{self, Task};
use crate::events;
use crate::http::extract::OptionalJsonBody;
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, PathId};

pub const FUNCTION: Function = Function {
    name: "complete-task",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

// `PATCH` and `POST` do the same; two operations in the OpenAPI document because an
// operation id names one method.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(patch_handler, post_handler))
}

/// The optional body: no body (or `{}`) toggles.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"completed": true}))]
struct CompleteInput {
    /// `true` completes, `false` reopens.
    #[schema(value_type = bool)]
    completed: Option<bool>,
}

/// Complete or reopen a task
///
/// Toggles without a body, or sets `completed`. Completing a recurring task creates its
/// next occurrence; completing disarms the reminder. Completing a completed task changes
/// nothing.
#[utoipa::path(
    patch,
    path = "/api/{user_id}/tasks/{id}/complete",
    operation_id = "completeTask",
    request_body = Option<CompleteInput>,
    responses((status = 200, description = "The task as it is now", body = Task), (status = 503)),
)]
async fn patch_handler(
    state: State<AppState>,
    user: AuthUser,
    id: PathId,
    body: OptionalJsonBody<CompleteInput>,
) -> Result<Json<Task>, ApiError> {
    handler(state, user, id, body).await
}

/// Complete or reopen a task (`POST`)
///
/// The same as `PATCH`.
#[utoipa::path(
    post,
    path = "/api/{user_id}/tasks/{id}/complete",
    operation_id = "completeTaskPost",
    request_body = Option<CompleteInput>,
    responses((status = 200, description = "The task as it is now", body = Task), (status = 503)),
)]
async fn post_handler(
    state: State<AppState>,
    user: AuthUser,
    id: PathId,
    body: OptionalJsonBody<CompleteInput>,
) -> Result<Json<Task>, ApiError> {
    handler(state, user, id, body).await
}

#[tracing::instrument(skip_all, fields(user_id = %user.0, task_id = %id))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    OptionalJsonBody(body): OptionalJsonBody<CompleteInput>,
) -> Result<Json<Task>, ApiError> {
    let completed = body.and_then(|b| b.completed);
    Ok(Json(complete(&state, &user.0, id, completed).await?.0))
}

/// Completes (`Some(true)`), reopens (`Some(false)`) or toggles (`None`) `user_id`'s task
/// `id` (the REST call and the MCP tool `complete_task`): the task, and whether this
/// changed it (a completed task completed again is not changed).
pub async fn complete(
    state: &AppState,
    user_id: &str,
    id: Uuid,
    completed: Option<bool>,
) -> Result<(Task, bool), ApiError> {
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
    let changes = !changed.outbox.is_empty();
    Ok((state.publish(changed).await, changes))
}

//! `POST /api/{user_id}/tasks` — create a task; 201 with the task.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::{self, Task};
use crate::events;
use crate::http::input::{NewTaskInput, TaskInput};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, JsonBody};

pub const FUNCTION: Function = Function {
    name: "create-task",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(handler))
}

/// Create a task
///
/// Answers the task as stored, with its derived fields (`id`, `remind_at`, ...). Its
/// links lead to the operations on it.
#[utoipa::path(
    post,
    path = "/api/{user_id}/tasks",
    operation_id = "createTask",
    request_body = NewTaskInput,
    responses(
        (status = 201, description = "The task as stored", body = Task, links(
            ("getTask" = (operation_id = "getTask", parameters(("user_id" = "$request.path.user_id"), ("id" = "$response.body#/id")))),
            ("updateTask" = (operation_id = "updateTask", parameters(("user_id" = "$request.path.user_id"), ("id" = "$response.body#/id")))),
            ("completeTask" = (operation_id = "completeTask", parameters(("user_id" = "$request.path.user_id"), ("id" = "$response.body#/id")))),
            ("taskHistory" = (operation_id = "taskHistory", parameters(("user_id" = "$request.path.user_id"), ("id" = "$response.body#/id")))),
            ("deleteTask" = (operation_id = "deleteTask", parameters(("user_id" = "$request.path.user_id"), ("id" = "$response.body#/id")))),
        )),
        (status = 503),
    ),
)]
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

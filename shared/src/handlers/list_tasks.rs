//! `list-tasks` — reading the user's tasks:
//!
//! - `GET /api/{user_id}/tasks?search=&status=&priority=&tag=&due_before=&due_after=&overdue=
//!   &sort_by=&sort_order=&page=&page_size=&count=`: one page of the user's tasks;
//! - `GET /api/{user_id}/tags`: the user's tags with how many open tasks carry each, most
//!   first (for tag autocomplete and filter chips).

use axum::extract::State;
use axum::Json;
use utoipa::openapi::{Array, Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{ListParams, ListQuery, Page, Task};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, QueryPairs};
use crate::store::TagCount;

pub const FUNCTION: Function = Function {
    name: "list-tasks",
    api,
    pages: crate::http::no_routes,
    sidecar: crate::http::no_routes,
    setup: crate::http::no_setup,
    subscriptions: &[],
};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handler))
        .routes(routes!(tags))
}

/// List tasks
///
/// One page of the user's tasks: filters combine with AND; ties break on id, so pages
/// never overlap. `total_count` is exact up to 1,000 matches (or to the end of the page
/// asked for), and a lower bound beyond (`total_count_exact: false`) unless `count=exact`.
/// Unknown or repeated parameters are refused.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks",
    operation_id = "listTasks",
    params(ListParams),
    responses(
        (status = 200, description = "A page of tasks", body = TaskPage),
        (status = 400, description = "A query parameter is unknown, repeated or not acceptable (`field` names it)"),
        (status = 503),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<Page<Task>>, ApiError> {
    let pairs = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    Ok(Json(list(&state, &user.0, pairs).await?))
}

/// `Page<Task>` in the OpenAPI document, its items referring to `Task` (a generic's schema
/// would hold a copy of it).
struct TaskPage;

impl utoipa::PartialSchema for TaskPage {
    fn schema() -> RefOr<Schema> {
        let RefOr::T(Schema::Object(mut page)) = <Page<Task> as utoipa::PartialSchema>::schema()
        else {
            unreachable!("a page's schema is an object")
        };
        page.properties.insert(
            "items".to_owned(),
            Array::new(Ref::from_schema_name(Task::name())).into(),
        );
        page.description = Some("One page of the user's tasks.".to_owned());
        page.into()
    }
}

impl ToSchema for TaskPage {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Task::name().into_owned(), Task::schema()));
        Task::schemas(schemas);
    }
}

/// A page of `user_id`'s tasks for the list query `pairs` (the REST call and the MCP tool
/// `list_tasks`); a bad parameter is a 400 naming it.
pub async fn list<'a>(
    state: &AppState,
    user_id: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Page<Task>, ApiError> {
    let query = ListQuery::parse(pairs).map_err(ApiError::bad_query)?;
    Ok(state.store.list_tasks(user_id, &query).await?)
}

/// List tags
///
/// The tags on the user's tasks, each with how many open tasks carry it: most first, then
/// by name (byte order). For tag autocomplete and filter chips.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tags",
    operation_id = "listTags",
    responses(
        (status = 200, description = "The user's tags", body = Vec<TagCount>),
        (status = 503),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn tags(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<TagCount>>, ApiError> {
    Ok(Json(state.store.list_tags(&user.0).await?))
}

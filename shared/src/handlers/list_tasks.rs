//! `list-tasks` — reading the user's tasks:
//!
//! - `GET /api/{user_id}/tasks?search=&status=&priority=&tag=&due_before=&due_after=&overdue=
//!   &sort_by=&sort_order=&page=&page_size=&count=`: one page of the user's tasks;
//! - `GET /api/{user_id}/tags`: the user's tags with how many open tasks carry each, most
//!   first (for tag autocomplete and filter chips).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::domain::{ListQuery, Page, Task};
use crate::http::ApiError;
use crate::http::Function;
use crate::http::{AppState, AuthUser, QueryPairs};
use crate::store::TagCount;

pub const FUNCTION: Function = Function {
    name: "list-tasks",
    api,
    sidecar: crate::http::no_routes,
    subscriptions: &[],
};

fn api() -> Router<AppState> {
    Router::new()
        .route("/api/{user_id}/tasks", get(handler))
        .route("/api/{user_id}/tags", get(tags))
}

#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn handler(
    State(state): State<AppState>,
    user: AuthUser,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<Page<Task>>, ApiError> {
    let pairs = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    Ok(Json(list(&state, &user.0, pairs).await?))
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

#[tracing::instrument(skip_all, fields(user_id = %user.0))]
async fn tags(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<TagCount>>, ApiError> {
    Ok(Json(state.store.list_tags(&user.0).await?))
}

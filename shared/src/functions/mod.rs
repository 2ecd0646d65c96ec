//! One module per function binary: each holds that operation's handler and its `router`.
//! `functions/<name>/src/main.rs` hands the router to `harness::run`; `todo-local` merges
//! them all (see `all`).

pub mod complete_task;
pub mod create_task;
pub mod delete_task;
pub mod get_task;
pub mod list_tasks;
pub mod update_task;

use axum::Router;

use crate::http::AppState;

/// A function's routes, before the shared middleware is added.
pub type RouterFn = fn() -> Router<AppState>;

/// Every HTTP function, by binary name.
pub const ALL: &[(&str, RouterFn)] = &[
    ("create-task", create_task::router),
    ("list-tasks", list_tasks::router),
    ("get-task", get_task::router),
    ("update-task", update_task::router),
    ("complete-task", complete_task::router),
    ("delete-task", delete_task::router),
];

/// All functions' routes on one router (the all-in-one local runner).
pub fn all() -> Router<AppState> {
    ALL.iter().fold(Router::new(), |app, (_, routes)| app.merge(routes()))
}

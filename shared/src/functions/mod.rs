//! One module per function binary: each holds that operation's handler and its
//! `FUNCTION` (routes and subscriptions). `functions/<name>/src/main.rs` hands it to
//! `harness::run`; `todo-local` hosts them all (`ALL`).

pub mod audit;
pub mod complete_task;
pub mod create_task;
pub mod delete_task;
pub mod get_task;
pub mod list_tasks;
pub mod notify;
pub mod on_completed;
pub mod realtime;
pub mod reminder_jobs;
pub mod reminder_tick;
pub mod update_task;

use axum::Router;

use crate::events::subscription::Subscription;
use crate::http::AppState;

/// A function: its binary name, its routes (before the shared middleware) and the pub/sub
/// subscriptions daprd delivers to its sidecar routes.
pub struct Function {
    pub name: &'static str,
    /// The public API (`/api/...`): each request carries the user's token.
    pub api: fn() -> Router<AppState>,
    /// What only the Dapr sidecar may call: subscription deliveries, bindings, jobs. A
    /// function binary serves them behind the app API token (`http::app`); `todo-local`
    /// never serves them, its bus and tick call them in-process (`http::sidecar_app`).
    pub sidecar: fn() -> Router<AppState>,
    pub subscriptions: &'static [Subscription],
}

/// The routes of a function that has none of one kind.
pub fn no_routes() -> Router<AppState> {
    Router::new()
}

/// Every function `todo-local` hosts: all but `reminder_jobs`, which needs the Dapr
/// scheduler (locally the tick alone fires reminders).
pub const ALL: &[&Function] = &[
    &create_task::FUNCTION,
    &list_tasks::FUNCTION,
    &get_task::FUNCTION,
    &update_task::FUNCTION,
    &complete_task::FUNCTION,
    &delete_task::FUNCTION,
    &on_completed::FUNCTION,
    &audit::FUNCTION,
    &reminder_tick::FUNCTION,
    &notify::FUNCTION,
    &realtime::FUNCTION,
];

/// The subscriptions of `functions`, in order (for `/dapr/subscribe` and the in-process bus).
pub fn subscriptions(functions: &[&Function]) -> Vec<Subscription> {
    functions
        .iter()
        .flat_map(|f| f.subscriptions.iter().copied())
        .collect()
}

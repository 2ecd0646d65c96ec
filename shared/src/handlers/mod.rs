//! The handlers: one module per function binary (`functions/<name>/`), each holding that
//! operation's handlers and its `FUNCTION` (routes and subscriptions). The binary's
//! `main.rs` hands it to `harness::run`; `todo-local` hosts them all (`ALL`).

pub mod audit;
pub mod chat;
pub mod complete_task;
pub mod create_task;
pub mod delete_task;
pub mod dev_sign_in;
pub mod get_task;
pub mod list_tasks;
pub mod mcp;
pub mod notify;
pub mod on_completed;
pub mod realtime;
pub mod reminder_jobs;
pub mod reminder_tick;
pub mod update_task;
pub mod web;

use crate::events::subscription::{declarative_yaml, Subscription};
use crate::http::Function;

/// Every function binary.
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
    &reminder_jobs::FUNCTION,
    &mcp::FUNCTION,
    &chat::FUNCTION,
    &web::FUNCTION,
];

/// The functions `todo-local` hosts: all but `reminder-jobs`, which needs the Dapr
/// scheduler (locally the tick alone fires reminders), and its development sign-in, which
/// no function binary has.
pub fn local() -> Vec<&'static Function> {
    ALL.iter()
        .copied()
        .filter(|f| f.name != reminder_jobs::FUNCTION.name)
        .chain([&dev_sign_in::FUNCTION])
        .collect()
}

/// Every function's subscriptions, with the function (its Dapr app id).
pub fn subscriptions() -> impl Iterator<Item = (&'static str, &'static Subscription)> {
    ALL.iter()
        .flat_map(|f| f.subscriptions.iter().map(move |s| (f.name, s)))
}

/// The declarative Dapr subscriptions of every function: what
/// `components/subscriptions.yaml` holds.
pub fn subscriptions_yaml() -> String {
    declarative_yaml(subscriptions())
}

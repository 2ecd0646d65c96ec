//! `on-completed` — subscribed to `task-events`: when a recurring task is completed, create
//! its next occurrence (same title, description, priority, tags, rule, time zone and
//! reminder offset; due date moved by the rule; parent id; depth + 1, stopping at 1000):
//! `Task::next_occurrence`.
//!
//! Exactly once per completion: the (consumer, event id) record and the unique
//! `recurrence_parent_id` are written in the transaction that creates the occurrence.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;

use uuid::Uuid;

use crate::domain::{self, Task};
use crate::events::subscription::{self, ConsumeError, Reply, Subscription};
use crate::events::{self, EventType, TaskEvent, TASK_EVENTS};
use crate::http::AppState;
use crate::http::Function;

pub const CONSUMER: &str = "on-completed";
const ROUTE: &str = "/events/on-completed";

pub const FUNCTION: Function = Function {
    name: "on-completed",
    api: crate::http::no_api,
    pages: crate::http::no_routes,
    sidecar,
    setup: crate::http::no_setup,
    subscriptions: &[Subscription {
        pubsub: events::PUBSUB,
        topic: TASK_EVENTS,
        route: ROUTE,
        bulk: true,
    }],
};

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(handler))
}

#[tracing::instrument(skip_all)]
async fn handler(State(state): State<AppState>, body: Bytes) -> Reply {
    let state = &state;
    subscription::consume(&body, |event: TaskEvent| async move {
        apply(state, &event).await
    })
    .await
}

/// Applies one task event: creates the next occurrence when a recurring task was completed
/// (`Task::next_occurrence`).
pub async fn apply(state: &AppState, event: &TaskEvent) -> Result<(), ConsumeError> {
    if event.event_type != EventType::Completed {
        return Ok(());
    }
    let task = &event.task;
    let Some(next) = task.next_occurrence(event.occurred_at) else {
        if task.recurrence.is_some() {
            tracing::info!(task_id = %task.id, "recurring series ended");
        }
        return Ok(());
    };
    let due_at = next.due_at;
    let next = Task::create(Uuid::new_v4(), &task.user_id, next, domain::now());
    match state
        .store
        .create_task_once(CONSUMER, event.event_id, &next, &events::announce)
        .await?
    {
        Some(changed) => {
            let created = state.publish(changed).await;
            tracing::info!(parent = %task.id, task_id = %created.id, due_at = ?due_at, "next occurrence created");
        }
        None => tracing::debug!(parent = %task.id, "next occurrence exists already"),
    }
    Ok(())
}

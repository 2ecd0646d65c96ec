//! `on-completed` — subscribed to `task-events`: when a recurring task is completed, create
//! its next occurrence (same title, description, priority, tags, rule, time zone and
//! reminder offset; due date moved by the rule; parent id; depth + 1, stopping at 1000):
//! `Task::next_occurrence`.
//!
//! Exactly once per completion: the (consumer, event id) record and the unique
//! `recurrence_parent_id` are written in the transaction that creates the occurrence.
//! A bulk delivery's occurrences are created in one transaction (one write for the batch).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use uuid::Uuid;

use crate::domain::{self, Task, TaskChange};
use crate::events::subscription::{self, Reply, Subscription};
use crate::events::{self, EventType, TaskEvent, TASK_EVENTS};
use crate::http::AppState;
use crate::http::Function;
use crate::store::StoreError;

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
    subscription::consume_together(&body, |events| {
        let state = state.clone();
        Box::pin(async move { apply(&state, events).await })
    })
    .await
}

/// Creates the next occurrence of each recurring task these events completed
/// (`Task::next_occurrence`), in one transaction, each at most once; every log line and
/// outbox event of an occurrence belongs to its completion's span (and so its trace).
async fn apply(
    state: &AppState,
    events: &[(&TaskEvent, &tracing::Span)],
) -> Result<(), StoreError> {
    let mut items = Vec::new();
    let mut spans = HashMap::new();
    for &(event, span) in events {
        if let Some(next) = span.in_scope(|| next_occurrence(event)) {
            spans.insert(next.id, span);
            items.push((event.event_id, next));
        }
    }
    if items.is_empty() {
        return Ok(());
    }
    let announce = |change: TaskChange<'_>| {
        let span = match &change {
            TaskChange::Created(task) => spans.get(&task.id),
            _ => None,
        };
        match span {
            Some(span) => span.in_scope(|| events::announce(change)),
            None => events::announce(change),
        }
    };
    let changed = state
        .store
        .create_tasks_once(CONSUMER, &items, &announce)
        .await?;
    for ((_, next), &created) in items.iter().zip(&changed.value) {
        let parent = next.recurrence_parent_id;
        spans[&next.id].in_scope(|| {
            if created {
                tracing::info!(parent = ?parent, task_id = %next.id, due_at = ?next.due_at, "next occurrence created");
            } else {
                tracing::debug!(parent = ?parent, "next occurrence exists already");
            }
        });
    }
    state.publish(changed).await;
    Ok(())
}

/// The next occurrence of the task a `task.completed` event completed, if it has one.
fn next_occurrence(event: &TaskEvent) -> Option<Task> {
    if event.event_type != EventType::Completed {
        return None;
    }
    let task = &event.task;
    let Some(next) = task.next_occurrence(event.occurred_at) else {
        if task.recurrence.is_some() {
            tracing::info!(task_id = %task.id, "recurring series ended");
        }
        return None;
    };
    Some(Task::create(
        Uuid::new_v4(),
        &task.user_id,
        next,
        domain::now(),
    ))
}

//! `on-completed` — subscribed to `task-events`: when a recurring task is completed, create
//! its next occurrence (same title, description, priority, tags, rule, time zone and
//! reminder offset; due date moved by the rule; parent id; depth + 1, stopping at 1000).
//!
//! Exactly once per completion: the (consumer, event id) record and the unique
//! `recurrence_parent_id` are written in the transaction that creates the occurrence.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;

use crate::domain::{Description, NewTask, Recurrence, TagName, Timezone, Title};
use crate::events::subscription::{self, ConsumeError, Delivery, Subscription};
use crate::events::{EventType, TaskEvent, TASK_EVENTS};
use crate::functions::Function;
use crate::http::AppState;

pub const CONSUMER: &str = "on-completed";
pub const MAX_DEPTH: i32 = 1000;
const ROUTE: &str = "/events/on-completed";

pub const FUNCTION: Function = Function {
    name: "on-completed",
    api: super::no_routes,
    sidecar,
    subscriptions: &[Subscription {
        topic: TASK_EVENTS,
        route: ROUTE,
        dead_letter_topic: "task-events-dlq",
    }],
};

fn sidecar() -> Router<AppState> {
    Router::new().route(ROUTE, post(handler))
}

#[tracing::instrument(skip_all)]
async fn handler(State(state): State<AppState>, body: Bytes) -> Delivery {
    subscription::consume(&body, |event: TaskEvent| async move {
        apply(&state, &event).await
    })
    .await
}

/// Applies one task event: creates the next occurrence when a recurring task was completed.
pub async fn apply(state: &AppState, event: &TaskEvent) -> Result<(), ConsumeError> {
    let task = &event.task;
    let Some(rule) = task
        .recurrence
        .as_deref()
        .filter(|_| event.event_type == EventType::Completed)
    else {
        return Ok(());
    };
    if task.recurrence_depth >= MAX_DEPTH {
        tracing::info!(task_id = %task.id, "recurring series reached its maximum depth");
        return Ok(());
    }
    let invalid = |e: String| ConsumeError::Drop(format!("task {} cannot recur: {e}", task.id));
    let rule = Recurrence::parse(rule).map_err(invalid)?;
    let timezone = Timezone::parse(&task.timezone).map_err(|e| invalid(e.to_string()))?;
    let completed_at = task.completed_at.unwrap_or(event.occurred_at);
    let anchor = task
        .recurrence_anchor
        .or(task.due_at)
        .unwrap_or(completed_at);
    let Some(due_at) = rule.next_due(timezone.tz(), anchor, task.due_at, completed_at) else {
        tracing::info!(task_id = %task.id, "recurring series ended");
        return Ok(());
    };
    let next = NewTask {
        title: Title::parse(&task.title).map_err(|e| invalid(e.to_string()))?,
        description: Description::parse(&task.description).map_err(|e| invalid(e.to_string()))?,
        priority: task.priority,
        tags: TagName::parse_list(&task.tags).map_err(|e| invalid(e.to_string()))?,
        due_at: Some(due_at),
        reminder_minutes: task.reminder_minutes,
        recurrence: Some(rule),
        timezone,
        recurrence_parent_id: Some(task.id),
        recurrence_depth: task.recurrence_depth + 1,
        recurrence_anchor: Some(anchor),
    };
    match state
        .store
        .create_task_once(CONSUMER, event.event_id, &task.user_id, next)
        .await?
    {
        Some(changed) => {
            let created = state.publish(changed).await;
            tracing::info!(parent = %task.id, task_id = %created.id, due_at = %due_at, "next occurrence created");
        }
        None => tracing::debug!(parent = %task.id, "next occurrence exists already"),
    }
    Ok(())
}

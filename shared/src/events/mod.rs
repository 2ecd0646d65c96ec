//! Events: what every task change publishes (see docs/events.md), how it leaves the
//! process (the outbox relay and its publishers) and how consumers receive it (Dapr's
//! subscription contract).

pub mod bus;
pub mod publisher;
pub mod relay;
pub mod subscription;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Task;

/// Every task change, for the audit trail and the recurring-task consumer.
pub const TASK_EVENTS: &str = "task-events";
/// The same changes, for real-time clients.
pub const TASK_UPDATES: &str = "task-updates";
/// `reminder.due` events.
pub const REMINDERS: &str = "reminders";

pub const SCHEMA_VERSION: &str = "1.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "task.created")]
    Created,
    #[serde(rename = "task.updated")]
    Updated,
    #[serde(rename = "task.completed")]
    Completed,
    #[serde(rename = "task.deleted")]
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "task.created",
            EventType::Updated => "task.updated",
            EventType::Completed => "task.completed",
            EventType::Deleted => "task.deleted",
        }
    }

    /// The topics an event of this type goes to.
    pub fn topics(self) -> &'static [&'static str] {
        &[TASK_EVENTS, TASK_UPDATES]
    }
}

/// The payload of a task event (inside Dapr's CloudEvent `data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskEvent {
    pub event_id: Uuid,
    pub event_type: EventType,
    pub schema_version: String,
    pub user_id: String,
    pub task_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The task after the change (before it, for `task.deleted`).
    pub task: Task,
}

impl TaskEvent {
    pub fn new(event_type: EventType, task: &Task) -> Self {
        TaskEvent {
            event_id: Uuid::new_v4(),
            event_type,
            schema_version: SCHEMA_VERSION.into(),
            user_id: task.user_id.clone(),
            task_id: task.id,
            occurred_at: Utc::now(),
            task: task.clone(),
        }
    }
}

/// A row of the outbox: one event bound for one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    pub event_id: Uuid,
    pub topic: String,
    /// The Kafka partition key: the user id, so one user's events stay in order.
    pub partition_key: String,
    pub payload: serde_json::Value,
}

/// The result of a committed change: the value, and the outbox rows written with it that
/// the relay should publish now.
#[derive(Debug)]
pub struct Changed<T> {
    pub value: T,
    pub outbox: Vec<OutboxMessage>,
}

/// The type tag of a reminder event (`reminder.due`, on the `reminders` topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReminderEventType {
    #[serde(rename = "reminder.due")]
    Due,
}

/// A reminder whose time has come: written to the outbox by the tick (or the task's
/// reminder job) in the same transaction that marks the reminder sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderEvent {
    pub event_id: Uuid,
    pub event_type: ReminderEventType,
    pub schema_version: String,
    pub user_id: String,
    pub task_id: Uuid,
    pub title: String,
    pub due_at: DateTime<Utc>,
    pub remind_at: DateTime<Utc>,
    pub occurred_at: DateTime<Utc>,
}

/// Any event a real-time client can receive: a task change (`task-updates`) or a reminder
/// (`reminders`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UserEvent {
    Task(Box<TaskEvent>),
    Reminder(ReminderEvent),
}

impl UserEvent {
    pub fn user_id(&self) -> &str {
        match self {
            UserEvent::Task(e) => &e.user_id,
            UserEvent::Reminder(e) => &e.user_id,
        }
    }

    pub fn event_id(&self) -> Uuid {
        match self {
            UserEvent::Task(e) => e.event_id,
            UserEvent::Reminder(e) => e.event_id,
        }
    }

    pub fn event_type(&self) -> &'static str {
        match self {
            UserEvent::Task(e) => e.event_type.as_str(),
            UserEvent::Reminder(_) => "reminder.due",
        }
    }
}

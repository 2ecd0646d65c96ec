//! Events: what every task change publishes (see docs/events.md), built here and nowhere
//! else (`announce`, `reminder_due`, `TaskEvent::audit_record`); how it leaves the process
//! (the outbox relay and its publishers); and how consumers receive it (Dapr's
//! subscription contract).

pub mod bus;
pub mod delivery;
pub mod hub;
#[cfg(feature = "kafka")]
pub mod kafka_subscriber;
pub mod publisher;
pub mod relay;
pub mod subscription;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Task, TaskChange};
use crate::store::{AuditRecord, OutboxRecord};

/// The Dapr pub/sub component the functions publish through (`PUBSUB_NAME`'s default), and
/// every consumer but `realtime` subscribes through, a consumer group per app id
/// (components/pubsub.yaml).
pub const PUBSUB: &str = "pubsub";
/// `realtime`'s own view of the same topics: a consumer group per process, so every
/// replica sees every event (components/pubsub-realtime.yaml).
pub const PUBSUB_REALTIME: &str = "pubsub-realtime";

/// Every task change, for the audit trail (`audit`), the recurring-task consumer
/// (`on-completed`) and the exact-time reminder jobs (`reminder-jobs`).
pub const TASK_EVENTS: &str = "task-events";
/// The same changes, for real-time clients (`realtime`).
pub const TASK_UPDATES: &str = "task-updates";
/// `reminder.due` events, for the user's webhooks (`notify`) and real-time clients
/// (`realtime`).
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
    pub fn new(event_type: EventType, task: &Task, occurred_at: DateTime<Utc>) -> Self {
        TaskEvent {
            event_id: Uuid::new_v4(),
            event_type,
            schema_version: SCHEMA_VERSION.into(),
            user_id: task.user_id.clone(),
            task_id: task.id,
            occurred_at,
            task: task.clone(),
        }
    }

    /// The event as the audit trail keeps it.
    pub fn audit_record(&self) -> AuditRecord {
        AuditRecord {
            event_id: self.event_id,
            event_type: self.event_type.as_str(),
            user_id: self.user_id.clone(),
            task_id: self.task_id,
            occurred_at: self.occurred_at,
            task: serde_json::to_value(&self.task).expect("a task serialises"),
        }
    }
}

/// The events a task change publishes: one `TaskEvent` (`task.completed` when the change
/// completed the task, else created, updated or deleted), on each of its topics, keyed by
/// the user. The store writes them in the change's transaction (`store::Announce`).
pub fn announce(change: TaskChange<'_>) -> Vec<OutboxRecord> {
    let (event_type, task, at) = match change {
        TaskChange::Created(task) => (EventType::Created, task, task.created_at),
        TaskChange::Updated { before, after } if after.completed && !before.completed => {
            (EventType::Completed, after, after.updated_at)
        }
        TaskChange::Updated { after, .. } => (EventType::Updated, after, after.updated_at),
        TaskChange::Deleted(task) => (EventType::Deleted, task, crate::domain::now()),
    };
    let event = TaskEvent::new(event_type, task, at);
    records(event.event_id, event_type.topics(), &event.user_id, &event)
}

/// The `reminder.due` event of `task`, whose reminder was claimed at `now`.
pub fn reminder_due(task: &Task, now: DateTime<Utc>) -> Vec<OutboxRecord> {
    let (Some(due_at), Some(remind_at)) = (task.due_at, task.remind_at) else {
        return Vec::new(); // not reached: only an armed reminder is claimed
    };
    let event = ReminderEvent {
        event_id: Uuid::new_v4(),
        event_type: ReminderEventType::Due,
        schema_version: SCHEMA_VERSION.into(),
        user_id: task.user_id.clone(),
        task_id: task.id,
        title: task.title.as_str().to_owned(),
        due_at,
        remind_at,
        occurred_at: now,
    };
    records(event.event_id, &[REMINDERS], &event.user_id, &event)
}

/// One outbox record of `event` per topic.
fn records(
    event_id: Uuid,
    topics: &[&'static str],
    user_id: &str,
    event: &impl Serialize,
) -> Vec<OutboxRecord> {
    let payload = serde_json::to_value(event).expect("an event serialises");
    let traceparent = crate::telemetry::traceparent();
    topics
        .iter()
        .map(|&topic| OutboxRecord {
            event_id,
            topic,
            partition_key: user_id.to_owned(),
            payload: payload.clone(),
            traceparent: traceparent.clone(),
        })
        .collect()
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

impl subscription::Keyed for TaskEvent {
    fn key(&self) -> &str {
        &self.user_id
    }
}

impl subscription::Keyed for ReminderEvent {
    fn key(&self) -> &str {
        &self.user_id
    }
}

impl subscription::Keyed for UserEvent {
    fn key(&self) -> &str {
        self.user_id()
    }
}

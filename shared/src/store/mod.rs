//! Task persistence behind traits that speak domain types, so the functions never name a
//! database. A backend only runs SQL: the task's derived fields come from the domain's
//! rules (`domain::change`) and the events it writes to the outbox from the events module
//! (the `Announce` a caller passes), both in the change's transaction.
//!
//! `postgres` is the production backend. A second backend (SQLite for the embedded
//! default) implements the same traits and is picked in `store::connect` by URL scheme.

pub mod dapr_state;
pub mod postgres;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::conversation::{Conversation, ConversationSummary};
use crate::domain::{Invalid, ListQuery, Page, Task, TaskChange};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, pool timeout, shutdown).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// The change breaks a rule of the domain or of the database for one field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database refuses the values themselves (a check, a missing value, a value out
    /// of range): the same statement will be refused every time. Validation keeps requests
    /// from getting here; a consumer dead-letters such an event rather than holding its
    /// partition with redeliveries that cannot succeed.
    #[error("refused by the database: {0:#}")]
    Refused(anyhow::Error),
    #[error(transparent)]
    Other(anyhow::Error),
}

/// An event to write to the outbox: bound for one topic, keyed (partitioned) by its user.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub event_id: Uuid,
    pub topic: &'static str,
    pub partition_key: String,
    pub payload: serde_json::Value,
    /// The W3C trace context of the change that wrote it, carried on with the event.
    pub traceparent: Option<String>,
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
    /// The W3C trace context of the change that wrote it (`telemetry::traceparent`).
    pub traceparent: Option<String>,
}

/// The result of a committed change: the value, and the outbox rows written with it that
/// the relay should publish now.
#[derive(Debug)]
pub struct Changed<T> {
    pub value: T,
    pub outbox: Vec<OutboxMessage>,
}

/// What a task change publishes (`events::announce`): written to the outbox in the
/// change's transaction.
pub type Announce<'a> = &'a (dyn Fn(TaskChange<'_>) -> Vec<OutboxRecord> + Send + Sync);

/// A change to a task as it is now (locked until the change commits): the task after it,
/// `None` for no change, or why it cannot be made.
pub type Modify<'a> = &'a (dyn Fn(&Task) -> Result<Option<Task>, Invalid> + Send + Sync);

/// What a reminder that is due publishes (`events::reminder_due`), given the task and the
/// time it was claimed.
pub type AnnounceReminder<'a> =
    &'a (dyn Fn(&Task, DateTime<Utc>) -> Vec<OutboxRecord> + Send + Sync);

/// Every method is scoped to one user: a task of another user is `None`, exactly as if it
/// did not exist. Every change writes its events (built by `announce`) to the outbox in the
/// same transaction and returns them (`Changed::outbox`) for the relay.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Stores a new task (`Task::create`). `Conflict` when its `recurrence_parent_id`
    /// already has its next occurrence.
    async fn create_task(
        &self,
        task: &Task,
        announce: Announce<'_>,
    ) -> Result<Changed<Task>, StoreError>;
    async fn get_task(&self, user_id: &str, id: Uuid) -> Result<Option<Task>, StoreError>;
    async fn list_tasks(&self, user_id: &str, query: &ListQuery) -> Result<Page<Task>, StoreError>;
    /// The user's tags that are on at least one of their tasks, each with how many of those
    /// tasks are open: most open tasks first, then by name (in byte order, on every
    /// backend). A tag left on no task (its tasks deleted or retagged) is not listed.
    async fn list_tags(&self, user_id: &str) -> Result<Vec<TagCount>, StoreError>;
    /// Changes the task by `modify` (`Task::apply`, `Task::set_completed`); when that
    /// changes nothing, the task as it is with no event. `None` when there is no such task.
    async fn modify_task(
        &self,
        user_id: &str,
        id: Uuid,
        modify: Modify<'_>,
        announce: Announce<'_>,
    ) -> Result<Option<Changed<Task>>, StoreError>;
    /// Deletes the task; the value is the task as it was.
    async fn delete_task(
        &self,
        user_id: &str,
        id: Uuid,
        announce: Announce<'_>,
    ) -> Result<Option<Changed<Task>>, StoreError>;
    /// Stores each `(event_id, task)` as the effect of that event seen by `consumer`, at
    /// most once, all in one transaction (a consumer's whole delivery in one write). The
    /// value says, item by item, whether its task was created: not when its event was
    /// already processed (or came earlier in `items`), nor when the task's
    /// `recurrence_parent_id` already has its next occurrence. On an error nothing is
    /// stored.
    async fn create_tasks_once(
        &self,
        consumer: &str,
        items: &[(Uuid, Task)],
        announce: Announce<'_>,
    ) -> Result<Changed<Vec<bool>>, StoreError>;
    /// Readiness: the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The connection pool's state now (for the metrics).
    fn pool_status(&self) -> PoolStatus;
    /// Applies pending schema migrations (a command or a Job runs this, not a cold start).
    async fn migrate(&self) -> Result<(), StoreError>;
}

/// A connection pool's state: open connections, of which idle, and its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolStatus {
    pub fn in_use(&self) -> u32 {
        self.size.saturating_sub(self.idle)
    }
}

/// The outbox's unpublished rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub pending: u64,
    pub oldest: Option<DateTime<Utc>>,
}

/// The outbox, as the relay sees it.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Claims up to `limit` pending rows whose next attempt is due, oldest first, and hides
    /// them from other claimers for `lease`.
    async fn claim_pending(
        &self,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    async fn mark_published(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Records a failed attempt; the next one waits 2^attempts seconds (at most an hour).
    async fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError>;
    async fn prune_published(&self, older_than: Duration) -> Result<u64, StoreError>;
    /// The rows not yet published: how many, and when the oldest was written.
    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError>;
}

/// One entry of a task's history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub event_id: Uuid,
    /// `task.created`, `task.updated`, `task.completed` or `task.deleted`.
    #[schema(example = "task.created")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The task as the event carried it (a `Task`, as it was then).
    pub task: serde_json::Value,
}

/// One of a user's tags and how many of their open tasks carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "home", "open_tasks": 3}))]
pub struct TagCount {
    pub name: String,
    pub open_tasks: u64,
}

/// An event as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub event_id: Uuid,
    pub event_type: &'static str,
    pub user_id: String,
    pub task_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The task the event carries.
    pub task: serde_json::Value,
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Records each event once (by event id), all in one write; how many were new (the
    /// others were recorded already).
    async fn record_events(&self, records: &[AuditRecord]) -> Result<u64, StoreError>;
    /// Up to `limit` of the task's events in order, after the first `offset`, and how many
    /// it has in all; none when there are none (or the task is another user's).
    async fn task_history(
        &self,
        user_id: &str,
        task_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError>;
}

/// Reminders whose time has come.
#[async_trait]
pub trait ReminderStore: Send + Sync + 'static {
    /// In one transaction: claims up to `limit` reminders due at `now` (`Task::armed_reminder`
    /// reached) that no concurrent claimer holds, marks them sent (`Task::reminded`) and
    /// writes the events `announce` builds for each to the outbox. `task` restricts the
    /// claim to one task (its reminder job), which may then fire up to `JOB_EARLINESS`
    /// before its time. The value is the number claimed.
    async fn claim_due_reminders(
        &self,
        limit: usize,
        task: Option<Uuid>,
        now: DateTime<Utc>,
        announce: AnnounceReminder<'_>,
    ) -> Result<Changed<usize>, StoreError>;
}

/// How early a task's own reminder job may claim its reminder (scheduler clock skew).
pub const JOB_EARLINESS: Duration = Duration::from_secs(5);

/// A user's webhook as the API shows it (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub created_at: DateTime<Utc>,
}

/// A webhook that still has to receive an event, with the secret that signs it.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub id: Uuid,
    pub url: String,
    pub secret: crate::config::Secret,
}

/// A failed delivery whose next attempt is due, claimed by the retry sweep: the event as it
/// was first sent, and how many attempts it has had.
#[derive(Debug, Clone)]
pub struct DueRetry {
    pub event_id: Uuid,
    pub webhook: WebhookTarget,
    pub attempts: i32,
    pub payload: String,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The HTTP status the endpoint answered, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed (`None` when it succeeded).
    pub error: Option<String>,
}

impl DeliveryAttempt {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// Where an (event, webhook) pair stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Delivered,
    /// Still owed: failed so far (or its first attempt under way, `attempts` 0); the retry
    /// sweep tries again at `next_attempt_at`.
    Retrying,
    /// Given up after its last attempt.
    Failed,
}

/// One line of a webhook's delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryRecord {
    pub event_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[schema(required)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[schema(required)]
    pub last_status: Option<i32>,
    #[schema(required)]
    pub last_error: Option<String>,
    #[schema(required)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[schema(required)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[schema(required)]
    pub failed_at: Option<DateTime<Utc>>,
}

impl DeliveryStatus {
    pub fn of(delivered_at: Option<DateTime<Utc>>, failed_at: Option<DateTime<Utc>>) -> Self {
        match (delivered_at, failed_at) {
            (Some(_), _) => DeliveryStatus::Delivered,
            (None, Some(_)) => DeliveryStatus::Failed,
            (None, None) => DeliveryStatus::Retrying,
        }
    }
}

/// At most this many webhooks per user.
pub const MAX_WEBHOOKS_PER_USER: i64 = 10;

/// The users' webhooks and their delivery log. Scoped to one user like every task query.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// `Conflict` when the user has this URL already; `Invalid` past the per-user limit.
    async fn create_webhook(
        &self,
        user_id: &str,
        url: &str,
        secret: &str,
    ) -> Result<Webhook, StoreError>;
    async fn list_webhooks(&self, user_id: &str) -> Result<Vec<Webhook>, StoreError>;
    async fn delete_webhook(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError>;
    /// The webhook's delivery log, newest first; `None` when it is not this user's.
    async fn webhook_deliveries(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<Vec<DeliveryRecord>>, StoreError>;
    /// Claims the first delivery of `event_id` to each of the user's webhooks that has no
    /// line for it yet, and returns those webhooks: each gets its line, owed, with
    /// `payload`, and due for the retry sweep only at `lease_until`. So a redelivery of the
    /// event, even while this attempt is still in flight, finds nothing left to send, and
    /// an attempt that never records its outcome (the process died, or its caller stopped
    /// waiting) is made again by the sweep after the lease.
    async fn claim_first_deliveries(
        &self,
        user_id: &str,
        event_id: Uuid,
        payload: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<WebhookTarget>, StoreError>;
    /// Records an attempt of `payload`. A delivered one marks the pair done for good; a
    /// failed one with `next_attempt_at` keeps the payload for the retry sweep, which tries
    /// again then; a failed one without is given up (`failed_at`).
    async fn record_delivery(
        &self,
        event_id: Uuid,
        webhook_id: Uuid,
        attempt: &DeliveryAttempt,
        next_attempt_at: Option<DateTime<Utc>>,
        payload: &str,
    ) -> Result<(), StoreError>;
    /// Claims up to `limit` failed deliveries whose next attempt is due at `now`, oldest
    /// first, by moving their next attempt to `lease_until`: a concurrent sweep skips them,
    /// and one that dies before recording the outcome leaves them due again then.
    async fn claim_due_retries(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<DueRetry>, StoreError>;
}

/// A version of a stored conversation, for optimistic concurrency: a save names the
/// version it started from and fails with `Conflict` when another save came first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Etag(pub String);

/// The chat's conversations, each one user's: another user's is `None`, as a missing one.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// The conversation and its current version.
    async fn get_conversation(
        &self,
        user_id: &str,
        id: Uuid,
    ) -> Result<Option<(Conversation, Etag)>, StoreError>;
    /// Stores `conversation` if it is still at `expected` (`None`: it must be new);
    /// `Conflict` when another save changed it first. Answers the new version.
    async fn save_conversation(
        &self,
        conversation: &Conversation,
        expected: Option<&Etag>,
    ) -> Result<Etag, StoreError>;
    /// Deletes the user's conversation `id`; false when there is none (or it is another
    /// user's).
    async fn delete_conversation(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError>;
    /// The user's conversations, most recently changed first, `page_size` from
    /// `offset`, and how many there are.
    async fn list_conversations(
        &self,
        user_id: &str,
        offset: u64,
        page_size: u32,
    ) -> Result<(Vec<ConversationSummary>, u64), StoreError>;
}

/// Everything a backend provides.
pub trait Store:
    TaskStore + OutboxStore + AuditStore + ReminderStore + WebhookStore + ConversationStore
{
}
impl<T> Store for T where
    T: TaskStore + OutboxStore + AuditStore + ReminderStore + WebhookStore + ConversationStore
{
}

/// Connects to the backend named by `database_url` (lazily: no connection is made until
/// the first query, so a cold start does not wait for the database).
pub fn connect(
    database_url: &str,
    max_connections: u32,
) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        return Ok(std::sync::Arc::new(SqliteStore::connect_lazy(
            database_url,
            max_connections,
        )?));
    }
    anyhow::ensure!(
        is_postgres(database_url),
        "DATABASE_URL must be a postgres:// or postgresql:// URL, or a sqlite: one \
         (sqlite://todo.db, sqlite:///absolute/path.db, sqlite::memory:)"
    );
    connect_postgres(database_url, max_connections)
}

/// Connects to PostgreSQL (lazily), the one database of the function binaries: they share
/// it, each in its own process or pod, which `todo-local`'s embedded SQLite file cannot
/// be. Their harness calls this rather than `connect`, so they link no SQLite either.
pub fn connect_postgres(
    database_url: &str,
    max_connections: u32,
) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    anyhow::ensure!(
        is_postgres(database_url),
        "DATABASE_URL must be a postgres:// or postgresql:// URL: a function binary runs on \
         PostgreSQL (the embedded SQLite is todo-local's)"
    );
    Ok(std::sync::Arc::new(PgStore::connect_lazy(
        database_url,
        max_connections,
    )?))
}

fn is_postgres(database_url: &str) -> bool {
    database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: anyhow::Result<std::sync::Arc<dyn Store>>) -> String {
        match result {
            Ok(_) => panic!("connected"),
            Err(e) => e.to_string(),
        }
    }

    // The pools start their upkeep on the runtime even when they connect lazily.
    #[tokio::test]
    async fn a_function_binary_runs_on_postgres_only() {
        let error = refusal(connect_postgres("sqlite://todo.db", 1));
        assert!(error.contains("PostgreSQL"), "{error}");
        assert!(error.contains("todo-local"), "{error}");
        assert!(connect_postgres("postgresql://db/todo", 1).is_ok());
    }

    #[tokio::test]
    async fn todo_local_takes_either_backend_and_names_both_when_neither_is_given() {
        let error = refusal(connect("mysql://db/todo", 1));
        assert!(error.contains("postgres://"), "{error}");
        assert!(error.contains("sqlite:"), "{error}");
        assert!(connect("postgres://db/todo", 1).is_ok());
        assert!(connect("sqlite::memory:", 1).is_ok());
    }
}

//! Task persistence behind one trait, so the functions never name a database.
//!
//! `postgres` is the production backend. A second backend (SQLite for the embedded
//! default) implements the same trait and is picked in `store::connect` by URL scheme.

pub mod postgres;

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::{ListQuery, NewTask, Page, Task, TaskPatch};

pub use postgres::PgStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, pool timeout, shutdown).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// The change breaks a rule the database enforces for one field.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Other(anyhow::Error),
}

/// Every method is scoped to one user: a task of another user is `None`/`false`,
/// exactly as if it did not exist.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    async fn create_task(&self, user_id: &str, task: NewTask) -> Result<Task, StoreError>;
    async fn get_task(&self, user_id: &str, id: Uuid) -> Result<Option<Task>, StoreError>;
    async fn list_tasks(&self, user_id: &str, query: &ListQuery) -> Result<Page<Task>, StoreError>;
    async fn update_task(&self, user_id: &str, id: Uuid, patch: TaskPatch) -> Result<Option<Task>, StoreError>;
    /// Sets `completed` (`Some`) or toggles it (`None`).
    async fn set_completed(&self, user_id: &str, id: Uuid, completed: Option<bool>) -> Result<Option<Task>, StoreError>;
    async fn delete_task(&self, user_id: &str, id: Uuid) -> Result<bool, StoreError>;
    /// Readiness: the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Connects to the backend named by `database_url` (lazily: no connection is made until
/// the first query, so a cold start does not wait for the database).
pub fn connect(database_url: &str, max_connections: u32) -> anyhow::Result<std::sync::Arc<dyn TaskStore>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PgStore::connect_lazy(database_url, max_connections)?))
    } else {
        anyhow::bail!("DATABASE_URL must be a postgres:// or postgresql:// URL")
    }
}

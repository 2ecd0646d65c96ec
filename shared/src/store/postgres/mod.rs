//! The PostgreSQL backend (sqlx), by concern: `tasks` (writing tasks, their tags, search
//! vector and reminder queue row), `list` (planning and running list queries), `outbox`,
//! `audit`, `reminders` (claiming due ones), `webhooks` and `conversations` (the chat's).
//! Lower-case SQL, explicit column lists, bind parameters only; sort expressions come from
//! an allow-list. No trigger computes anything: every value written comes from the domain.

mod audit;
mod conversations;
mod list;
mod outbox;
pub use outbox::CLAIM_PENDING;
mod reminders;
mod tasks;
mod webhooks;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgPool, Postgres, Row, Transaction};

use super::StoreError;
use crate::domain::{Description, Priority, Recurrence, TagName, Task, Timezone, Title};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

const TASK_COLUMNS: &str =
    "id, user_id, title, description, completed, completed_at, priority, tags, \
    due_at, reminder_minutes, remind_at, reminder_sent_at, recurrence, timezone, \
    recurrence_parent_id, recurrence_depth, recurrence_anchor, created_at, updated_at";

/// Settings of every connection the functions open, sent in the startup packet.
///
/// No parallel query: every statement here reads one user's rows and stops early (a page,
/// a count capped at `COUNT_CAP`). The planner still chose a parallel bitmap scan for a
/// capped tag count, and starting two workers cost more than the scan: 14 ms instead of
/// 5 ms alone, and worse under load, when the workers wait for the same two cores that
/// serve the requests (docs/BENCHMARKS.md, "No parallel query").
const SESSION_SETTINGS: [(&str, &str); 1] = [("max_parallel_workers_per_gather", "0")];

/// A pooled connection idle this long is checked with a round trip before it is used.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        PgStore { pool }
    }

    pub fn connect_lazy(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = url.parse::<PgConnectOptions>()?.options(SESSION_SETTINGS);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            // sqlx checks a connection with a round trip when it goes back to the pool, and
            // by default again when it is taken out: on a busy pool that second one was a
            // round trip per transaction for nothing. Only a connection that has sat idle
            // (through a restart of the server, say) is checked before use.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= CHECK_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(classify)
    }

    /// A transaction whose prepared statements run on their generic plans, for statements
    /// over arrays of rows (`unnest`) whose plans do not depend on the values: PostgreSQL
    /// cannot tell such a plan's row count, judges the generic plan dearer than a custom
    /// one, and so plans the statement anew on every call, which cost more than running it.
    async fn begin_generic(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin_with("begin; set local plan_cache_mode = force_generic_plan")
            .await
            .map_err(classify)
    }
}

fn task_from_row(row: &PgRow) -> Result<Task, StoreError> {
    let level: i16 = row.try_get("priority").map_err(classify)?;
    let get = |e: sqlx::Error| classify(e);
    Ok(Task {
        id: row.try_get("id").map_err(get)?,
        user_id: row.try_get("user_id").map_err(get)?,
        title: Title::from_stored(row.try_get("title").map_err(get)?),
        description: Description::from_stored(row.try_get("description").map_err(get)?),
        completed: row.try_get("completed").map_err(get)?,
        completed_at: row.try_get("completed_at").map_err(get)?,
        priority: Priority::from_level(level)
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("priority {level} out of range")))?,
        tags: row
            .try_get::<Vec<String>, _>("tags")
            .map_err(get)?
            .into_iter()
            .map(TagName::from_stored)
            .collect(),
        due_at: row.try_get("due_at").map_err(get)?,
        reminder_minutes: row.try_get("reminder_minutes").map_err(get)?,
        remind_at: row.try_get("remind_at").map_err(get)?,
        reminder_sent_at: row.try_get("reminder_sent_at").map_err(get)?,
        recurrence: row
            .try_get::<Option<&str>, _>("recurrence")
            .map_err(get)?
            .and_then(Recurrence::from_stored),
        timezone: Timezone::parse(row.try_get("timezone").map_err(get)?)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("stored time zone: {e}")))?,
        recurrence_parent_id: row.try_get("recurrence_parent_id").map_err(get)?,
        recurrence_depth: row.try_get("recurrence_depth").map_err(get)?,
        recurrence_anchor: row.try_get("recurrence_anchor").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
    })
}

/// The task columns prefixed by a table alias (for `update ... from ... returning`).
fn qualified(alias: &str) -> String {
    TASK_COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sorts a sqlx error into what the caller can act on: an outage (503, retry), a broken
/// field rule (422), a conflict (409), or a bug (500).
pub fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.into()),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // connection exceptions, shutdown, too many connections, read-only standby
                c if c.starts_with("08")
                    || c == "57P01"
                    || c == "57P02"
                    || c == "57P03"
                    || c == "53300"
                    || c == "25006" =>
                {
                    StoreError::Unavailable(err.into())
                }
                // deadlock, serialization failure: transient
                "40P01" | "40001" => StoreError::Unavailable(err.into()),
                "23505" => StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned()),
                // data exceptions (a value too long, out of range, malformed), a missing
                // value, a failed check
                c if c.starts_with("22") || c == "23502" || c == "23514" => {
                    StoreError::Refused(err.into())
                }
                _ => StoreError::Other(err.into()),
            }
        }
        _ => StoreError::Other(err.into()),
    }
}

/// Tag names as text, the form the tables and their array parameters take.
fn tag_names(tags: &[crate::domain::TagName]) -> Vec<String> {
    tags.iter().map(|t| t.as_str().to_owned()).collect()
}

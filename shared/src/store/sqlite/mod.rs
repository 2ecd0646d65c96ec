//! The embedded SQLite backend (sqlx, SQLite bundled in the binary), by concern like
//! `postgres`: `tasks` (writing tasks, their tags, search entry and reminder queue row),
//! `list` (list queries), `search` (the web-search syntax as FTS5 expressions), `outbox`,
//! `audit`, `reminders` (claiming due ones), `webhooks` and `conversations` (the chat's).
//! It behaves as the PostgreSQL backend does; the same tests run on both. Lower-case SQL,
//! explicit column lists, bind parameters only; sort expressions come from an allow-list.
//! No trigger computes anything: every value written comes from the domain.
//!
//! Encodings (`migrations/sqlite`):
//! - a timestamp is an INTEGER of microseconds since the Unix epoch (`micros`): it orders
//!   and compares exactly, and reads back to the microsecond, the precision of the domain's
//!   times (`domain::now`) and of PostgreSQL's;
//! - a UUID is its 16 bytes as a BLOB (sqlx's encoding of `Uuid`): BLOBs compare as bytes,
//!   which is PostgreSQL's uuid order, so ties in a sort break the same way;
//! - booleans are 0 or 1, JSON is TEXT, a task's tags a JSON array of names.
//!
//! Writes: SQLite has one writer at a time. Each store writes through a pool of one
//! connection, so its writers queue in the pool instead of polling the database lock, and
//! every write transaction starts with `BEGIN IMMEDIATE`: it takes the write lock first,
//! so a read-then-write (modify a task, claim reminders, count webhooks) sees the latest
//! commit and cannot be overtaken. Other writers on the same file (other stores, other
//! processes) wait up to `BUSY_TIMEOUT` for the lock. The journal is a WAL, so reads (a
//! pool of `max_connections`, each `query_only`) never wait for a writer.

mod audit;
mod conversations;
mod list;
mod outbox;
mod reminders;
mod search;
mod tasks;
mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::StoreError;
use crate::domain::{Description, Priority, Recurrence, TagName, Task, Timezone, Title};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The FTS5 MATCH expressions a list query's `search` runs as (each group's inclusions and
/// its exclusions), for the fuzz target that runs them in SQLite (`fuzz/`).
pub fn search_expressions(search: &str) -> Vec<String> {
    search::Search::parse(search)
        .groups
        .iter()
        .flat_map(|group| {
            let excluded = (!group.exclude.is_empty()).then(|| group.excluded());
            group.matching().into_iter().chain(excluded)
        })
        .collect()
}

const TASK_COLUMNS: &str =
    "id, user_id, title, description, completed, completed_at, priority, tags, \
    due_at, reminder_minutes, remind_at, reminder_sent_at, recurrence, timezone, \
    recurrence_parent_id, recurrence_depth, recurrence_anchor, created_at, updated_at";

/// How long a write waits for another connection's write transaction to end before it
/// fails as `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write waits for the store's writer connection (behind the writes queued
/// before it, each of which may wait `BUSY_TIMEOUT`).
const WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a read waits for a free reader connection.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct SqliteStore {
    /// One connection: every write goes through it (see the module doc).
    writer: SqlitePool,
    /// Reads; the writer's pool itself for an in-memory database (one connection holds it).
    reader: SqlitePool,
}

impl SqliteStore {
    /// A store on the database of `url` (`sqlite://todo.db`, `sqlite:///abs/path.db`,
    /// `sqlite::memory:`), created with its directory when missing. Connects lazily: no
    /// connection is made until the first query.
    pub fn connect_lazy(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if is_in_memory(url) {
            // The database lives as long as its connection: one, kept for good.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(WRITE_QUEUE_TIMEOUT)
                .connect_lazy_with(options);
            return Ok(SqliteStore {
                writer: pool.clone(),
                reader: pool,
            });
        }
        let file = options.get_filename();
        if file.as_os_str().is_empty() {
            // SQLite would open a private temporary database per connection.
            anyhow::bail!(
                "{url:?} names no database file: use e.g. sqlite://todo.db or sqlite::memory:"
            );
        }
        if let Some(dir) = file.parent() {
            if dir != Path::new("") && !dir.exists() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(WRITE_QUEUE_TIMEOUT)
            .connect_lazy_with(
                options
                    .clone()
                    .journal_mode(SqliteJournalMode::Wal)
                    // With a WAL, a commit is durable once the WAL is synced at a checkpoint:
                    // a power cut may lose the last commits, never corrupt the database.
                    .synchronous(SqliteSynchronous::Normal),
            );
        let reader = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(READ_TIMEOUT)
            .connect_lazy_with(options.pragma("query_only", "on"));
        Ok(SqliteStore { writer, reader })
    }

    /// The writer's pool (one connection), e.g. for a test to adjust rows.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// A write transaction, holding the database's write lock from its start.
    ///
    /// The `begin` runs in a task of its own, so that it always finishes. sqlx's SQLite
    /// `begin_with` awaits once more after its BEGIN has run (to check the connection is in
    /// a transaction); a caller dropped at that point (a client that hung up) left the
    /// writer connection inside a transaction no `Transaction` owned, and every later
    /// write failed ("begin_with at non-zero transaction depth") until a restart:
    /// `scripts/bench/soak.sh` hit it within minutes. A `Transaction` dropped after it
    /// is made rolls back, as any dropped one does.
    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        let writer = self.writer.clone();
        tokio::spawn(async move { writer.begin_with("begin immediate").await })
            .await
            .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("begin: {e}")))?
            .map_err(classify)
    }
}

fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

/// A time as stored: microseconds since the Unix epoch.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("stored time {micros} out of range")))
}

/// The time in column `column`.
fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    from_micros(row.try_get(column).map_err(classify)?)
}

/// The time in column `column`, if any.
fn optional_time(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<i64>, _>(column)
        .map_err(classify)?
        .map(from_micros)
        .transpose()
}

/// The current time, as stored (see `domain::now`).
fn now_micros() -> i64 {
    micros(crate::domain::now())
}

/// The title sort's key: `title` lower-cased character by character, as PostgreSQL's
/// `lower()` does it (`İ` gives `i`, a final `Σ` gives `σ`), sorted by code point as
/// PostgreSQL's C.UTF-8 collation sorts (SQLite's binary collation).
fn title_key(title: &str) -> String {
    title
        .chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

fn task_from_row(row: &SqliteRow) -> Result<Task, StoreError> {
    let get = |e: sqlx::Error| classify(e);
    let level: i64 = row.try_get("priority").map_err(get)?;
    let tags: Vec<String> = serde_json::from_str(row.try_get("tags").map_err(get)?)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored tags: {e}")))?;
    Ok(Task {
        id: row.try_get("id").map_err(get)?,
        user_id: row.try_get("user_id").map_err(get)?,
        title: Title::from_stored(row.try_get("title").map_err(get)?),
        description: Description::from_stored(row.try_get("description").map_err(get)?),
        completed: row.try_get("completed").map_err(get)?,
        completed_at: optional_time(row, "completed_at")?,
        priority: i16::try_from(level)
            .ok()
            .and_then(Priority::from_level)
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("priority {level} out of range")))?,
        tags: tags.into_iter().map(TagName::from_stored).collect(),
        due_at: optional_time(row, "due_at")?,
        reminder_minutes: row.try_get("reminder_minutes").map_err(get)?,
        remind_at: optional_time(row, "remind_at")?,
        reminder_sent_at: optional_time(row, "reminder_sent_at")?,
        recurrence: row
            .try_get::<Option<&str>, _>("recurrence")
            .map_err(get)?
            .and_then(Recurrence::from_stored),
        timezone: Timezone::parse(row.try_get("timezone").map_err(get)?)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("stored time zone: {e}")))?,
        recurrence_parent_id: row.try_get("recurrence_parent_id").map_err(get)?,
        recurrence_depth: row.try_get("recurrence_depth").map_err(get)?,
        recurrence_anchor: optional_time(row, "recurrence_anchor")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

/// Sorts a sqlx error into what the caller can act on: an outage (503, retry), a conflict
/// (409), or a bug (500). SQLite's result codes: https://www.sqlite.org/rescode.html
pub fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.into()),
        sqlx::Error::Database(db) => {
            let code: i32 = db.code().and_then(|c| c.parse().ok()).unwrap_or_default();
            match code & 0xff {
                // busy, locked, read-only, I/O error, disk full, cannot open: the database
                // is there but cannot serve the statement now
                5 | 6 | 8 | 10 | 13 | 14 => StoreError::Unavailable(err.into()),
                // a unique or primary key constraint
                19 if code == 2067 || code == 1555 => {
                    StoreError::Conflict(constraint_name(db.message()))
                }
                // a failed check, a missing value (SQLITE_CONSTRAINT_CHECK, _NOTNULL); a
                // value too big, of the wrong type
                19 if code == 275 || code == 1299 => StoreError::Refused(err.into()),
                18 | 20 => StoreError::Refused(err.into()),
                _ => StoreError::Other(err.into()),
            }
        }
        _ => StoreError::Other(err.into()),
    }
}

/// The name PostgreSQL gives the unique constraint that SQLite's `message` names by its
/// columns ("UNIQUE constraint failed: tags.user_id, tags.name"), so a conflict reads the
/// same on both backends; the columns for a constraint not listed here.
fn constraint_name(message: &str) -> String {
    let columns = message.rsplit_once(": ").map_or(message, |(_, c)| c);
    match columns {
        "tasks.id" => "tasks_pkey",
        "tasks.recurrence_parent_id" => "tasks_recurrence_parent_id_key",
        "tags.user_id, tags.name" => "tags_user_name",
        "outbox.event_id, outbox.topic" => "outbox_event_topic",
        "audit_log.event_id" => "audit_log_event_id_key",
        "webhooks.id" => "webhooks_pkey",
        "webhooks.user_id, webhooks.url" => "webhooks_user_url",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
pub(super) mod test_support {
    use super::*;

    /// A fresh, migrated database file in the temp directory (removed by `Drop`).
    pub struct TempDb {
        pub store: SqliteStore,
        pub url: String,
        path: std::path::PathBuf,
    }

    impl TempDb {
        pub async fn new() -> TempDb {
            let path = std::env::temp_dir().join(format!(
                "todo-sqlite-unit-{}.db",
                uuid::Uuid::new_v4().simple()
            ));
            let url = format!("sqlite://{}", path.display());
            let store = SqliteStore::connect_lazy(&url, 4).unwrap();
            crate::store::TaskStore::migrate(&store).await.unwrap();
            TempDb { store, url, path }
        }

        /// Another store on the same file (another process's, as far as locking goes).
        pub fn another_store(&self) -> SqliteStore {
            SqliteStore::connect_lazy(&self.url, 4).unwrap()
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.path.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::test_support::TempDb;
    use super::*;
    use crate::domain::{NewTask, TaskPatch};
    use crate::store::TaskStore;

    #[test]
    fn times_round_trip_to_the_microsecond_and_order_as_integers() {
        for at in [
            "1969-12-31T23:59:59.999999Z",
            "1970-01-01T00:00:00Z",
            "2026-12-01T09:00:00.123456Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            let at: DateTime<Utc> = at.parse().unwrap();
            assert_eq!(from_micros(micros(at)).unwrap(), at);
        }
        let a: DateTime<Utc> = "2026-12-01T09:00:00.000001Z".parse().unwrap();
        assert!(micros(a) > micros(a - Duration::microseconds(1)));
    }

    #[test]
    fn title_keys_lower_every_character_as_postgresql_does() {
        // PostgreSQL 15, C.UTF-8: select lower('ΣΑΣ İ Ǆ ß Straße') = 'σασ i ǆ ß straße'
        assert_eq!(title_key("ΣΑΣ İ Ǆ ß Straße"), "σασ i ǆ ß straße");
        assert_eq!(title_key("Buy MILK"), "buy milk");
    }

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://x.db?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://todo.db"));
        assert!(!is_in_memory("sqlite:///tmp/memory.db"));
    }

    #[test]
    fn unique_violations_name_postgresql_constraints() {
        assert_eq!(
            constraint_name("UNIQUE constraint failed: webhooks.user_id, webhooks.url"),
            "webhooks_user_url"
        );
        assert_eq!(constraint_name("UNIQUE constraint failed: x.y"), "x.y");
    }

    fn full_task(user: &str) -> Task {
        let new = NewTask {
            title: Title::parse("Water the plants").unwrap(),
            description: Description::parse("the ferns, twice").unwrap(),
            priority: Priority::from_level(2).unwrap(),
            tags: vec![
                TagName::parse("home").unwrap(),
                TagName::parse("garden").unwrap(),
            ],
            due_at: Some("2026-12-01T09:00:00.654321Z".parse().unwrap()),
            reminder_minutes: Some(30),
            recurrence: Some(Recurrence::parse("weekly").unwrap()),
            timezone: Timezone::parse("Europe/Paris").unwrap(),
            recurrence_parent_id: Some(Uuid::new_v4()),
            recurrence_depth: 3,
            recurrence_anchor: Some("2026-11-01T09:00:00.000001Z".parse().unwrap()),
        };
        Task::create(Uuid::new_v4(), user, new, crate::domain::now())
    }

    #[tokio::test]
    async fn a_task_reads_back_exactly_as_written() {
        let db = TempDb::new().await;
        let task = full_task("alice");
        db.store.create_task(&task, &|_| Vec::new()).await.unwrap();
        assert_eq!(
            db.store.get_task("alice", task.id).await.unwrap(),
            Some(task.clone())
        );
        // Completed and reminded: every optional time set.
        let now = crate::domain::now();
        let changed = db
            .store
            .modify_task(
                "alice",
                task.id,
                &|t| Ok(t.set_completed(Some(true), now)),
                &|_| Vec::new(),
            )
            .await
            .unwrap()
            .unwrap();
        let stored = db.store.get_task("alice", task.id).await.unwrap().unwrap();
        assert_eq!(stored, changed.value);
        assert_eq!(stored.completed_at, Some(now));
        // Another user's task does not exist for this one.
        assert_eq!(db.store.get_task("bob", task.id).await.unwrap(), None);
        let patch = TaskPatch {
            title: Some(Title::parse("x").unwrap()),
            ..Default::default()
        };
        let modify = |t: &Task| t.apply(&patch, now);
        assert!(db
            .store
            .modify_task("bob", task.id, &modify, &|_| Vec::new())
            .await
            .unwrap()
            .is_none());
        assert!(db
            .store
            .delete_task("bob", task.id, &|_| Vec::new())
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn uuids_order_as_their_bytes() {
        let db = TempDb::new().await;
        let mut ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        ids.push(Uuid::nil());
        ids.push(Uuid::max());
        ids.push(Uuid::from_u128(0x80 << 120));
        ids.push(Uuid::from_u128(0x7f << 120));
        let json = serde_json::to_string(&ids).unwrap();
        let sorted: Vec<Uuid> = sqlx::query_scalar(
            "select id from (select unhex(replace(value, '-', '')) as id from json_each(?1)) \
             order by id",
        )
        .bind(json)
        .fetch_all(db.store.pool())
        .await
        .unwrap();
        ids.sort(); // Uuid's Ord: its bytes, as PostgreSQL orders uuids
        assert_eq!(sorted, ids);
    }

    #[tokio::test]
    async fn a_held_write_lock_is_unavailable_after_the_busy_timeout() {
        let db = TempDb::new().await;
        // Another connection holds the write lock for longer than a short busy timeout.
        let mut holder = db
            .another_store()
            .writer
            .begin_with("begin immediate")
            .await
            .unwrap();
        sqlx::query("insert into processed_events values ('x', x'00', 0)")
            .execute(&mut *holder)
            .await
            .unwrap();
        let options = SqliteConnectOptions::from_str(&db.url)
            .unwrap()
            .busy_timeout(std::time::Duration::from_millis(50));
        let impatient = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        let err = impatient
            .begin_with("begin immediate")
            .await
            .map_err(classify)
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        // A duplicate key is a conflict.
        holder.commit().await.unwrap();
        let err = sqlx::query("insert into processed_events values ('x', x'00', 0)")
            .execute(db.store.pool())
            .await
            .map_err(classify)
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_in_memory_database_keeps_its_data() {
        let store = SqliteStore::connect_lazy("sqlite::memory:", 4).unwrap();
        store.migrate().await.unwrap();
        let task = full_task("alice");
        store.create_task(&task, &|_| Vec::new()).await.unwrap();
        assert_eq!(store.get_task("alice", task.id).await.unwrap(), Some(task));
        store.ping().await.unwrap();
    }

    #[test]
    fn a_url_without_a_file_is_refused() {
        assert!(SqliteStore::connect_lazy("sqlite:", 1).is_err());
        assert!(SqliteStore::connect_lazy("sqlite://", 1).is_err());
    }

    #[tokio::test]
    async fn connecting_creates_the_database_and_its_directory() {
        let dir = std::env::temp_dir().join(format!("todo-sqlite-dir-{}", Uuid::new_v4().simple()));
        let url = format!("sqlite://{}/nested/todo.db", dir.display());
        let store = SqliteStore::connect_lazy(&url, 1).unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap(); // applied already: nothing to do
        assert!(dir.join("nested/todo.db").exists());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}

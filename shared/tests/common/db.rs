//! The database under test, and what the tests read or adjust in it directly: the outbox
//! rows a change wrote, tag rows and links, a reminder's bookkeeping. Each such helper is
//! written once per backend here, so every test reads the same on both.

use std::sync::Arc;

use serde_json::Value;
use shared::store::{PgStore, Store};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Connection, PgConnection, PgPool, SqlitePool};
use uuid::Uuid;

/// Which backend the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// PostgreSQL when `DATABASE_URL` is a `postgres://` URL; otherwise the embedded SQLite.
    pub fn current() -> Backend {
        match std::env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }
}

/// The test database: the store the app runs on, and a pool of its own for inspection.
#[derive(Clone)]
pub struct Db {
    pub store: Arc<dyn Store>,
    raw: Raw,
}

#[derive(Clone)]
enum Raw {
    Postgres(PgPool),
    Sqlite(SqlitePool),
    /// A store whose database cannot be reached (`Db::dead`).
    None,
}

/// One outbox row of a task, in publishing order.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub event_type: String,
    pub topic: String,
    pub partition_key: String,
    pub published: bool,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Seconds until its next attempt (negative when due).
    pub wait_secs: f64,
    pub payload: Value,
}

/// topic, partition key, published, attempts, last error, seconds to the next attempt,
/// payload (JSON text).
type OutboxColumns = (String, String, bool, i32, Option<String>, f64, String);

/// The PostgreSQL URL, or the SQLite file of this test process (fresh for each run, shared
/// by its tests, which keep apart by user; test binaries never share one).
fn url() -> String {
    match Backend::current() {
        Backend::Postgres => std::env::var("DATABASE_URL").unwrap(),
        Backend::Sqlite => {
            static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
            let path = PATH.get_or_init(|| {
                remove_stale_databases();
                let path = std::env::temp_dir().join(format!(
                    "todo-test-{}-{}.db",
                    std::process::id(),
                    Uuid::new_v4().simple()
                ));
                let _ = std::fs::remove_file(&path);
                path
            });
            format!("sqlite://{}", path.display())
        }
    }
}

/// Removes the SQLite test databases of test processes that have ended (where the system
/// shows its processes in /proc; elsewhere they stay in the temp directory).
fn remove_stale_databases() {
    let proc = std::path::Path::new("/proc");
    if !proc.is_dir() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("todo-test-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !proc.join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Migrates the test database once per process.
static MIGRATED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

impl Db {
    /// The test database with a store of `max_connections`, migrated.
    pub async fn open(max_connections: u32) -> Db {
        let url = url();
        let store = shared::store::connect(&url, max_connections).expect("connect DATABASE_URL");
        MIGRATED
            .get_or_init(|| async { store.migrate().await.expect("run migrations") })
            .await;
        let raw = match Backend::current() {
            Backend::Postgres => Raw::Postgres(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .expect("connect to DATABASE_URL"),
            ),
            Backend::Sqlite => Raw::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await
                    .expect("open the SQLite test database"),
            ),
        };
        Db { store, raw }
    }

    /// The PostgreSQL database of `pool` (migrated), for tests that need one of their own.
    pub fn on_postgres(pool: PgPool) -> Db {
        Db {
            store: Arc::new(PgStore::new(pool.clone())),
            raw: Raw::Postgres(pool),
        }
    }

    /// A PostgreSQL store whose database is a closed port (so `/readyz` fails and every
    /// query is a 503), for requests that must be answered before any query.
    pub fn dead() -> Db {
        let store = PgStore::connect_lazy("postgres://postgres:hunter2@127.0.0.1:1/x", 1)
            .expect("a lazy pool");
        Db {
            store: Arc::new(store),
            raw: Raw::None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.raw {
            Raw::Postgres(_) => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The outbox rows of `task_id`'s events, in publishing order.
    pub async fn outbox(&self, task_id: &str) -> Vec<OutboxRow> {
        let rows: Vec<OutboxColumns> = match &self.raw {
            Raw::Postgres(pool) => sqlx::query_as(
                "select topic, partition_key, published_at is not null, attempts, last_error, \
                     extract(epoch from next_attempt_at - now())::float8, payload::text \
                 from outbox where payload->>'task_id' = $1 order by id",
            )
            .bind(task_id)
            .fetch_all(pool)
            .await
            .unwrap(),
            Raw::Sqlite(pool) => sqlx::query_as(&format!(
                "select topic, partition_key, published_at is not null, attempts, last_error, \
                     ({next} - {now}) / 1e6, payload \
                 from outbox where json_extract(payload, '$.task_id') = ?1 order by id",
                next = "next_attempt_at",
                now = SQLITE_NOW_MICROS,
            ))
            .bind(task_id)
            .fetch_all(pool)
            .await
            .unwrap(),
            Raw::None => panic!("no database"),
        };
        rows.into_iter()
            .map(
                |(topic, partition_key, published, attempts, last_error, wait_secs, payload)| {
                    let payload: Value = serde_json::from_str(&payload).unwrap();
                    OutboxRow {
                        event_type: payload["event_type"].as_str().unwrap_or_default().into(),
                        topic,
                        partition_key,
                        published,
                        attempts,
                        last_error,
                        wait_secs,
                        payload,
                    }
                },
            )
            .collect()
    }

    /// The outbox rows keyed by `user_id` on `topic`, in publishing order.
    pub async fn outbox_of_user(&self, user_id: &str, topic: &str) -> Vec<Value> {
        match &self.raw {
            Raw::Postgres(pool) => sqlx::query_scalar(
                "select payload from outbox where partition_key = $1 and topic = $2 order by id",
            )
            .bind(user_id)
            .bind(topic)
            .fetch_all(pool)
            .await
            .unwrap(),
            Raw::Sqlite(pool) => sqlx::query_scalar::<_, String>(
                "select payload from outbox where partition_key = ?1 and topic = ?2 order by id",
            )
            .bind(user_id)
            .bind(topic)
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|p| serde_json::from_str(&p).unwrap())
            .collect(),
            Raw::None => panic!("no database"),
        }
    }

    /// Makes the pending outbox rows of `task_id` (or all pending rows, with `None`) due
    /// `ago` ago: the sweep takes them at once instead of after the relay's grace period.
    pub async fn make_outbox_due(&self, task_id: Option<&str>, ago: chrono::Duration) {
        match &self.raw {
            Raw::Postgres(pool) => sqlx::query(
                "update outbox set next_attempt_at = now() - make_interval(secs => $2) \
                 where published_at is null and ($1::text is null or payload->>'task_id' = $1)",
            )
            .bind(task_id)
            .bind(ago.num_milliseconds() as f64 / 1000.0)
            .execute(pool)
            .await
            .map(drop)
            .unwrap(),
            Raw::Sqlite(pool) => sqlx::query(&format!(
                "update outbox set next_attempt_at = {SQLITE_NOW_MICROS} - ?2 \
                 where published_at is null and (?1 is null or json_extract(payload, '$.task_id') = ?1)"
            ))
            .bind(task_id)
            .bind(ago.num_microseconds().unwrap_or(0))
            .execute(pool)
            .await
            .map(drop)
            .unwrap(),
            Raw::None => panic!("no database"),
        }
    }

    /// The ids of the tasks whose `recurrence_parent_id` is `parent`.
    pub async fn children(&self, parent: &str) -> Vec<Uuid> {
        let parent = Uuid::parse_str(parent).unwrap();
        match &self.raw {
            Raw::Postgres(pool) => {
                sqlx::query_scalar("select id from tasks where recurrence_parent_id = $1")
                    .bind(parent)
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
            Raw::Sqlite(pool) => {
                sqlx::query_scalar("select id from tasks where recurrence_parent_id = ?1")
                    .bind(parent)
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
            Raw::None => panic!("no database"),
        }
    }

    /// `user_id`'s tag names (rows of `tags`), sorted.
    pub async fn tag_names(&self, user_id: &str) -> Vec<String> {
        let sql = "select name from tags where user_id = $1 order by name";
        match &self.raw {
            Raw::Postgres(pool) => sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_all(pool)
                .await
                .unwrap(),
            Raw::Sqlite(pool) => sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_all(pool)
                .await
                .unwrap(),
            Raw::None => panic!("no database"),
        }
    }

    /// How many tag links (`task_tags`) the task has.
    pub async fn tag_links(&self, task_id: &str) -> i64 {
        let task_id = Uuid::parse_str(task_id).unwrap();
        let sql = "select count(*) from task_tags where task_id = $1";
        match &self.raw {
            Raw::Postgres(pool) => sqlx::query_scalar(sql)
                .bind(task_id)
                .fetch_one(pool)
                .await
                .unwrap(),
            Raw::Sqlite(pool) => sqlx::query_scalar(sql)
                .bind(task_id)
                .fetch_one(pool)
                .await
                .unwrap(),
            Raw::None => panic!("no database"),
        }
    }

    /// How many of `user_id`'s tasks have a reminder time but no reminder sent.
    pub async fn unsent_reminders(&self, user_id: &str) -> i64 {
        let sql = "select count(*) from tasks where user_id = $1 \
                   and remind_at is not null and reminder_sent_at is null";
        match &self.raw {
            Raw::Postgres(pool) => sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_one(pool)
                .await
                .unwrap(),
            Raw::Sqlite(pool) => sqlx::query_scalar(sql)
                .bind(user_id)
                .fetch_one(pool)
                .await
                .unwrap(),
            Raw::None => panic!("no database"),
        }
    }

    /// Marks the task's reminder sent behind the store's back (as a tick would have).
    pub async fn mark_reminder_sent(&self, task_id: &str) {
        let task_id = Uuid::parse_str(task_id).unwrap();
        match &self.raw {
            Raw::Postgres(pool) => {
                sqlx::query("update tasks set reminder_sent_at = now() where id = $1")
                    .bind(task_id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Raw::Sqlite(pool) => {
                sqlx::query(&format!(
                    "update tasks set reminder_sent_at = {SQLITE_NOW_MICROS} where id = ?1"
                ))
                .bind(task_id)
                .execute(pool)
                .await
                .unwrap();
            }
            Raw::None => panic!("no database"),
        }
    }

    /// Moves the undelivered webhook attempts of `user`'s webhooks `by` into the past,
    /// with their next attempts: the backoff is over (only this user's, so the tests that
    /// share the database do not retry each other's).
    pub async fn backdate_deliveries(&self, user: &str, by: chrono::Duration) {
        match &self.raw {
            Raw::Postgres(pool) => sqlx::query(
                "update webhook_deliveries set \
                     last_attempt_at = last_attempt_at - make_interval(secs => $1), \
                     next_attempt_at = next_attempt_at - make_interval(secs => $1) \
                 where delivered_at is null \
                     and webhook_id in (select id from webhooks where user_id = $2)",
            )
            .bind(by.num_seconds() as f64)
            .bind(user)
            .execute(pool)
            .await
            .map(drop)
            .unwrap(),
            Raw::Sqlite(pool) => sqlx::query(
                "update webhook_deliveries set \
                     last_attempt_at = last_attempt_at - ?1, \
                     next_attempt_at = next_attempt_at - ?1 \
                 where delivered_at is null \
                     and webhook_id in (select id from webhooks where user_id = ?2)",
            )
            .bind(by.num_microseconds().unwrap_or(0))
            .bind(user)
            .execute(pool)
            .await
            .map(drop)
            .unwrap(),
            Raw::None => panic!("no database"),
        }
    }

    /// The PostgreSQL pool, for the tests of what only PostgreSQL has.
    pub fn postgres(&self) -> Option<&PgPool> {
        match &self.raw {
            Raw::Postgres(pool) => Some(pool),
            _ => None,
        }
    }
}

/// The current time in SQLite's time encoding (microseconds since the epoch).
const SQLITE_NOW_MICROS: &str = "cast((julianday('now') - 2440587.5) * 86400000000 as integer)";

/// Ticks and sweeps act on the whole database (every due reminder, every pending outbox
/// row), so tests that run them, or that expect their own rows to stay untouched, take
/// turns: on PostgreSQL across all test binaries (an advisory lock held on its own
/// connection until the guard is dropped); on SQLite within the process, whose database
/// no other test binary shares.
pub enum GlobalTurn {
    Postgres(#[allow(dead_code)] PgConnection),
    Sqlite(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>),
}

pub async fn global_turn() -> GlobalTurn {
    match Backend::current() {
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&url())
                .await
                .expect("connect to DATABASE_URL");
            sqlx::query("select pg_advisory_lock(7246001)")
                .execute(&mut conn)
                .await
                .expect("take the global test turn");
            GlobalTurn::Postgres(conn)
        }
        Backend::Sqlite => {
            static TURN: std::sync::OnceLock<Arc<tokio::sync::Mutex<()>>> =
                std::sync::OnceLock::new();
            let turn = TURN.get_or_init(Default::default).clone();
            GlobalTurn::Sqlite(turn.lock_owned().await)
        }
    }
}

/// A PostgreSQL database of its own (named `<prefix>_<random>`), migrated, for a test
/// whose outcome any other test's rows could change (the sweep claims every pending row;
/// the planner reads the whole table's statistics). Drop it with `drop_database`.
pub async fn own_postgres_database(prefix: &str) -> (PgPool, String) {
    let url = std::env::var("DATABASE_URL").unwrap();
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&url).await.expect("connect");
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .expect("create a database for this test");
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url.as_str(), String::new()),
    };
    let base = &base[..base.rfind('/').expect("a database in DATABASE_URL")];
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&format!("{base}/{name}{query}"))
        .await
        .expect("connect to the test database");
    shared::store::postgres::MIGRATOR
        .run(&pool)
        .await
        .expect("migrate");
    (pool, name)
}

/// Drops a database of `own_postgres_database`.
pub async fn drop_database(pool: PgPool, name: &str) {
    pool.close().await;
    let mut admin = PgConnection::connect(&std::env::var("DATABASE_URL").unwrap())
        .await
        .unwrap();
    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut admin)
        .await;
}

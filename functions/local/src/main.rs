//! `todo-local`: the whole system in one process, for a laptop.
//!
//! - `todo-local serve [--port 8080]` runs migrations, then serves every function's routes
//!   on one port.
//! - `todo-local migrate` runs migrations only.
//! - `todo-local token <user_id>` prints a 24 h HS256 JWT for that user.
//!
//! Reads `DATABASE_URL` and `JWT_SECRET` (a fixed development secret when unset, with a
//! warning: never use it beyond your laptop).

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::config::LogFormat;
use shared::http::{AppState, Authenticator};
use shared::store::{PgStore, TaskStore};

const DEV_JWT_SECRET: &str = "todo-local-development-secret-do-not-deploy";

#[derive(Parser)]
#[command(name = "todo-local", version, about = "Every todo function in one process")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations, then serve every function on one port.
    Serve {
        #[arg(long, env = "APP_PORT", default_value_t = 8080)]
        port: u16,
    },
    /// Run database migrations and exit.
    Migrate,
    /// Print a 24-hour HS256 token whose subject is USER_ID.
    Token { user_id: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let log_level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let log_format = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Pretty,
    };
    shared::telemetry::init(log_format, &log_level);
    let auth = Arc::new(Authenticator::hs256(jwt_secret().as_bytes()));

    match cli.command {
        Command::Token { user_id } => {
            anyhow::ensure!(!user_id.trim().is_empty(), "user_id must not be empty");
            println!("{}", auth.issue(&user_id, chrono::Duration::hours(24)));
            Ok(())
        }
        Command::Migrate => {
            store()?.migrate().await.context("running migrations")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve { port } => {
            let store = store()?;
            store.migrate().await.context("running migrations")?;
            let store: Arc<dyn TaskStore> = Arc::new(store);
            let app = shared::http::app(shared::functions::all(), AppState { store, auth });
            shared::harness::serve("todo-local", app, port).await
        }
    }
}

fn store() -> anyhow::Result<PgStore> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set (scripts/run.sh starts a local PostgreSQL for you)")?;
    PgStore::connect_lazy(&url, 10)
}

fn jwt_secret() -> String {
    match std::env::var("JWT_SECRET") {
        Ok(s) if !s.is_empty() => s,
        _ => {
            eprintln!("warning: JWT_SECRET is not set; using the development secret (never deploy this)");
            DEV_JWT_SECRET.to_owned()
        }
    }
}

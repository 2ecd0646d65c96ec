//! `todo-local`: the whole system in one process, for a laptop.
//!
//! - `todo-local serve [--host 127.0.0.1] [--port 8080] [--tick-interval 60]` runs
//!   migrations, then serves every function's API on one port (loopback only unless
//!   `--host`/`APP_HOST` says otherwise). It plays the Dapr sidecar's part in-process:
//!   events go through an in-process bus to the subscribed handlers (so completing a
//!   recurring task shows its next occurrence at once, and reminders reach webhooks and
//!   `/api/{user}/stream`), and the cron binding's tick runs on an interval (claiming due
//!   reminders, sweeping). Those handlers are never served on the port: nobody outside the
//!   process can deliver an event or fire the tick.
//! - `todo-local migrate` runs migrations only.
//! - `todo-local token <user_id>` prints a 24 h HS256 JWT for that user.
//! - `todo-local subscriptions [--table]` prints the functions' subscriptions as declared in
//!   the code (the source of components/subscriptions.yaml and the end-to-end checks).
//!
//! Reads `DATABASE_URL`, `JWT_SECRET` (a fixed development secret when unset, with a
//! warning: never use it beyond your laptop) and `WEBHOOK_ALLOWED_HOSTS` (e.g. `127.0.0.1`
//! to try reminders with a webhook receiver on this machine).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::config::LogFormat;
use shared::http::Authenticator;
use shared::store::{PgStore, Store, TaskStore};
use shared::webhooks::Webhooks;

const DEV_JWT_SECRET: &str = "todo-local-development-secret-do-not-deploy";

#[derive(Parser)]
#[command(
    name = "todo-local",
    version,
    about = "Every todo function in one process"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations, then serve every function on one port.
    Serve {
        /// The address to listen on; 0.0.0.0 serves every interface.
        #[arg(long, env = "APP_HOST", default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        #[arg(long, env = "APP_PORT", default_value_t = 8080)]
        port: u16,
        /// Seconds between runs of the cron tick (`POST /reminder-cron`).
        #[arg(long, env = "TICK_INTERVAL", default_value_t = 60)]
        tick_interval: u64,
    },
    /// Run database migrations and exit.
    Migrate,
    /// Print a 24-hour HS256 token whose subject is USER_ID.
    Token { user_id: String },
    /// Print every function's pub/sub subscriptions as declared in the code: the Dapr
    /// Subscription resources (components/subscriptions.yaml), or with --table one line per
    /// subscription: app pubsub topic route dead-letter-topic.
    Subscriptions {
        #[arg(long)]
        table: bool,
    },
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
    let audience = std::env::var("JWT_AUDIENCE").ok().filter(|a| !a.is_empty());
    let auth = Authenticator::hs256(jwt_secret().as_bytes()).with_audience(audience.as_deref());

    match cli.command {
        Command::Token { user_id } => {
            shared::domain::check_user_id(&user_id).map_err(anyhow::Error::msg)?;
            println!("{}", auth.issue(&user_id, chrono::Duration::hours(24)));
            Ok(())
        }
        Command::Subscriptions { table: false } => {
            print!("{}", shared::handlers::subscriptions_yaml());
            Ok(())
        }
        Command::Subscriptions { table: true } => {
            for (app, s) in shared::handlers::subscriptions() {
                let dlq = s.dead_letter_topic();
                println!("{app} {} {} {} {dlq}", s.pubsub, s.topic, s.route);
            }
            Ok(())
        }
        Command::Migrate => {
            store()?.migrate().await.context("running migrations")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve {
            host,
            port,
            tick_interval,
        } => {
            anyhow::ensure!(
                tick_interval > 0,
                "--tick-interval must be at least 1 second"
            );
            let store = store()?;
            store.migrate().await.context("running migrations")?;
            let store: Arc<dyn Store> = Arc::new(store);
            let local = shared::harness::local(store, auth, |state| {
                if let Ok(hosts) = std::env::var("WEBHOOK_ALLOWED_HOSTS") {
                    state.webhooks = Arc::new(Webhooks::new(shared::config::host_list(&hosts)));
                }
            });
            tokio::spawn(tick(local.sidecar, Duration::from_secs(tick_interval)));
            let addr = std::net::SocketAddr::new(host, port);
            shared::harness::serve("todo-local", local.api, addr, Default::default()).await
        }
    }
}

/// Calls the cron binding's route on an interval, in-process, as daprd's `reminder-cron`
/// would.
async fn tick(app: axum::Router, every: Duration) {
    use tower::ServiceExt;
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let request =
            axum::http::Request::post(format!("/{}", shared::handlers::reminder_tick::BINDING))
                .body(axum::body::Body::empty())
                .expect("static request");
        match app.clone().oneshot(request).await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(status = %r.status(), "tick failed"),
            Err(e) => tracing::warn!(error = %e, "tick failed"),
        }
    }
}

fn store() -> anyhow::Result<PgStore> {
    let url = std::env::var("DATABASE_URL")
        .context("DATABASE_URL is not set (scripts/run.sh starts a local PostgreSQL for you)")?;
    PgStore::connect_lazy(&url, 10)
}

fn jwt_secret() -> String {
    match std::env::var("JWT_SECRET") {
        Ok(s) if !s.is_empty() => s,
        _ => {
            eprintln!(
                "warning: JWT_SECRET is not set; using the development secret (never deploy this)"
            );
            DEV_JWT_SECRET.to_owned()
        }
    }
}

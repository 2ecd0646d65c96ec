//! `todo-local`: the whole system in one process, for a laptop.
//!
//! - `todo-local [serve] [--host 127.0.0.1] [--port 8080] [--tick-interval 60]` runs
//!   migrations, then serves every function's API on one port (loopback only unless
//!   `--host`/`APP_HOST` says otherwise). It plays the Dapr sidecar's part in-process:
//!   events go through an in-process bus to the subscribed handlers (so completing a
//!   recurring task shows its next occurrence at once, and reminders reach webhooks and
//!   `/api/{user}/stream`), and the cron binding's tick runs on an interval (claiming due
//!   reminders, sweeping). Those handlers are never served on the port: nobody outside the
//!   process can deliver an event or fire the tick.
//!   It also serves the web app (`WEB_DIR`, default `web/dist`) at `/`, and, unless
//!   `--dev-sign-in=false`, the development sign-in (`POST /dev/token`) the app signs in
//!   with: a token for any name, as `todo-local token` prints.
//! - `todo-local migrate` runs migrations only.
//! - `todo-local token <user_id>` prints a 24 h HS256 JWT for that user.
//! - `todo-local subscriptions [--table]` prints the functions' subscriptions as declared in
//!   the code (the source of components/subscriptions.yaml and the end-to-end checks).
//! - `todo-local openapi` prints the OpenAPI document of everything it serves (what its
//!   `GET /openapi.json` answers), without starting a server: the source of the web app's
//!   generated API types. With `--functions`, the document of the function binaries' API
//!   (no development sign-in): the copy the image puts beside the app for `web`'s docs page.
//!
//! Settings come through the same `Config` as every function, with a laptop's defaults:
//! `DATABASE_URL` an embedded SQLite file in the user's data directory (printed at start;
//! `sqlite://...` or `postgres://...` to choose), `JWT_SECRET` a fixed development secret
//! (with a warning: never use it beyond your laptop), `APP_HOST` 127.0.0.1, and
//! `WEBHOOK_ALLOWED_HOSTS` (e.g. `127.0.0.1` to try reminders with a webhook receiver on
//! this machine).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use axum::Extension;
use clap::{Parser, Subcommand};
use shared::config::{Config, Defaults};
use shared::handlers::dev_sign_in::{self, DevSignIn};
use shared::handlers::web::WebApp;
use shared::http::Authenticator;
use shared::store::Store;
use shared::webhooks::Webhooks;

const DEV_JWT_SECRET: &str = "todo-local-development-secret-do-not-deploy";
/// Where `scripts/run.sh` builds the web app, relative to the repository (`WEB_DIR` to
/// choose another).
const DEFAULT_WEB_DIR: &str = "web/dist";

#[derive(Parser)]
#[command(
    name = "todo-local",
    version,
    about = "Every todo function in one process"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// What to do; `serve` when none is given.
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The address to listen on (default APP_HOST, else 127.0.0.1); 0.0.0.0 serves every
    /// interface.
    #[arg(long)]
    host: Option<IpAddr>,
    /// The port (default APP_PORT, else 8080).
    #[arg(long)]
    port: Option<u16>,
    /// Seconds between runs of the cron tick (`POST /reminder-cron`).
    #[arg(long, env = "TICK_INTERVAL", default_value_t = 60)]
    tick_interval: u64,
    /// The development sign-in (`POST /dev/token`: a token for any name typed into the web
    /// app); `false` turns it off, e.g. when serving other machines.
    #[arg(long, env = "DEV_SIGN_IN", default_value_t = true, action = clap::ArgAction::Set)]
    dev_sign_in: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations, then serve every function on one port (the default).
    Serve(ServeArgs),
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
    /// Print the OpenAPI 3.1 document of every route `serve` answers (its `/openapi.json`),
    /// or with --functions that of the function binaries together (what a deployment
    /// serves: no development sign-in).
    Openapi {
        #[arg(long)]
        functions: bool,
    },
}

/// mimalloc rather than glibc's allocator: this one process runs every function and
/// plays the sidecar's part, allocating for each event it hands on, and glibc's allocator
/// took a large share of its CPU under load (docs/BENCHMARKS.md, "Task API"). The function
/// binaries keep glibc's, which leaves a smaller idle footprint for a scale-to-zero pod.
/// Without transparent huge pages (`no_thp`), which would make its every touched region
/// resident in whole.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi { functions }) = cli.command {
        // A description of the code: no configuration, no database.
        let document = if functions {
            shared::http::document(shared::handlers::ALL)
        } else {
            shared::http::document(&shared::handlers::local())
        };
        println!("{}", shared::http::openapi::to_json(&document, true));
        return Ok(());
    }
    let defaults = Defaults {
        database_url: Some(default_database_url()),
        jwt_secret: Some(DEV_JWT_SECRET.to_owned()),
        app_host: IpAddr::from([127, 0, 0, 1]),
    };
    let mut config = Config::with_defaults(|k| std::env::var(k).ok(), &defaults)?;
    if std::env::var_os("LOG_FORMAT").is_none() {
        config.log_format = shared::config::LogFormat::Pretty;
    }
    shared::telemetry::init(config.log_format, &config.log_level, "todo-local");
    if config.jwt_secret.expose() == DEV_JWT_SECRET {
        eprintln!(
            "warning: JWT_SECRET is not set; using the development secret (never deploy this)"
        );
    }
    let auth = Authenticator::hs256(config.jwt_secret.expose().as_bytes())
        .with_audience(config.jwt_audience.as_deref());

    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Token { user_id } => {
            shared::domain::check_user_id(&user_id).map_err(anyhow::Error::msg)?;
            println!("{}", auth.issue(&user_id, dev_sign_in::token_ttl()));
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
        Command::Openapi { .. } => unreachable!("answered before the configuration is read"),
        Command::Migrate => {
            store(&config).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve(ServeArgs {
            host,
            port,
            tick_interval,
            dev_sign_in,
        }) => {
            anyhow::ensure!(
                tick_interval > 0,
                "--tick-interval must be at least 1 second"
            );
            let store = store(&config).await?;
            let webhooks = Webhooks::new(config.webhook_allowed_hosts.clone());
            let model =
                shared::handlers::chat::ModelSettings::from_lookup(|k| std::env::var(k).ok())?;
            let limit = shared::handlers::chat::RateLimit::from_lookup(|k| std::env::var(k).ok())?;
            let addr = SocketAddr::new(
                host.unwrap_or(config.app_host),
                port.unwrap_or(config.app_port),
            );
            // The MCP endpoint and the development sign-in answer for these Host names;
            // an address given to listen on is one of them.
            let mut hosts = config.mcp_allowed_hosts.clone();
            if !addr.ip().is_unspecified() {
                hosts.push(addr.ip().to_string());
            }
            let local = shared::harness::local(store, auth, model, limit, |state| {
                state.webhooks = std::sync::Arc::new(webhooks);
                state.mcp_allowed_hosts = hosts.into();
            });
            tokio::spawn(tick(local.sidecar, Duration::from_secs(tick_interval)));
            let limits = shared::harness::ServerLimits {
                max_connections: config.max_connections,
                ..Default::default()
            };
            let web = WebApp::from_lookup(|k| std::env::var(k).ok(), Some(DEFAULT_WEB_DIR))?
                .expect("a default directory gives an app");
            if web.is_built() {
                tracing::info!(dir = %web.dir().display(), "web app: http://{addr}/");
            } else {
                tracing::warn!(
                    dir = %web.dir().display(),
                    "the web app is not built (scripts/run.sh builds it with Node.js 20.19 or later); the API works without it"
                );
            }
            let mut api = local.api.layer(Extension(web));
            if dev_sign_in {
                tracing::warn!(
                    "development sign-in is on (POST {}): whoever reaches this port can sign in as any user; --dev-sign-in=false turns it off",
                    dev_sign_in::ROUTE
                );
                api = api.layer(Extension(DevSignIn));
            }
            let served = shared::harness::serve(
                "todo-local",
                api,
                addr,
                limits,
                shared::harness::ending_streams(
                    shared::harness::shutdown_signal(),
                    local.state.hub.clone(),
                ),
            )
            .await;
            shared::telemetry::flush_traces();
            served
        }
    }
}

/// The configured database, migrated; says which one it is (never its credentials).
async fn store(config: &Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let url = config.database_url.expose();
    let store = shared::store::connect(url, config.database_max_connections)?;
    store.migrate().await.context("running migrations")?;
    match url.strip_prefix("sqlite://") {
        Some(path) => tracing::info!(database = %path, "database: embedded SQLite"),
        None => tracing::info!("database: PostgreSQL"),
    }
    Ok(store)
}

/// The embedded database in the user's data directory (`~/.local/share/todo-local/todo.db`
/// on Linux, `~/Library/Application Support/todo-local/todo.db` on macOS), else in the
/// current directory.
fn default_database_url() -> String {
    let dir = dirs::data_dir()
        .map(|d| d.join("todo-local"))
        .unwrap_or_else(|| PathBuf::from("."));
    format!("sqlite://{}", dir.join("todo.db").display())
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

//! The function harness: what every binary's `main` calls.
//!
//! Config from the environment, tracing, a lazily connected store, the function's routes
//! wrapped with the shared middleware, then serving: `axum::serve` on `APP_PORT` with
//! graceful shutdown on SIGTERM/Ctrl-C, or the AWS Lambda runtime when
//! `AWS_LAMBDA_RUNTIME_API` is set.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;

use crate::config::{Config, Transport};
use crate::dapr::Sidecar;
use crate::events::publisher::{DaprPublisher, NoPublisher, Publisher};
use crate::events::relay::Relay;
use crate::functions::realtime::Hub;
use crate::functions::Function;
use crate::http::{self, AppState, Authenticator};
use crate::store::Store;
use crate::webhooks::Webhooks;

/// Runs one function until it is told to stop.
pub async fn run(function: &'static Function) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format, &config.log_level);
    let state = state_from_config(&config)?;
    let app = http::app(&[function], state);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing::info!(function = function.name, "serving on the Lambda runtime");
        return lambda_http::run(app).await.map_err(|e| anyhow::anyhow!(e));
    }
    serve(function.name, app, config.app_port).await
}

pub fn state_from_config(config: &Config) -> anyhow::Result<AppState> {
    let store = crate::store::connect(
        config.database_url.expose(),
        config.database_max_connections,
    )?;
    let sidecar = Arc::new(Sidecar::new(config.dapr_http_port));
    let publisher: Arc<dyn Publisher> = match config.transport {
        Transport::Dapr => Arc::new(DaprPublisher::new(
            sidecar.clone(),
            config.pubsub_name.clone(),
        )),
        Transport::Kafka => crate::events::publisher::kafka(&config.kafka_brokers)?,
        Transport::None => Arc::new(NoPublisher),
    };
    let auth = Authenticator::hs256(config.jwt_secret.expose().as_bytes());
    let mut state = state(store, auth, publisher, &config.pubsub_name);
    state.sidecar = sidecar;
    state.webhooks = Arc::new(Webhooks::new(config.webhook_allowed_hosts.clone()));
    state.app_api_token = config.app_api_token.clone().map(Arc::new);
    Ok(state)
}

/// Assembles the state every handler sees (with the default sidecar port and no webhook
/// allow-list; `state_from_config` sets both from the environment).
pub fn state(
    store: Arc<dyn Store>,
    auth: Authenticator,
    publisher: Arc<dyn Publisher>,
    pubsub: &str,
) -> AppState {
    AppState {
        relay: Arc::new(Relay::new(store.clone(), publisher)),
        store,
        auth: Arc::new(auth),
        pubsub: pubsub.into(),
        sidecar: Arc::new(Sidecar::new(3500)),
        webhooks: Arc::new(Webhooks::default()),
        hub: Arc::new(Hub::default()),
        app_api_token: None,
    }
}

/// Serves `app` on `port` (all interfaces) until SIGTERM or Ctrl-C, then drains.
pub async fn serve(name: &str, app: Router, port: u16) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind {addr}"))?;
    tracing::info!(function = name, %addr, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!(function = name, "stopped");
    Ok(())
}

/// Resolves on SIGTERM (Kubernetes, Knative, KEDA scale-down) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}

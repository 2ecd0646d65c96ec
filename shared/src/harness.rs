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

use crate::config::Config;
use crate::functions::RouterFn;
use crate::http::{self, AppState, Authenticator};

/// Runs one function until it is told to stop.
pub async fn run(name: &'static str, routes: RouterFn) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format, &config.log_level);
    let state = state_from_config(&config)?;
    let app = http::app(routes(), state);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing::info!(function = name, "serving on the Lambda runtime");
        return lambda_http::run(app).await.map_err(|e| anyhow::anyhow!(e));
    }
    serve(name, app, config.app_port).await
}

pub fn state_from_config(config: &Config) -> anyhow::Result<AppState> {
    Ok(AppState {
        store: crate::store::connect(config.database_url.expose(), config.database_max_connections)?,
        auth: Arc::new(Authenticator::hs256(config.jwt_secret.expose().as_bytes())),
    })
}

/// Serves `app` on `port` (all interfaces) until SIGTERM or Ctrl-C, then drains.
pub async fn serve(name: &str, app: Router, port: u16) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("bind {addr}"))?;
    tracing::info!(function = name, %addr, "listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
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

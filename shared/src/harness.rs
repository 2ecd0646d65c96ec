//! The function harness: what every binary's `main` calls.
//!
//! Config from the environment, tracing, a lazily connected store, the function's routes
//! wrapped with the shared middleware, then serving: HTTP/1.1 on `APP_HOST:APP_PORT` with
//! header read timeouts and a connection cap, draining on SIGTERM/Ctrl-C, or the AWS
//! Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use axum::Extension;

use crate::config::{Config, SidecarAccess, Transport};
use crate::dapr::Sidecar;
use crate::events::bus::InProcessBus;
use crate::events::hub::Hub;
use crate::events::publisher::{DaprPublisher, NoPublisher, Publisher};
use crate::events::relay::Relay;
use crate::handlers::chat::{ChatState, ModelSettings, RateLimit};
use crate::handlers::mcp;
use crate::http::Function;
use crate::http::{self, ApiDocument, AppState, Authenticator};
use crate::store::Store;
use crate::webhooks::Webhooks;

/// Runs one function until it is told to stop.
pub async fn run(function: &'static Function) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format, &config.log_level, function.name);
    config.sidecar_access.warn_if_unsafe();
    let state = state_from_config(&config)?;
    let env = |k: &str| std::env::var(k).ok();
    // One signal for the server and the subscriber, so that it is logged once.
    let shutdown = futures::FutureExt::shared(shutdown_signal());
    let subscriber = direct_subscriber(&config, &env, function, &state, shutdown.clone())?;
    // A function that reads Kafka itself lists no subscriptions to a sidecar, which would
    // read the same topics a second time.
    let served = Function {
        subscriptions: if subscriber.is_some() {
            &[]
        } else {
            function.subscriptions
        },
        ..*function
    };
    let app = (function.setup)(&config, &env, &state, http::app(&[&served], state.clone()))?;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        anyhow::ensure!(
            subscriber.is_none(),
            "SUBSCRIBE_TRANSPORT=kafka needs a long-running process, not the Lambda runtime"
        );
        tracing::info!(function = function.name, "serving on the Lambda runtime");
        return lambda_http::run(app).await.map_err(|e| anyhow::anyhow!(e));
    }
    let addr = SocketAddr::new(config.app_host, config.app_port);
    let limits = ServerLimits {
        max_connections: config.max_connections,
        ..ServerLimits::default()
    };
    let serving = serve(
        function.name,
        app,
        addr,
        limits,
        ending_streams(shutdown.clone(), state.hub.clone()),
    );
    let served = match subscriber {
        None => serving.await,
        Some(subscriber) => {
            let mut consuming = tokio::spawn(subscriber);
            tokio::pin!(serving);
            tokio::select! {
                served = &mut serving => {
                    if served.is_err() {
                        consuming.abort();
                    }
                    let _ = consuming.await;
                    served
                }
                ended = &mut consuming => match ended {
                    // Serving on without consuming would hide the failure: exit, and let
                    // the platform restart the process (the records wait in Kafka).
                    Err(e) if e.is_panic() => {
                        tracing::error!("the Kafka subscriber panicked; stopping");
                        Err(anyhow::anyhow!("the Kafka subscriber panicked"))
                    }
                    _ => serving.await,
                },
            }
        }
    };
    crate::telemetry::flush_traces();
    served
}

/// The function's subscriptions read straight from Kafka until SIGTERM or Ctrl-C, when
/// `SUBSCRIBE_TRANSPORT=kafka` (`events::kafka_subscriber`) and it has any.
fn direct_subscriber(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    function: &Function,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Option<futures::future::BoxFuture<'static, ()>>> {
    if config.subscribe_transport != Transport::Kafka || function.subscriptions.is_empty() {
        return Ok(None);
    }
    #[cfg(not(feature = "kafka"))]
    {
        let _ = (env, state, shutdown);
        anyhow::bail!("SUBSCRIBE_TRANSPORT=kafka needs a build with the `kafka` feature")
    }
    #[cfg(feature = "kafka")]
    {
        use crate::events::kafka_subscriber::{Subscriber, Target};
        use futures::FutureExt;
        let targets = function
            .subscriptions
            .iter()
            .map(|s| Target::of(function.name, s))
            .collect();
        // The sidecar routes without the app token check: only this process calls them.
        let app = (function.setup)(
            config,
            env,
            state,
            http::sidecar_app(&[function], state.clone()),
        )?;
        let subscriber = Subscriber::new(&config.kafka_brokers, targets, app)?;
        Ok(Some(subscriber.run(shutdown).boxed()))
    }
}

pub fn state_from_config(config: &Config) -> anyhow::Result<AppState> {
    let store = crate::store::connect_postgres(
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
    let auth = Authenticator::hs256(config.jwt_secret.expose().as_bytes())
        .with_audience(config.jwt_audience.as_deref());
    let mut state = state(store, auth, publisher);
    state.sidecar = sidecar;
    state.webhooks = Arc::new(Webhooks::new(config.webhook_allowed_hosts.clone()));
    state.sidecar_access = Arc::new(config.sidecar_access.clone());
    state.mcp_allowed_hosts = config.mcp_allowed_hosts.clone().into();
    Ok(state)
}

/// Assembles the state every handler sees (with the default sidecar port, no webhook
/// allow-list and the sidecar routes closed; `state_from_config` sets all three from the
/// environment).
pub fn state(
    store: Arc<dyn Store>,
    auth: Authenticator,
    publisher: Arc<dyn Publisher>,
) -> AppState {
    AppState {
        relay: Arc::new(Relay::new(store.clone(), publisher)),
        store,
        auth: Arc::new(auth),
        sidecar: Arc::new(Sidecar::new(3500)),
        webhooks: Arc::new(Webhooks::default()),
        hub: Arc::new(Hub::default()),
        sidecar_access: Arc::new(SidecarAccess::Closed),
        mcp_allowed_hosts: crate::config::default_mcp_hosts().into(),
    }
}

/// The whole system in one process (`todo-local`): every function's API to serve, and its
/// sidecar routes (subscriptions, the cron binding) for in-process callers only.
pub struct Local {
    /// What `todo-local` serves on its port.
    pub api: Router,
    /// The in-process bus's subscribers and the tick's binding; never served.
    pub sidecar: Router,
    /// The state both run on (for in-process callers such as the chat's MCP client).
    pub state: AppState,
}

/// Wires `todo-local`: the in-process bus is the publisher and delivers to the sidecar
/// routes directly, as daprd would over HTTP. `configure` adjusts the state (e.g. the
/// webhook allow-list) before the routers are built.
pub fn local(
    store: Arc<dyn Store>,
    auth: Authenticator,
    model: Option<ModelSettings>,
    limit: RateLimit,
    configure: impl FnOnce(&mut AppState),
) -> Local {
    let functions = &crate::handlers::local();
    let bus = Arc::new(InProcessBus::new(crate::http::subscriptions(functions)));
    let mut state = state(store, auth, bus.clone());
    configure(&mut state);
    let sidecar = http::sidecar_app(functions, state.clone());
    bus.attach(sidecar.clone());
    let chat = ChatState::new(state.store.clone(), mcp::in_process(), model).with_limit(limit);
    Local {
        api: http::api_app(functions, state.clone())
            .layer(Extension(chat))
            .layer(Extension(ApiDocument::of(functions))),
        sidecar,
        state,
    }
}

/// How the server treats slow clients, many clients, and its own shutdown.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// A connection must send a whole request head within this time (also the time an idle
    /// keep-alive connection is held), else it is closed.
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// After SIGTERM, how long open requests (and streams) may take before the process
    /// exits anyway.
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: crate::config::DEFAULT_MAX_CONNECTIONS,
            drain_timeout: Duration::from_secs(20),
        }
    }
}

/// The HTTP/1 parser's limits: a request head must fit its read buffer and header count.
/// They sit well above the API's own (`http::MAX_URI_BYTES`, `MAX_HEADER_BYTES`,
/// `MAX_HEADERS`), so that a request over those still parses and gets the API's error
/// JSON; only what the parser cannot read at all gets its bare status.
const HTTP_BUFFER_BYTES: usize = 128 * 1024;
const HTTP_MAX_HEADERS: usize = 4 * http::MAX_HEADERS;

/// `shutdown`, and then the end of this process's event streams (`Hub::close`), so that
/// the drain that follows is not held open by them.
pub async fn ending_streams(shutdown: impl Future<Output = ()>, hub: Arc<crate::events::hub::Hub>) {
    shutdown.await;
    hub.close();
}

/// Serves `app` on `addr` until `shutdown` resolves (`shutdown_signal`), then drains.
pub async fn serve(
    name: &str,
    app: Router,
    addr: SocketAddr,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind {addr}"))?;
    tracing::info!(function = name, addr = %listener.local_addr()?, "listening");
    serve_on(listener, app, limits, shutdown).await;
    tracing::info!(function = name, "stopped");
    Ok(())
}

/// Serves `app` on `listener` (HTTP/1.1) within `limits` until `shutdown` resolves, then
/// stops accepting and waits up to `limits.drain_timeout` for open connections.
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(HTTP_BUFFER_BYTES)
        .max_headers(HTTP_MAX_HEADERS);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?limits.drain_timeout,
            "connections still open after the drain timeout; closing them"
        );
    }
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

//! The HTTP side shared by every function: state, extractors, auth, input validation and
//! the common middleware (`app`).

pub mod auth;
mod error;
pub mod extract;
pub mod input;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthUser, Authenticator, StreamUser, TokenUser};
pub use error::ApiError;
pub use extract::{JsonBody, PathId, QueryPairs};

use crate::config::SidecarAccess;
use crate::dapr::Sidecar;
use crate::events::hub::Hub;
use crate::events::relay::Relay;
use crate::events::subscription::subscribe_document;
use crate::events::subscription::Subscription;
use crate::store::Changed;
use crate::store::Store;
use crate::webhooks::Webhooks;

/// Request bodies above this are refused with 413 (at once when `Content-Length` says so).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A request target (path and query) longer than this is refused with 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Request headers larger than this in all (names and values), or more of them than
/// `MAX_HEADERS`, are refused with 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_HEADERS: usize = 100;
/// A request body must arrive within this time, else 408.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// A function: its binary name, its routes (before the shared middleware) and the pub/sub
/// subscriptions daprd delivers to its sidecar routes.
pub struct Function {
    pub name: &'static str,
    /// The public API (`/api/...`): each request carries the user's token.
    pub api: fn() -> Router<AppState>,
    /// What only the Dapr sidecar may call: subscription deliveries, bindings, jobs. A
    /// function binary serves them behind the app API token (`app`); `todo-local` never
    /// serves them, its bus and tick call them in-process (`sidecar_app`).
    pub sidecar: fn() -> Router<AppState>,
    pub subscriptions: &'static [Subscription],
}

/// The routes of a function that has none of one kind.
pub fn no_routes() -> Router<AppState> {
    Router::new()
}

/// The subscriptions of `functions`, in order (for `/dapr/subscribe` and the in-process bus).
pub fn subscriptions(functions: &[&Function]) -> Vec<Subscription> {
    functions
        .iter()
        .flat_map(|f| f.subscriptions.iter().copied())
        .collect()
}

/// What every function's handlers can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub relay: Arc<Relay>,
    /// The Dapr sidecar (jobs).
    pub sidecar: Arc<Sidecar>,
    /// Webhook targets and delivery (`WEBHOOK_ALLOWED_HOSTS`).
    pub webhooks: Arc<Webhooks>,
    /// This process's fan-out of user events to its real-time streams.
    pub hub: Arc<Hub>,
    /// Who may call the sidecar routes (`APP_API_TOKEN`).
    pub sidecar_access: Arc<SidecarAccess>,
    /// The `Host` names the MCP endpoint answers (`MCP_ALLOWED_HOSTS`; `*` for any).
    pub mcp_allowed_hosts: Arc<[String]>,
}

impl AppState {
    /// Publishes a committed change's events (failures stay in the outbox for the sweep)
    /// and hands back its value.
    pub async fn publish<T>(&self, changed: Changed<T>) -> T {
        self.relay.publish_now(&changed.outbox).await;
        changed.value
    }
}

/// A function binary's router: the functions' API routes, their sidecar routes behind the
/// app API token (`sidecar_access`), and `GET /dapr/subscribe` listing their subscriptions.
pub fn app(functions: &[&Function], state: AppState) -> Router {
    let sidecar = sidecar_routes(functions)
        .route_layer(middleware::from_fn_with_state(state.clone(), sidecar_only));
    finish(api_routes(functions).merge(sidecar), state)
}

/// The functions' API routes alone: what `todo-local` serves, since its in-process bus and
/// tick reach the sidecar routes through `sidecar_app`, not through the network.
pub fn api_app(functions: &[&Function], state: AppState) -> Router {
    finish(api_routes(functions), state)
}

/// The functions' sidecar routes, for in-process callers only (never served on a port).
pub fn sidecar_app(functions: &[&Function], state: AppState) -> Router {
    finish(sidecar_routes(functions), state)
}

fn api_routes(functions: &[&Function]) -> Router<AppState> {
    functions
        .iter()
        .fold(Router::new(), |app, f| app.merge((f.api)()))
}

fn sidecar_routes(functions: &[&Function]) -> Router<AppState> {
    let subscriptions = subscriptions(functions);
    functions
        .iter()
        .fold(Router::new(), |app, f| app.merge((f.sidecar)()))
        .route(
            "/dapr/subscribe",
            get(move || async move { Json(subscribe_document(&subscriptions)) }),
        )
}

/// The probes, JSON 404/405 answers, the request limits, panic catching and request
/// tracing, around `routes`.
fn finish(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(middleware::from_fn(request_limits))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The request's span: method and path only. The query string is left out because it can
/// carry a token (`/stream?access_token=`), and secrets are never logged.
fn request_span(request: &Request) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

/// Refuses, before any handler runs, a request whose target or headers are too long (414,
/// 431) or whose `Content-Length` announces a body over the limit (413, without waiting
/// for the body). The HTTP server's own limits sit above these, so a request it can parse
/// gets the error JSON.
async fn request_limits(request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::UriTooLong.into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES || request.headers().len() > MAX_HEADERS {
        return ApiError::HeadersTooLarge.into_response();
    }
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

/// Guards the sidecar routes: the caller must present the app API token in
/// `dapr-api-token` (compared in constant time), as daprd sends it; without a token
/// configured they are closed, unless the deployment opened them explicitly.
async fn sidecar_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = match &*state.sidecar_access {
        SidecarAccess::Open => true,
        SidecarAccess::Closed => false,
        SidecarAccess::Token(expected) => {
            let sent = request
                .headers()
                .get("dapr-api-token")
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            constant_time_eq(sent, expected.expose().as_bytes())
        }
    };
    if !allowed {
        return ApiError::Unauthorized("this route is for the Dapr sidecar").into_response();
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(store): State<Arc<dyn Store>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "database timeout"})),
        )
            .into_response(),
    }
}

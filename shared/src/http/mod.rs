//! The HTTP side shared by every function: state, extractors, auth, input validation and
//! the common middleware (`app`).

pub mod auth;
pub mod extract;
pub mod input;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthUser, Authenticator, StreamUser};
pub use extract::{JsonBody, PathId, QueryPairs};

use crate::config::Secret;
use crate::dapr::Sidecar;
use crate::error::ApiError;
use crate::events::relay::Relay;
use crate::events::subscription::subscribe_document;
use crate::events::Changed;
use crate::functions::realtime::Hub;
use crate::functions::Function;
use crate::store::Store;
use crate::webhooks::Webhooks;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every function's handlers can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub relay: Arc<Relay>,
    /// The Dapr pub/sub component name (`PUBSUB_NAME`).
    pub pubsub: Arc<str>,
    /// The Dapr sidecar (jobs).
    pub sidecar: Arc<Sidecar>,
    /// Webhook targets and delivery (`WEBHOOK_ALLOWED_HOSTS`).
    pub webhooks: Arc<Webhooks>,
    /// This process's fan-out of user events to its real-time streams.
    pub hub: Arc<Hub>,
    /// Dapr's app API token (`APP_API_TOKEN`): required on the sidecar's routes when set.
    pub app_api_token: Option<Arc<Secret>>,
}

impl AppState {
    /// Publishes a committed change's events (failures stay in the outbox for the sweep)
    /// and hands back its value.
    pub async fn publish<T>(&self, changed: Changed<T>) -> T {
        self.relay.publish_now(&changed.outbox).await;
        changed.value
    }
}

/// Serves `functions` on one router: their routes, `GET /dapr/subscribe` listing their
/// subscriptions, `/healthz`, `/readyz`, JSON 404/405 answers, the app API token check on
/// the sidecar's routes, a body-size limit, panic catching and request tracing.
pub fn app(functions: &[&Function], state: AppState) -> Router {
    let subscriptions = crate::functions::subscriptions(functions);
    let routes = functions
        .iter()
        .fold(Router::new(), |app, f| app.merge((f.routes)()));
    routes
        .route(
            "/dapr/subscribe",
            get(move |State(pubsub): State<Arc<str>>| async move {
                Json(subscribe_document(&pubsub, &subscriptions))
            }),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), sidecar_only))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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

/// Routes outside `/api/` (other than the probes) are for the Dapr sidecar: pub/sub
/// deliveries, bindings, jobs, `/dapr/subscribe`. With `APP_API_TOKEN` set they answer 401
/// unless the request carries it in `dapr-api-token`, as daprd sends it.
async fn sidecar_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let public = path.starts_with("/api/") || path == "/healthz" || path == "/readyz";
    if let (false, Some(expected)) = (public, &state.app_api_token) {
        let sent = request
            .headers()
            .get("dapr-api-token")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !constant_time_eq(sent, expected.expose().as_bytes()) {
            return ApiError::Unauthorized("this route is for the Dapr sidecar").into_response();
        }
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

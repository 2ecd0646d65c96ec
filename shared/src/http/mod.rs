//! The HTTP side shared by every function: state, extractors, auth, input validation and
//! the common middleware (`app`).

pub mod auth;
pub mod extract;
pub mod input;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthUser, Authenticator};
pub use extract::{JsonBody, QueryPairs, TaskId};

use crate::error::ApiError;
use crate::store::TaskStore;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every function's handlers can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Arc<dyn TaskStore>,
    pub auth: Arc<Authenticator>,
}

/// Wraps a function's routes with `/healthz`, `/readyz`, JSON 404/405 answers, a body-size
/// limit, panic catching and request tracing.
pub fn app(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(store): State<Arc<dyn TaskStore>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "database unavailable"})))
                .into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "database timeout"})))
            .into_response(),
    }
}

//! The HTTP side shared by every function: state, extractors, auth, input validation, the
//! common middleware (`app`) and the OpenAPI document of the routes (`openapi`).

pub mod auth;
mod error;
pub mod extract;
pub mod input;
pub mod openapi;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{AuthUser, Authenticator, StreamUser, TokenUser};
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use extract::{JsonBody, Paging, PathId, QueryPairs};

use crate::config::{Config, SidecarAccess};
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
/// The same for the sidecar routes, whose callers hold the app token: a bulk delivery of
/// events is far larger than an API request.
pub const MAX_SIDECAR_BODY_BYTES: usize = crate::events::subscription::MAX_DELIVERY_BYTES;
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
    /// The public API (`/api/...`): each request carries the user's token. Each route is
    /// registered with utoipa-axum's `routes!` from its handler's `#[utoipa::path]`, so
    /// the OpenAPI document (`openapi`) describes exactly these routes.
    pub api: fn() -> OpenApiRouter<AppState>,
    /// What a browser opens rather than a client calls: the web app's files and the API's
    /// docs page. Served like the API, but not part of its document.
    pub pages: fn() -> Router<AppState>,
    /// What only the Dapr sidecar may call: subscription deliveries, bindings, jobs. A
    /// function binary serves them behind the app API token (`app`); `todo-local` never
    /// serves them, its bus and tick call them in-process (`sidecar_app`).
    pub sidecar: fn() -> Router<AppState>,
    /// What the function's own binary adds to its router at start (`harness::run`), beyond
    /// the `AppState` every function has, from its configuration and the environment
    /// (settings only it reads): the chat's model and conversations, the web app's files.
    /// Only the functions that need one name one, so the other binaries link none of what
    /// it builds. `todo-local` wires the in-process equivalents itself (`harness::local`).
    pub setup: Setup,
    pub subscriptions: &'static [Subscription],
}

/// The API of a function that has none.
pub fn no_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

/// A function's `setup`: its configuration, the environment, its state, its router.
pub type Setup =
    fn(&Config, &dyn Fn(&str) -> Option<String>, &AppState, Router) -> anyhow::Result<Router>;

/// The setup of a function whose handlers need nothing beyond `AppState`.
pub fn no_setup(
    _: &Config,
    _: &dyn Fn(&str) -> Option<String>,
    _: &AppState,
    router: Router,
) -> anyhow::Result<Router> {
    Ok(router)
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
    /// The `Host` names the MCP endpoint and `todo-local`'s development sign-in answer
    /// (`MCP_ALLOWED_HOSTS`; `*` for any), against DNS rebinding.
    pub mcp_allowed_hosts: Arc<[String]>,
}

impl AppState {
    /// Whether the request's `Host` is one of `mcp_allowed_hosts`, as the MCP SDK decides
    /// for `/mcp`: the name alike in any case, and the port too where the entry has one. A
    /// request without `Host` passes (a browser always sends one, so a page that rebinds a
    /// name of its own to this address cannot leave it out).
    pub fn host_allowed(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(host) = headers.get(axum::http::header::HOST) else {
            return true;
        };
        let Some(host) = host
            .to_str()
            .ok()
            .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        else {
            return false;
        };
        let name = |h: &str| h.trim_matches(['[', ']']).to_ascii_lowercase();
        self.mcp_allowed_hosts.iter().any(|allowed| {
            if allowed == "*" {
                return true;
            }
            match allowed.parse::<axum::http::uri::Authority>() {
                Ok(a) => {
                    name(a.host()) == name(host.host())
                        && a.port_u16().is_none_or(|p| host.port_u16() == Some(p))
                }
                Err(_) => name(allowed) == name(host.host()),
            }
        })
    }

    /// Publishes a committed change's events (failures stay in the outbox for the sweep)
    /// and hands back its value.
    pub async fn publish<T>(&self, changed: Changed<T>) -> T {
        self.relay.publish_now(&changed.outbox).await;
        changed.value
    }
}

/// A function binary's router: the functions' API routes and pages, their sidecar routes
/// behind the app API token (`sidecar_access`), `GET /dapr/subscribe` listing their
/// subscriptions, and `GET /metrics` (Prometheus text, behind the same token).
pub fn app(functions: &[&Function], state: AppState) -> Router {
    let sidecar = sidecar_routes(functions)
        .route_layer(middleware::from_fn_with_state(state.clone(), sidecar_only));
    finish(api_routes(functions).merge(sidecar), state)
}

/// The functions' API routes and pages alone: what `todo-local` serves, since its
/// in-process bus and tick reach the sidecar routes through `sidecar_app`, not through the
/// network.
pub fn api_app(functions: &[&Function], state: AppState) -> Router {
    finish(api_routes(functions), state)
}

/// The functions' sidecar routes, for in-process callers only (never served on a port).
pub fn sidecar_app(functions: &[&Function], state: AppState) -> Router {
    finish(sidecar_routes(functions), state)
}

/// The OpenAPI document of `functions`' API: what their `GET /openapi.json` answers.
pub fn document(functions: &[&Function]) -> utoipa::openapi::OpenApi {
    documented_routes(functions).1
}

/// `functions`' API routes with their document, the probes and `GET /openapi.json`
/// (which answers that document), and their pages.
fn api_routes(functions: &[&Function]) -> Router<AppState> {
    let (api, doc) = documented_routes(functions);
    let api = api.route_layer(middleware::from_fn_with_state(
        Arc::new(openapi::query_parameters(&doc)),
        refuse_unknown_query,
    ));
    let json = openapi::to_json(&doc, false);
    let pages = functions
        .iter()
        .fold(Router::new(), |app, f| app.merge((f.pages)()));
    body_limit(
        api.layer(Extension(Document(Arc::from(json)))).merge(pages),
        MAX_BODY_BYTES,
    )
}

fn documented_routes(functions: &[&Function]) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let mut doc = openapi::base();
    let mut api = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json));
    openapi::tag(api.get_openapi_mut(), "operations");
    for f in functions {
        let mut routes = (f.api)();
        openapi::tag(routes.get_openapi_mut(), f.name);
        api = api.merge(routes);
    }
    let (router, functions_doc) = api.split_for_parts();
    doc.merge(functions_doc);
    openapi::finish(&mut doc);
    (router, doc)
}

/// 400 naming the first query parameter that the route's operation does not take: a
/// misspelt or unsupported parameter is refused, never silently ignored, on every route
/// alike, by what the document says it takes.
async fn refuse_unknown_query(
    State(taken): State<Arc<openapi::QueryParameters>>,
    request: Request,
    next: Next,
) -> Response {
    if let (Some(query), Some(route)) = (
        request.uri().query(),
        request.extensions().get::<MatchedPath>(),
    ) {
        // A HEAD request is served by the route's GET.
        let method = match request.method().as_str() {
            "HEAD" => "GET",
            method => method,
        };
        if let Some(names) = taken.get(&(method.to_owned(), route.as_str().to_owned())) {
            let unknown = form_urlencoded::parse(query.as_bytes())
                .map(|(name, _)| name)
                .find(|name| !names.iter().any(|n| n == name));
            if let Some(name) = unknown {
                let takes = match names.as_slice() {
                    [] => "this route takes none".to_owned(),
                    names => format!("this route takes {}", names.join(", ")),
                };
                return ApiError::bad_request(
                    Some(&name),
                    format!(
                        "unknown query parameter {}: {takes}",
                        crate::domain::text::echo(&name)
                    ),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

fn sidecar_routes(functions: &[&Function]) -> Router<AppState> {
    let subscriptions = subscriptions(functions);
    let routes = functions
        .iter()
        .fold(Router::new(), |app, f| app.merge((f.sidecar)()))
        .route(
            "/dapr/subscribe",
            get(move || async move { Json(subscribe_document(&subscriptions)) }),
        )
        .route("/metrics", get(serve_metrics));
    body_limit(routes, MAX_SIDECAR_BODY_BYTES)
}

/// Caps the request bodies of `routes` at `max` bytes: 413 at once when `Content-Length`
/// announces more (without waiting for the body), and the same cap for the extractors.
fn body_limit(routes: Router<AppState>, max: usize) -> Router<AppState> {
    routes
        .layer(DefaultBodyLimit::max(max))
        .layer(middleware::from_fn(
            move |request: Request, next: Next| async move {
                let announced = request
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if announced.is_some_and(|n| n > max as u64) {
                    return ApiError::PayloadTooLarge.into_response();
                }
                next.run(request).await
            },
        ))
}

/// JSON 404/405 answers, the request limits, panic catching, request metrics and
/// tracing, around `routes`.
fn finish(routes: Router<AppState>, state: AppState) -> Router {
    crate::telemetry::metrics();
    routes
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(middleware::from_fn(request_limits))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(middleware::from_fn(record_request))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Counts each request and its latency by method, route (the matched pattern, so ids do not
/// multiply the series; `unmatched` for a 404 of no route) and status.
async fn record_request(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the process's metrics, with the gauges read from the database now (the
/// outbox's backlog is every function's concern, so each reports it).
async fn serve_metrics(State(state): State<AppState>) -> Response {
    match state.store.outbox_backlog().await {
        Ok(backlog) => {
            metrics::gauge!("outbox_pending").set(backlog.pending as f64);
            let age = backlog.oldest.map_or(0.0, |oldest| {
                (crate::domain::now() - oldest).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("outbox_oldest_pending_age_seconds").set(age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: the outbox backlog is unknown"),
    }
    let pool = state.store.pool_status();
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(pool.in_use() as f64);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("db_pool_max_connections").set(pool.max as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics().render(),
    )
        .into_response()
}

/// The request's span, continuing the caller's trace (`traceparent`): method and path
/// only. The query string is left out because it can carry a token
/// (`/stream?access_token=`), and secrets are never logged.
fn request_span(request: &Request) -> tracing::Span {
    let span =
        tracing::info_span!("request", method = %request.method(), path = %request.uri().path());
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    crate::telemetry::continue_trace(&span, traceparent);
    span
}

/// Refuses, before any handler runs, a request whose target or headers are too long (414,
/// 431); the body's limit is its routes' (`body_limit`). The HTTP server's own limits sit
/// above these, so a request it can parse gets the error JSON.
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
    next.run(request).await
}

/// Guards the sidecar routes (and `/metrics`): the caller must present the app API token in
/// `dapr-api-token`, as daprd sends it, or as `Authorization: Bearer <token>`, as a
/// Prometheus scrape can (compared in constant time); without a token configured they are
/// closed, unless the deployment opened them explicitly.
async fn sidecar_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = match &*state.sidecar_access {
        SidecarAccess::Open => true,
        SidecarAccess::Closed => false,
        SidecarAccess::Token(expected) => {
            let headers = request.headers();
            let dapr = headers.get("dapr-api-token").map(|v| v.as_bytes());
            let bearer = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
            [dapr, bearer]
                .into_iter()
                .flatten()
                .any(|sent| constant_time_eq(sent, expected.expose().as_bytes()))
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

/// What a probe answers.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Probe)]
struct Status {
    /// `ok`; `ready`; or why not ready: `database unavailable`, `database timeout`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness
///
/// The process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    security(()),
    responses((status = 200, description = "Alive", body = Status)),
)]
async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness
///
/// The database answers within 2 s.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    security(()),
    responses(
        (status = 200, description = "Ready", body = Status),
        (status = 503, description = "The database is down or slow", body = Status),
    ),
)]
async fn readyz(State(store): State<Arc<dyn Store>>) -> Response {
    let not_ready = |status| (StatusCode::SERVICE_UNAVAILABLE, Json(Status { status }));
    match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => Json(Status { status: "ready" }).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            not_ready("database unavailable").into_response()
        }
        Err(_) => not_ready("database timeout").into_response(),
    }
}

/// This server's OpenAPI document, as JSON (`GET /openapi.json`).
#[derive(Clone)]
struct Document(Arc<str>);

/// The whole API's OpenAPI document, as JSON, for the docs page (`/docs/openapi.json`): a
/// function binary's `/openapi.json` documents only its own routes. The harness puts it on
/// the router (every function's; `todo-local`: the functions it hosts). Built on first
/// use: only the docs page reads it, and every other function's cold start would pay for
/// the whole API's schemas.
#[derive(Clone)]
pub struct ApiDocument(Arc<(Vec<&'static Function>, OnceLock<Arc<str>>)>);

impl ApiDocument {
    pub fn of(functions: &[&'static Function]) -> Self {
        ApiDocument(Arc::new((functions.to_vec(), OnceLock::new())))
    }

    pub fn json(&self) -> Arc<str> {
        let (functions, json) = &*self.0;
        json.get_or_init(|| Arc::from(openapi::to_json(&document(functions), false)))
            .clone()
    }
}

/// The OpenAPI document
///
/// The OpenAPI 3.1 document of the routes this server answers (for `todo-local`, the
/// whole API; for a function, its own routes).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "An OpenAPI 3.1 document", body = Object)),
)]
async fn openapi_json(Extension(Document(json)): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
        .into_response()
}

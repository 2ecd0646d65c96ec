//! The integration tests' one helper: `TestApp::spawn()` builds every function's router
//! (`shared::http::app(shared::handlers::ALL, ..)`) on a real database and drives it
//! in-process with `tower::ServiceExt::oneshot`.
//!
//! The database is the backend under test (`Db`): PostgreSQL when `DATABASE_URL` is a
//! `postgres://` URL, else the embedded SQLite, in a file of this test process.
//! `scripts/test.sh` runs the whole suite once on each, from this one source.
//!
//! Tests isolate themselves with a fresh random user id each (`TestApp::user()`), so test
//! binaries and tests run in parallel on one database without cleanup.
#![allow(dead_code)] // each test binary uses a different part of this module

mod db;
#[cfg(feature = "kafka")]
pub mod kafka;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
#[allow(unused_imports)] // each test binary uses some
pub use db::{drop_database, global_turn, own_postgres_database, Backend, Db, GlobalTurn};
use http_body_util::BodyExt;
use serde_json::Value;
use shared::config::{Secret, SidecarAccess};
use shared::events::publisher::{NoPublisher, Publisher};
use shared::handlers::chat::{ChatState, ModelSettings};
use shared::http::Function;
use shared::http::{AppState, Authenticator};
use tower::ServiceExt;

pub const SECRET: &[u8] = b"integration-test-secret-of-32-bytes!";
/// The app API token the test app's sidecar routes require (`APP_API_TOKEN`).
pub const SIDECAR_TOKEN: &str = "integration-test-sidecar-token";

/// A `POST` to a sidecar route, carrying the app API token as daprd sends it.
pub fn sidecar_post(path: &str) -> axum::http::request::Builder {
    Request::post(path).header("dapr-api-token", SIDECAR_TOKEN)
}

pub struct TestApp {
    /// What the app serves on its port.
    pub router: Router,
    /// Where the sidecar's calls go: the same router for a function binary (with the app
    /// API token), the in-process sidecar routes for `todo-local`.
    pub sidecar: Router,
    /// The database behind the app: its store (for seeding data without the API) and what
    /// the tests inspect.
    pub db: Db,
    pub auth: Arc<Authenticator>,
    /// The state the routers run on.
    pub state: Option<AppState>,
}

impl TestApp {
    /// The app on the test database (migrated), with a small pool.
    pub async fn spawn() -> Self {
        Self::spawn_with_pool_size(4).await
    }

    pub async fn spawn_with_pool_size(max_connections: u32) -> Self {
        Self::on(Db::open(max_connections).await)
    }

    /// The app on `db`.
    pub fn on(db: Db) -> Self {
        Self::with_publisher(db, Arc::new(NoPublisher))
    }

    /// The app on `db`, publishing its events with `publisher`.
    pub fn with_publisher(db: Db, publisher: Arc<dyn Publisher>) -> Self {
        Self::with_state(db, publisher, shared::handlers::ALL, |_| {})
    }

    /// `functions` on `db` and `publisher`, their sidecar routes behind `SIDECAR_TOKEN`,
    /// with the state adjusted by `configure` (e.g. a webhook allow-list, a sidecar port).
    pub fn with_state(
        db: Db,
        publisher: Arc<dyn Publisher>,
        functions: &[&Function],
        configure: impl FnOnce(&mut AppState),
    ) -> Self {
        Self::with_model(db, publisher, functions, None, configure)
    }

    /// `with_state`, with the chat's assistant the model of `model` (else the built-in one).
    pub fn with_model(
        db: Db,
        publisher: Arc<dyn Publisher>,
        functions: &[&Function],
        model: Option<ModelSettings>,
        configure: impl FnOnce(&mut AppState),
    ) -> Self {
        let auth = Arc::new(Authenticator::hs256(SECRET));
        let mut state =
            shared::harness::state(db.store.clone(), Authenticator::hs256(SECRET), publisher);
        state.sidecar_access = Arc::new(SidecarAccess::Token(Secret::new(SIDECAR_TOKEN)));
        configure(&mut state);
        let chat = ChatState::new(db.store.clone(), shared::handlers::mcp::in_process(), model);
        let router = shared::http::app(functions, state.clone()).layer(axum::Extension(chat));
        TestApp {
            sidecar: router.clone(),
            router,
            db,
            auth,
            state: Some(state),
        }
    }

    /// The app wired like `todo-local` (`harness::local`): events go through the in-process
    /// bus; `router` serves the API only.
    pub async fn local(configure: impl FnOnce(&mut AppState)) -> Self {
        Self::local_with_limit(Default::default(), configure).await
    }

    /// `local`, with the chat's rate `limit`.
    pub async fn local_with_limit(
        limit: shared::handlers::chat::RateLimit,
        configure: impl FnOnce(&mut AppState),
    ) -> Self {
        let db = Db::open(4).await;
        let local = shared::harness::local(
            db.store.clone(),
            Authenticator::hs256(SECRET),
            None,
            limit,
            configure,
        );
        TestApp {
            router: local.api,
            sidecar: local.sidecar,
            db,
            auth: Arc::new(Authenticator::hs256(SECRET)),
            state: Some(local.state),
        }
    }

    /// Stores `n` tasks of `user` made by `task(i)` (i from 1), straight through the store
    /// with no events: bulk data for tests of lists and ticks. Answers their ids, in order.
    pub async fn seed(
        &self,
        user: &str,
        n: usize,
        task: impl Fn(usize) -> shared::domain::NewTask,
    ) -> Vec<uuid::Uuid> {
        let now = shared::domain::now();
        let tasks: Vec<shared::domain::Task> = (1..=n)
            .map(|i| shared::domain::Task::create(uuid::Uuid::new_v4(), user, task(i), now))
            .collect();
        for chunk in tasks.chunks(16) {
            futures::future::try_join_all(
                chunk
                    .iter()
                    .map(|t| self.db.store.create_task(t, &|_| Vec::new())),
            )
            .await
            .expect("seed tasks");
        }
        tasks.iter().map(|t| t.id).collect()
    }

    /// A fresh user id no other test uses.
    pub fn user() -> String {
        format!("user-{}", uuid::Uuid::new_v4())
    }

    /// A valid one-hour token for `user`.
    pub fn token(&self, user: &str) -> String {
        self.auth.issue(user, chrono::Duration::hours(1))
    }

    /// Sends any request; answers status, headers and the body as JSON (`Null` when empty;
    /// panics when a non-empty body is not JSON).
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        Self::send_to(&self.router, request).await
    }

    /// `send`, as the sidecar: to `sidecar`.
    pub async fn send_sidecar(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        Self::send_to(&self.sidecar, request).await
    }

    /// Runs the cron binding's tick once, as the sidecar; asserts 200 and answers its report.
    pub async fn tick(&self) -> Value {
        let (status, _, report) = self
            .send_sidecar(sidecar_post("/reminder-cron").body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        report
    }

    async fn send_to(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("read response body").to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "response body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (parts.status, parts.headers, json)
    }

    /// `method path` with an optional bearer token and an optional JSON body.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, json) = self.send(builder.body(body).unwrap()).await;
        (status, json)
    }

    /// `request` as `user` (a valid token for them).
    pub async fn call(
        &self,
        user: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.request(method, path, Some(&self.token(user)), body)
            .await
    }

    /// Creates a task for `user`; asserts 201 and answers the task.
    pub async fn create(&self, user: &str, body: Value) -> Value {
        let (status, task) = self
            .call(
                user,
                "POST",
                &format!("/api/{user}/tasks"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create {body}: {task}");
        task
    }

    /// A task made from `body` and then completed through the API (asserts both); its id.
    pub async fn completed_task(&self, user: &str, body: Value) -> String {
        let task = self.create(user, body).await;
        let id = task["id"].as_str().unwrap().to_owned();
        let (status, done) = self
            .call(
                user,
                "PATCH",
                &format!("/api/{user}/tasks/{id}/complete"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "complete {id}: {done}");
        id
    }

    /// `GET /api/{user}/tasks/{id}`.
    pub async fn get(&self, user: &str, id: &str) -> (StatusCode, Value) {
        self.call(user, "GET", &format!("/api/{user}/tasks/{id}"), None)
            .await
    }

    /// `GET /api/{user}/tasks?{query}`; asserts 200 and answers the page.
    pub async fn list(&self, user: &str, query: &str) -> Value {
        let (status, page) = self
            .call(user, "GET", &format!("/api/{user}/tasks?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "list ?{query}: {page}");
        page
    }

    /// The event types of `id`'s history (audit), in order (asserts the 200).
    pub async fn history_types(&self, user: &str, id: &str) -> Vec<String> {
        let (status, history) = self
            .call(
                user,
                "GET",
                &format!("/api/{user}/tasks/{id}/history"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{history}");
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A plain new task titled `title`, for `TestApp::seed`.
pub fn new_task(title: &str) -> shared::domain::NewTask {
    shared::domain::NewTask {
        title: shared::domain::Title::parse(title).unwrap(),
        description: Default::default(),
        priority: shared::domain::Priority::DEFAULT,
        tags: vec![],
        due_at: None,
        reminder_minutes: None,
        recurrence: None,
        timezone: shared::domain::Timezone::UTC,
        recurrence_parent_id: None,
        recurrence_depth: 0,
        recurrence_anchor: None,
    }
}

/// Asserts the API's one error shape, `{"error":{"code","message"[,"field"]}}`, and nothing else.
pub fn assert_error(body: &Value, code: &str, field: Option<&str>) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    assert_eq!(obj.len(), 1, "only `error` at the top level: {body}");
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no `error` object: {body}"));
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a non-empty message: {body}"
    );
    assert_eq!(
        error.get("field").and_then(Value::as_str),
        field,
        "field: {body}"
    );
    for key in error.keys() {
        assert!(
            ["code", "message", "field"].contains(&key.as_str()),
            "unexpected key {key}: {body}"
        );
    }
}

/// The `title`s of a page's items, in order.
pub fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

/// A timestamp field as a `DateTime<Utc>` (`None` for null).
pub fn time(value: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    value.as_str().map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .with_timezone(&chrono::Utc)
    })
}

impl TestApp {
    /// Delivers a CloudEvent to a subscription route as daprd would; asserts the 200 of
    /// Dapr's contract and answers its status (SUCCESS, RETRY or DROP).
    pub async fn deliver(&self, route: &str, envelope: &Value) -> String {
        let request = sidecar_post(route)
            .header(header::CONTENT_TYPE, "application/cloudevents+json")
            .body(Body::from(envelope.to_string()))
            .unwrap();
        let (status, _, body) = self.send_sidecar(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["status"].as_str().unwrap().to_owned()
    }

    /// Delivers CloudEvents to a subscription route as daprd's bulk subscribe does
    /// (entry ids "0", "1", ...); asserts the 200 and answers the status of each entry.
    pub async fn deliver_bulk(&self, route: &str, envelopes: &[Value]) -> Vec<String> {
        let entries: Vec<Value> = envelopes
            .iter()
            .enumerate()
            .map(|(i, event)| {
                serde_json::json!({"entryId": i.to_string(), "event": event,
                    "contentType": "application/cloudevents+json", "metadata": {}})
            })
            .collect();
        let body = serde_json::json!({"id": "bulk", "entries": entries, "metadata": {},
            "pubsubname": "pubsub", "topic": "task-events", "type": "com.dapr.event.sent.bulk"});
        let request = sidecar_post(route)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, _, body) = self.send_sidecar(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let statuses = body["statuses"].as_array().expect("statuses");
        assert_eq!(statuses.len(), envelopes.len(), "{body}");
        statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                assert_eq!(s["entryId"], i.to_string(), "{body}");
                s["status"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

/// The CloudEvent daprd would deliver for `payload` (an event with `event_id` and
/// `user_id`) published on `topic`.
pub fn envelope(topic: &str, payload: Value) -> Value {
    let message = shared::store::OutboxMessage {
        id: 1,
        event_id: payload["event_id"].as_str().unwrap().parse().unwrap(),
        topic: topic.into(),
        partition_key: payload["user_id"].as_str().unwrap().into(),
        payload,
        traceparent: None,
    };
    shared::events::subscription::cloud_event(&message, "test")
}

/// A webhook endpoint on loopback that records each request and answers the next queued
/// status (200 when the queue is empty).
#[derive(Clone, Default)]
pub struct Receiver {
    pub seen: Arc<std::sync::Mutex<Vec<(HeaderMap, axum::body::Bytes)>>>,
    pub answers: Arc<std::sync::Mutex<std::collections::VecDeque<StatusCode>>>,
}

impl Receiver {
    /// Starts serving; answers the webhook URL.
    pub async fn start(&self) -> String {
        let me = self.clone();
        let router = Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let me = me.clone();
                async move {
                    me.seen.lock().unwrap().push((headers, body));
                    me.answers
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or(StatusCode::OK)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://127.0.0.1:{port}/hook")
    }

    pub fn seen(&self) -> Vec<(HeaderMap, axum::body::Bytes)> {
        self.seen.lock().unwrap().clone()
    }
}

/// A log writer that keeps what is written, for tests that read the logs
/// (`tracing_subscriber::fmt().with_writer(move || sink.clone())`).
#[derive(Clone, Default)]
pub struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogSink {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

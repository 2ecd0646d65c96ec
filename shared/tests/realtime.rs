//! `realtime` with the app wired like `todo-local` (events through the in-process bus):
//! a user's Server-Sent Events stream carries that user's task changes and reminders, in
//! order, and nothing of anyone else's; auth as elsewhere, with `?access_token=` for
//! browsers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::TestApp;
use futures::StreamExt;
use serde_json::{json, Value};

async fn app_with_bus() -> TestApp {
    TestApp::local(|_| {}).await
}

/// An open SSE stream: parsed `(event, id, data)` frames, comments skipped.
struct Sse {
    body: axum::body::BodyDataStream,
    buffer: String,
}

impl Sse {
    async fn open(
        app: &TestApp,
        path: &str,
        bearer: Option<&str>,
    ) -> Result<Sse, (StatusCode, Value)> {
        let mut request = Request::get(path);
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response =
            tower::ServiceExt::oneshot(app.router.clone(), request.body(Body::empty()).unwrap())
                .await
                .unwrap();
        let status = response.status();
        if status != StatusCode::OK {
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            return Err((
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ));
        }
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        Ok(Sse {
            body: response.into_body().into_data_stream(),
            buffer: String::new(),
        })
    }

    /// The next event frame, or `None` when none comes within a few seconds.
    async fn next(&mut self) -> Option<(String, String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event: ").or(line.strip_prefix("event:")) {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                        id = v.to_owned();
                    } else if let Some(v) =
                        line.strip_prefix("data: ").or(line.strip_prefix("data:"))
                    {
                        data.push_str(v);
                    }
                }
                if event.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((event, id, serde_json::from_str(&data).unwrap()));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(3), self.body.next())
                .await
                .ok()??;
            self.buffer
                .push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    }

    /// Whether the stream ends within a few seconds, and without another event.
    async fn ends_quietly(&mut self) -> bool {
        loop {
            match tokio::time::timeout(Duration::from_secs(3), self.body.next()).await {
                Err(_) => return false,
                Ok(None) => return !self.buffer.contains("event:"),
                Ok(Some(chunk)) => self
                    .buffer
                    .push_str(std::str::from_utf8(&chunk.unwrap()).unwrap()),
            }
        }
    }
}

#[tokio::test]
async fn a_stream_carries_its_users_changes_in_order_and_nobody_elses() {
    let app = app_with_bus().await;
    let alice = TestApp::user();
    let bob = TestApp::user();
    let mut stream = Sse::open(
        &app,
        &format!("/api/{alice}/stream"),
        Some(&app.token(&alice)),
    )
    .await
    .unwrap();
    let mut bobs = Sse::open(&app, &format!("/api/{bob}/stream"), Some(&app.token(&bob)))
        .await
        .unwrap();

    let task = app.create(&alice, json!({"title": "buy milk"})).await;
    let id = task["id"].as_str().unwrap();
    app.create(&bob, json!({"title": "bob's secret"})).await;
    let (s, _) = app
        .call(
            &alice,
            "PATCH",
            &format!("/api/{alice}/tasks/{id}"),
            Some(json!({"title": "buy oat milk"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            &alice,
            "PATCH",
            &format!("/api/{alice}/tasks/{id}/complete"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let mut seen = Vec::new();
    for _ in 0..3 {
        let (event, event_id, data) = stream.next().await.expect("an event for alice");
        assert_eq!(data["user_id"], alice.as_str(), "{data}");
        assert_eq!(data["event_id"], event_id.as_str());
        assert_eq!(data["event_type"], event.as_str());
        seen.push((event, data["task"]["title"].as_str().unwrap().to_owned()));
    }
    assert_eq!(
        seen,
        [
            ("task.created".to_owned(), "buy milk".to_owned()),
            ("task.updated".to_owned(), "buy oat milk".to_owned()),
            ("task.completed".to_owned(), "buy oat milk".to_owned()),
        ]
    );
    assert!(
        stream.next().await.is_none(),
        "nothing of bob's reaches alice"
    );

    let (event, _, data) = bobs.next().await.expect("bob sees his own task");
    assert_eq!(
        (event.as_str(), data["task"]["title"].as_str()),
        ("task.created", Some("bob's secret"))
    );
    assert!(
        bobs.next().await.is_none(),
        "nothing of alice's reaches bob"
    );
}

#[tokio::test]
async fn reminders_reach_the_stream_and_the_webhook_through_todo_locals_wiring() {
    let _turn = common::global_turn().await;
    let app = TestApp::local(|state| {
        state.webhooks = Arc::new(shared::webhooks::Webhooks::new(["127.0.0.1".to_owned()]))
    })
    .await;

    let receiver = common::Receiver::default();
    let url = receiver.start().await;

    let user = TestApp::user();
    let secret = "local-flow-webhook-secret";
    let (s, _) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/webhooks"),
            Some(json!({"url": url, "secret": secret})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // EventSource style: the token in the query.
    let token = app.token(&user);
    let mut stream = Sse::open(
        &app,
        &format!("/api/{user}/stream?access_token={token}"),
        None,
    )
    .await
    .unwrap();

    let due = (chrono::Utc::now() + chrono::Duration::minutes(2)).to_rfc3339();
    let task = app
        .create(
            &user,
            json!({"title": "leave for the train", "due_at": due, "reminder_minutes": 5}),
        )
        .await;
    let (event, _, _) = stream.next().await.unwrap();
    assert_eq!(event, "task.created");

    app.tick().await;

    let (event, _, data) = stream.next().await.expect("the reminder on the stream");
    assert_eq!(event, "reminder.due");
    assert_eq!(data["task_id"], task["id"]);
    let received = receiver.seen();
    assert_eq!(received.len(), 1, "exactly one webhook delivery");
    let (headers, body) = &received[0];
    let signature = headers[shared::webhooks::SIGNATURE_HEADER]
        .to_str()
        .unwrap();
    assert!(shared::webhooks::verify(secret, body, signature));
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["task_id"], task["id"]);
    assert_eq!(payload["title"], "leave for the train");
}

/// At shutdown the hub ends every stream (so the drain is not held open by them) without
/// `expired`: the client reconnects with the token it has.
#[tokio::test]
async fn a_stream_closed_at_shutdown_ends_without_saying_expired() {
    let app = app_with_bus().await;
    let user = TestApp::user();
    let path = format!("/api/{user}/stream");
    let mut stream = Sse::open(&app, &path, Some(&app.token(&user)))
        .await
        .unwrap();
    app.state.as_ref().unwrap().hub.close();
    assert!(stream.ends_quietly().await);
}

#[tokio::test]
async fn the_stream_follows_the_auth_rules() {
    let app = app_with_bus().await;
    let user = TestApp::user();
    let path = format!("/api/{user}/stream");
    let (s, body) = Sse::open(&app, &path, None).await.err().unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    common::assert_error(&body, "unauthorized", None);
    let (s, _) = Sse::open(&app, &format!("{path}?access_token=garbage"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let other = app.token(&TestApp::user());
    let (s, _) = Sse::open(&app, &path, Some(&other)).await.err().unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = Sse::open(&app, &format!("{path}?access_token={other}"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN);
    let expired = app.auth.issue(&user, chrono::Duration::hours(-1));
    let (s, _) = Sse::open(&app, &path, Some(&expired)).await.err().unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // One token, once: a second would leave which one acts to the order they came in.
    let mine = app.token(&user);
    let (s, body) = Sse::open(
        &app,
        &format!("{path}?access_token={mine}&access_token={mine}"),
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(s, StatusCode::BAD_REQUEST);
    common::assert_error(&body, "bad_request", Some("access_token"));
    // The header wins: a bad one is not made good by a token in the query.
    let (s, _) = Sse::open(
        &app,
        &format!("{path}?access_token={mine}"),
        Some("garbage"),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(Sse::open(&app, &path, Some(&app.token(&user)))
        .await
        .is_ok());
}

/// The stream's events are as its OpenAPI document describes them: an object of `event`,
/// `id` and `data` (schemathesis reads each event so; they were once documented as a plain
/// string), whose `event` is one the document names.
#[tokio::test]
async fn the_streams_events_are_the_ones_its_document_describes() {
    let app = app_with_bus().await;
    let doc = shared::http::document(&shared::handlers::local());
    let doc: Value = serde_json::from_str(&shared::http::openapi::to_json(&doc, false)).unwrap();
    let stream = &doc["paths"]["/api/{user_id}/stream"]["get"]["responses"]["200"]["content"]
        ["text/event-stream"]["schema"];
    let event = doc
        .pointer(&stream["$ref"].as_str().expect("a named schema")[1..])
        .unwrap();
    assert_eq!(event["type"], "object", "{event}");
    assert_eq!(event["required"], json!(["event", "data"]));
    assert_eq!(event["properties"]["data"]["type"], "string");
    let names = doc
        .pointer(&event["properties"]["event"]["$ref"].as_str().unwrap()[1..])
        .unwrap()["enum"]
        .as_array()
        .unwrap()
        .clone();
    for name in ["reminder.due", "lagged", "expired"] {
        assert!(names.contains(&json!(name)), "{name}");
    }

    let user = TestApp::user();
    let mut sse = Sse::open(
        &app,
        &format!("/api/{user}/stream"),
        Some(&app.token(&user)),
    )
    .await
    .unwrap();
    let task = app.create(&user, json!({"title": "a"})).await;
    let path = format!("/api/{user}/tasks/{}", task["id"].as_str().unwrap());
    let body = Some(json!({"title": "b"}));
    assert_eq!(
        app.call(&user, "PATCH", &path, body).await.0,
        StatusCode::OK
    );
    let complete = format!("{path}/complete");
    assert_eq!(
        app.call(&user, "PATCH", &complete, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.call(&user, "DELETE", &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    for _ in 0..4 {
        let (event, id, data) = sse.next().await.expect("an event");
        assert!(names.contains(&json!(event)), "{event} is not documented");
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(data.is_object());
    }
}

/// Each stream holds a connection, and a process has a fixed number: one user cannot take
/// them all. A stream given up frees its place.
#[tokio::test]
async fn a_user_holds_a_limited_number_of_streams() {
    let app = app_with_bus().await;
    let user = TestApp::user();
    let token = app.token(&user);
    let path = format!("/api/{user}/stream");
    let mut open = Vec::new();
    for _ in 0..shared::events::hub::MAX_STREAMS_PER_USER {
        open.push(Sse::open(&app, &path, Some(&token)).await.ok().unwrap());
    }
    let (status, error) = Sse::open(&app, &path, Some(&token)).await.err().unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    common::assert_error(&error, "too_many_requests", None);
    // Another user is not affected.
    let other = TestApp::user();
    let other_path = format!("/api/{other}/stream");
    assert!(Sse::open(&app, &other_path, Some(&app.token(&other)))
        .await
        .is_ok());
    // The streams still carry events, and one closed makes room for another.
    app.create(&user, json!({"title": "still live"})).await;
    let (event, _, _) = open[0].next().await.unwrap();
    assert_eq!(event, "task.created");
    drop(open.pop());
    let mut again = Sse::open(&app, &path, Some(&token)).await.ok().unwrap();
    app.create(&user, json!({"title": "after"})).await;
    let (_, _, data) = again.next().await.unwrap();
    assert_eq!(data["task"]["title"], "after");
}

//! The API as an attacker tries it: each class of hostile input the project has met, with
//! the exact status and error JSON it must answer, so none of it can come back. The
//! classes: forged calls to the sidecar routes, input the database would refuse (NUL,
//! over-long values), look-alike and invisible text, webhook targets inside the network,
//! broken recurrence rules, tokens outside their lifetime, slow and oversized requests,
//! repeated parameters and changes that change nothing.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{assert_error, TestApp};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The app on a store whose database is a closed port: for requests that must be answered
/// before any query.
fn dead_app() -> TestApp {
    TestApp::on(common::Db::dead())
}

fn sign(claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(common::SECRET),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The events a task's changes recorded (on `task-events`), by type, in order.
async fn events_of(app: &TestApp, task_id: &str) -> Vec<String> {
    app.db
        .outbox(task_id)
        .await
        .into_iter()
        .filter(|row| row.topic == "task-events")
        .map(|row| row.event_type)
        .collect()
}

// --- 1. the sidecar routes --------------------------------------------------------------

/// What a forger would call: every event, binding and job route.
const SIDECAR_PATHS: [&str; 7] = [
    "/events/on-completed",
    "/events/audit",
    "/events/realtime",
    "/events/notify",
    "/reminder-cron",
    "/job/reminder-00000000-0000-0000-0000-000000000000",
    "/dapr/subscribe",
];

#[tokio::test]
async fn todo_local_does_not_serve_the_sidecar_routes_at_all() {
    let app = TestApp::local(|_| {}).await;
    let user = TestApp::user();
    // A forged completion of a recurring task of `user`: it must create nothing.
    let forged = common::envelope(
        "task-events",
        json!({"event_id": uuid::Uuid::new_v4(), "event_type": "task.completed",
               "schema_version": "1.0", "user_id": user, "task_id": uuid::Uuid::new_v4(),
               "occurred_at": "2026-11-22T10:00:00Z", "task": {}}),
    );
    for path in SIDECAR_PATHS {
        for token in [None, Some(common::SIDECAR_TOKEN)] {
            let mut request =
                Request::post(path).header(header::CONTENT_TYPE, "application/cloudevents+json");
            if let Some(token) = token {
                request = request.header("dapr-api-token", token);
            }
            let (status, _, body) = app
                .send(request.body(Body::from(forged.to_string())).unwrap())
                .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "POST {path} {token:?}: {body}"
            );
            assert_error(&body, "not_found", None);
        }
    }
    let page = app.list(&user, "").await;
    assert_eq!(page["total_count"], 0, "nothing was created: {page}");
}

#[tokio::test]
async fn a_function_refuses_forged_events_without_the_app_api_token() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(&user, json!({"title": "pay rent", "recurrence": "weekly"}))
        .await;
    let id = task["id"].as_str().unwrap();
    let mut forged_task = task.clone();
    forged_task["completed"] = json!(true);
    let forged = common::envelope(
        "task-events",
        json!({"event_id": uuid::Uuid::new_v4(), "event_type": "task.completed",
               "schema_version": "1.0", "user_id": user, "task_id": id,
               "occurred_at": "2026-11-22T10:00:00Z", "task": forged_task}),
    );
    for path in ["/events/on-completed", "/events/audit"] {
        for token in [None, Some("guessed")] {
            let mut request =
                Request::post(path).header(header::CONTENT_TYPE, "application/cloudevents+json");
            if let Some(token) = token {
                request = request.header("dapr-api-token", token);
            }
            let (status, _, body) = app
                .send(request.body(Body::from(forged.to_string())).unwrap())
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token:?}");
            assert_error(&body, "unauthorized", None);
        }
    }
    assert_eq!(
        app.list(&user, "").await["total_count"],
        1,
        "no next occurrence"
    );
    let (status, history) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/tasks/{id}/history"),
            None,
        )
        .await;
    // No audit consumer ran here, so any history entry could only be the forgery's.
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no forged history: {history}"
    );
}

// --- 2. what the database would refuse ----------------------------------------------------

#[tokio::test]
async fn nul_and_control_characters_are_4xx_naming_the_field() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let path = format!("/api/{user}/tasks");
    for (body, field) in [
        (json!({"title": "a\u{0}b"}), "title"),
        (json!({"title": "a\u{1b}[2Jb"}), "title"),
        (json!({"title": "line\nbreak"}), "title"),
        (
            json!({"title": "x", "description": "a\u{0}b"}),
            "description",
        ),
        (
            json!({"title": "x", "description": "a\u{7}b"}),
            "description",
        ),
        (json!({"title": "x", "tags": ["a\u{0}b"]}), "tags"),
        (json!({"title": "x", "tags": ["a\tb"]}), "tags"),
        (
            json!({"title": "x", "recurrence": "daily\u{0}"}),
            "recurrence",
        ),
        (json!({"title": "x", "timezone": "UTC\u{0}"}), "timezone"),
    ] {
        let (status, error) = app.call(&user, "POST", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_error(&error, "validation_failed", Some(field));
    }
    // Descriptions keep their line breaks and tabs.
    let task = app
        .create(
            &user,
            json!({"title": "x", "description": "one\r\ntwo\tthree"}),
        )
        .await;
    assert_eq!(task["description"], "one\r\ntwo\tthree");
    let id = task["id"].as_str().unwrap();
    let (status, error) = app
        .call(
            &user,
            "PATCH",
            &format!("{path}/{id}"),
            Some(json!({"title": "\u{0}"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&error, "validation_failed", Some("title"));

    for (query, field) in [
        ("search=a%00b", "search"),
        ("q=%1b", "search"),
        ("tag=a%00", "tag"),
    ] {
        let (status, error) = app
            .call(&user, "GET", &format!("{path}?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert_error(&error, "bad_request", Some(field));
    }

    let hooks = format!("/api/{user}/webhooks");
    let (status, error) = app
        .call(
            &user,
            "POST",
            &hooks,
            Some(json!({"url": "https://example.com/hook", "secret": "sixteen-chars-\u{0}-long"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_error(&error, "validation_failed", Some("secret"));
}

#[tokio::test]
async fn a_token_subject_the_database_cannot_hold_is_401() {
    let app = dead_app();
    for subject in ["al\u{0}ice", "alice\nadmin", &"u".repeat(256)] {
        let token = sign(json!({"sub": subject, "exp": now() + 600}));
        let encoded: String = form_urlencoded::byte_serialize(subject.as_bytes()).collect();
        let (status, error) = app
            .request("GET", &format!("/api/{encoded}/tasks"), Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{subject:?}: {error}");
        assert_error(&error, "unauthorized", None);
    }
}

#[tokio::test]
async fn a_path_segment_that_is_not_text_names_nothing() {
    let app = dead_app();
    let token = sign(json!({"sub": "alice", "exp": now() + 600}));
    for path in [
        "/api/%FF/tasks",
        "/api/alice/tasks/%C3%28",
        "/api/alice/tasks/%FF/history",
        "/api/alice/webhooks/%FE/deliveries",
    ] {
        let (status, error) = app.request("GET", path, Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {error}");
        assert_error(&error, "not_found", None);
    }
}

// --- 3. look-alike and invisible text -----------------------------------------------------

#[tokio::test]
async fn look_alike_tags_are_one_tag_and_bidi_controls_are_refused() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({"title": "x", "tags": ["work", "wo\u{200B}rk", "\u{FEFF}Work", "ＷＯＲＫ", "work\u{2060}"]}),
        )
        .await;
    assert_eq!(task["tags"], json!(["work"]));
    // The same normalisation finds it in a filter.
    let page = app.list(&user, "tag=%EF%BB%BFWORK").await;
    assert_eq!(page["total_count"], 1, "{page}");

    for tag in ["admin\u{202E}txt", "\u{2066}x", "a\u{200F}"] {
        let (status, error) = app
            .call(
                &user,
                "POST",
                &format!("/api/{user}/tasks"),
                Some(json!({"title": "x", "tags": [tag]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{tag:?}");
        assert_error(&error, "validation_failed", Some("tags"));
    }
    // A title keeps its text as typed, bidirectional marks included.
    let task = app
        .create(&user, json!({"title": "שלום \u{202B}world\u{202C}"}))
        .await;
    assert_eq!(task["title"], "שלום \u{202B}world\u{202C}");
}

// --- 4. webhook targets inside the network -------------------------------------------------

#[tokio::test]
async fn webhooks_to_special_addresses_in_any_form_are_refused() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for url in [
        "http://127.0.0.1/",
        "http://[::127.0.0.1]/",
        "http://[::169.254.169.254]/latest/meta-data",
        "http://[::ffff:0:127.0.0.1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[2002:7f00:1::1]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[fec0::1]/",
        "http://[100::1]/",
        "http://192.88.99.1/",
        "http://[64:ff9b::a00:1]/",
        "http://0x7f000001/",
        "http://2130706433/",
    ] {
        let (status, error) = app
            .call(
                &user,
                "POST",
                &format!("/api/{user}/webhooks"),
                Some(json!({"url": url, "secret": "a-secret-of-16-chars"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {error}");
        assert_error(&error, "validation_failed", Some("url"));
    }
}

#[tokio::test]
async fn a_webhook_url_long_once_normalised_is_422_not_500() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    // 1,000 characters as sent; each space becomes %20 in the stored URL.
    let url = format!("https://example.com/{}", " ".repeat(980));
    assert!(url.len() <= 2000);
    let (status, error) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/webhooks"),
            Some(json!({"url": url, "secret": "a-secret-of-16-chars"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_error(&error, "validation_failed", Some("url"));
}

// --- 5. recurrence rules that cannot recur ------------------------------------------------

#[tokio::test]
async fn rules_without_a_next_occurrence_are_refused() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for rule in [
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=WEEKLY;BYDAY=+1MO",
        "FREQ=MONTHLY;COUNT=0",
        "every 0 days",
    ] {
        let (status, error) = app
            .call(
                &user,
                "POST",
                &format!("/api/{user}/tasks"),
                Some(json!({"title": "x", "recurrence": rule})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{rule}: {error}");
        assert_error(&error, "validation_failed", Some("recurrence"));
    }
}

/// A series that would end with its first task is refused whichever way it comes: made
/// with or without a due date, or made so by an update of the rule or the due date.
#[tokio::test]
async fn a_series_that_would_never_repeat_is_refused_on_update_too() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let tasks = format!("/api/{user}/tasks");
    for body in [
        json!({"title": "x", "recurrence": "FREQ=DAILY;UNTIL=20200101T000000Z"}),
        json!({"title": "x", "due_at": "2027-01-10T09:00:00Z", "recurrence": "FREQ=DAILY;COUNT=1"}),
    ] {
        let (status, error) = app.call(&user, "POST", &tasks, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_error(&error, "validation_failed", Some("recurrence"));
    }
    let task = app
        .create(
            &user,
            json!({"title": "x", "due_at": "2027-01-10T09:00:00Z", "recurrence": "daily"}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let path = format!("{tasks}/{id}");
    for (method, patch) in [
        (
            "PATCH",
            json!({"recurrence": "FREQ=DAILY;UNTIL=20200101T000000Z"}),
        ),
        ("PATCH", json!({"recurrence": "FREQ=DAILY;COUNT=1"})),
        (
            "PUT",
            json!({"title": "x", "due_at": "9999-12-31T09:00:00Z", "recurrence": "daily"}),
        ),
    ] {
        let (status, error) = app.call(&user, method, &path, Some(patch.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{patch}: {error}");
        assert_error(&error, "validation_failed", Some("recurrence"));
    }
    assert_eq!(app.get(&user, id).await.1, task, "unchanged");
}

/// Times RFC 3339 cannot write back in UTC are refused; a leap second is the next second's
/// start, so the task reads back as it was answered and setting it again changes nothing.
#[tokio::test]
async fn due_dates_outside_the_years_rfc_3339_writes_are_422_and_leap_seconds_read_back() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let tasks = format!("/api/{user}/tasks");
    for due in [
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00+23:59",
        "0000-06-01T00:00:00Z",
    ] {
        let (status, error) = app
            .call(
                &user,
                "POST",
                &tasks,
                Some(json!({"title": "x", "due_at": due})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{due}: {error}");
        assert_error(&error, "validation_failed", Some("due_at"));
        let (status, error) = app
            .call(&user, "GET", &format!("{tasks}?due_before={due}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{due}: {error}");
    }
    let leap = app
        .create(
            &user,
            json!({"title": "leap", "due_at": "2026-12-31T23:59:60Z"}),
        )
        .await;
    assert_eq!(leap["due_at"], "2027-01-01T00:00:00Z");
    let id = leap["id"].as_str().unwrap();
    let path = format!("{tasks}/{id}");
    assert_eq!(app.get(&user, id).await.1, leap);
    let (status, again) = app
        .call(
            &user,
            "PATCH",
            &path,
            Some(json!({"due_at": "2026-12-31T23:59:60Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["updated_at"], leap["updated_at"], "no change");
    assert_eq!(events_of(&app, id).await, ["task.created"]);
}

/// A title is one visible line: not only invisible characters, no line separators.
#[tokio::test]
async fn a_title_must_show_something_on_one_line() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for title in [
        "\u{200b}",
        " \u{2060}\u{feff} ",
        "\u{200e}",
        "one\u{2028}two",
        "one\u{2029}two",
    ] {
        let (status, error) = app
            .call(
                &user,
                "POST",
                &format!("/api/{user}/tasks"),
                Some(json!({"title": title})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{title:?}: {error}"
        );
        assert_error(&error, "validation_failed", Some("title"));
    }
    let task = app.create(&user, json!({"title": "a\u{200d}b"})).await;
    assert_eq!(
        task["title"], "a\u{200d}b",
        "a joiner between letters is kept"
    );
}

#[tokio::test]
async fn a_series_at_the_end_of_the_supported_dates_ends_cleanly() {
    let app = TestApp::local(|_| {}).await;
    let user = TestApp::user();
    // Its next date would be in year 10000, which no request could name: refused at once.
    let (status, error) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/tasks"),
            Some(json!({"title": "x", "due_at": "9999-06-01T12:00:00Z", "recurrence": "yearly"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_error(&error, "validation_failed", Some("recurrence"));

    // One year before: the series reaches 9999 and ends there, with no error anywhere.
    let task = app
        .create(
            &user,
            json!({"title": "last", "due_at": "9998-12-31T12:00:00Z", "recurrence": "yearly"}),
        )
        .await;
    let complete = |id: &str| format!("/api/{user}/tasks/{id}/complete");
    let (status, _) = app
        .call(
            &user,
            "PATCH",
            &complete(task["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let page = app.list(&user, "status=pending").await;
    assert_eq!(page["total_count"], 1, "{page}");
    let next = &page["items"][0];
    assert_eq!(next["due_at"], "9999-12-31T12:00:00Z");
    let (status, _) = app
        .call(
            &user,
            "PATCH",
            &complete(next["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let page = app.list(&user, "").await;
    assert_eq!(page["total_count"], 2, "no occurrence after 9999: {page}");
}

// --- 6. tokens outside their lifetime -----------------------------------------------------

#[tokio::test]
async fn a_token_not_valid_yet_is_401_and_real_issuers_tokens_are_accepted() {
    let app = dead_app();
    let path = "/api/alice/stream";
    let early = sign(json!({"sub": "alice", "exp": now() + 7200, "nbf": now() + 3600}));
    let (status, error) = app.request("GET", path, Some(&early), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&error, "unauthorized", None);
    assert!(error["error"]["message"].as_str().unwrap().contains("nbf"));

    let real = sign(
        json!({"sub": "alice", "exp": now() as f64 + 600.5, "iat": now() as f64 - 0.5,
        "aud": "https://api.example.com", "iss": "https://auth.example.com"}),
    );
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {real}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_stream_ends_with_expired_when_its_token_does() {
    use futures::StreamExt;
    let app = dead_app();
    let token = sign(json!({"sub": "alice", "exp": now() + 2}));
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        Request::get(format!("/api/alice/stream?access_token={token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let mut text = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ended: {text:?}");
    assert!(text.contains("event: expired\n"), "{text:?}");
}

// --- 7. slow and oversized requests ------------------------------------------------------

#[tokio::test]
async fn oversized_targets_headers_and_announced_bodies_are_refused_at_once_with_json() {
    let app = dead_app();
    let token = sign(json!({"sub": "alice", "exp": now() + 600}));
    let long = format!("/api/alice/tasks?search={}", "a".repeat(9000));
    let (status, error) = app.request("GET", &long, Some(&token), None).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_error(&error, "uri_too_long", None);

    let mut request = Request::get("/api/alice/tasks");
    for i in 0..40 {
        request = request.header(format!("x-filler-{i}"), "f".repeat(1000));
    }
    let (status, _, error) = app.send(request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_error(&error, "headers_too_large", None);

    let mut request = Request::get("/healthz");
    for i in 0..101 {
        request = request.header(format!("x-h{i}"), "1");
    }
    let (status, _, error) = app.send(request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_error(&error, "headers_too_large", None);

    // 100 MB announced, nothing sent: answered without waiting for the body.
    let (tx, never) =
        futures::channel::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let request = Request::post("/api/alice/tasks")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "100000000")
        .body(Body::from_stream(never))
        .unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(10), app.send(request)).await;
    drop(tx);
    let (status, _, error) = answered.expect("answered before any body arrived");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&error, "payload_too_large", None);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_does_not_arrive_is_408() {
    let app = dead_app();
    let token = sign(json!({"sub": "alice", "exp": now() + 600}));
    let (tx, stalled) =
        futures::channel::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let request = Request::post("/api/alice/tasks")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "20")
        .body(Body::from_stream(stalled))
        .unwrap();
    // Paused time moves on by itself while the request waits for its body.
    let (status, _, error) = app.send(request).await;
    drop(tx);
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_error(&error, "request_timeout", None);
}

/// Serves `app` on a loopback port with `limits`; answers its address.
async fn serve(app: &TestApp, limits: shared::harness::ServerLimits) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(shared::harness::serve_on(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    addr
}

/// Reads what the server sends until it closes the connection (or `within` passes).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut out))
        .await
        .ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = dead_app();
    let addr = serve(
        &app,
        shared::harness::ServerLimits {
            header_read_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let closed = read_until_closed(&mut slow, Duration::from_secs(20)).await;
    assert!(closed.is_some(), "the server closed the half-sent request");

    // An ordinary client on the same server is served.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    ok.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut ok, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_one() {
    let app = dead_app();
    let addr = serve(
        &app,
        shared::harness::ServerLimits {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(request).await.unwrap();
    let mut buf = [0u8; 512];
    let n = first.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // The first connection stays open (keep-alive): the second is not served meanwhile.
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(request).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(500), second.read(&mut buf)).await;
    assert!(
        waited.is_err(),
        "the second connection waits while the first holds the only slot"
    );
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(20), second.read(&mut buf))
        .await
        .expect("served once the first closed")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn requests_the_parser_reads_get_the_error_json_over_the_wire() {
    let app = dead_app();
    let addr = serve(&app, Default::default()).await;
    let long = format!(
        "GET /api/alice/tasks?search={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(long.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut client, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    assert!(
        answer.contains(r#"{"error":{"code":"uri_too_long""#),
        "{answer}"
    );

    let mut head = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..150 {
        head.push_str(&format!("X-H{i}: 1\r\n"));
    }
    head.push_str("\r\n");
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut client, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(
        answer.contains(r#"{"error":{"code":"headers_too_large""#),
        "{answer}"
    );
}

// --- 8. contract slips --------------------------------------------------------------------

#[tokio::test]
async fn a_parameter_given_twice_through_an_alias_is_refused() {
    let app = dead_app();
    let token = sign(json!({"sub": "alice", "exp": now() + 600}));
    for (query, field) in [
        ("search=a&q=b", "search"),
        ("q=a&search=b", "search"),
        ("page_size=5&limit=10", "page_size"),
        ("tag=a&tags=b", "tag"),
        ("sort_by=title&sort=priority", "sort_by"),
        ("sort_order=asc&order=desc", "sort_order"),
        ("page=1&page=2", "page"),
    ] {
        let (status, error) = app
            .request(
                "GET",
                &format!("/api/alice/tasks?{query}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert_error(&error, "bad_request", Some(field));
    }
}

#[tokio::test]
async fn a_change_that_changes_nothing_records_no_event() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({"title": "t", "tags": ["b", "a"], "priority": "P2"}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let complete = format!("/api/{user}/tasks/{id}/complete");
    let (_, done) = app
        .call(&user, "PATCH", &complete, Some(json!({"completed": true})))
        .await;
    for _ in 0..3 {
        let (status, again) = app
            .call(&user, "PATCH", &complete, Some(json!({"completed": true})))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["updated_at"], done["updated_at"], "nothing changed");
    }
    let (status, same) = app
        .call(
            &user,
            "PATCH",
            &format!("/api/{user}/tasks/{id}"),
            Some(
                json!({"title": " t ", "tags": ["a", "B"], "priority": "high", "completed": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, done, "the task as it was");
    assert_eq!(
        events_of(&app, id).await,
        ["task.created", "task.completed"]
    );

    // A real change still records its event.
    let (_, open) = app
        .call(&user, "PATCH", &complete, Some(json!({"completed": false})))
        .await;
    assert_eq!(open["completed"], false);
    assert_eq!(
        events_of(&app, id).await,
        ["task.created", "task.completed", "task.updated"]
    );
}

/// An error names a long value without sending it back whole.
#[tokio::test]
async fn an_error_does_not_send_a_long_value_back() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let long = "x".repeat(60_000);
    let create = format!("/api/{user}/tasks");
    for (body, field) in [
        (json!({"title": "t", "timezone": long}), "timezone"),
        (json!({"title": "t", "priority": long}), "priority"),
        (json!({"title": "t", "tags": [long]}), "tags"),
        (json!({"title": "t", "recurrence": long}), "recurrence"),
    ] {
        let (status, error) = app.call(&user, "POST", &create, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_error(&error, "validation_failed", Some(field));
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.len() < 400, "{field}: {} bytes", message.len());
    }
    let (status, error) = app
        .call(&user, "GET", &format!("{create}?{}=1", &long[..5000]), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().len() < 400);
}

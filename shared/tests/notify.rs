//! `notify` against the real database and a real HTTP receiver on loopback: webhook
//! management with its validation and auth rules, signed deliveries, retries from the
//! database by the tick's sweep (never by handing the event back to the broker), and at
//! most one delivery per (event, webhook) once it succeeded.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Utc;
use common::{assert_error, Receiver, TestApp};
use serde_json::{json, Value};
use shared::events::publisher::NoPublisher;
use shared::webhooks::{self, Webhooks};

/// The app with loopback webhooks allowed (as WEBHOOK_ALLOWED_HOSTS=127.0.0.1 would).
async fn app() -> TestApp {
    TestApp::with_state(
        common::Db::open(4).await,
        Arc::new(NoPublisher),
        shared::handlers::ALL,
        |state| state.webhooks = Arc::new(Webhooks::new(["127.0.0.1".to_owned()])),
    )
}

fn reminder(user: &str) -> (String, Value) {
    let event_id = uuid::Uuid::new_v4();
    let payload = json!({
        "event_id": event_id, "event_type": "reminder.due", "schema_version": "1.0",
        "user_id": user, "task_id": uuid::Uuid::new_v4(), "title": "call mum",
        "due_at": "2026-12-01T09:00:00Z", "remind_at": "2026-12-01T08:45:00Z",
        "occurred_at": Utc::now(),
    });
    let envelope = common::envelope("reminders", payload);
    (event_id.to_string(), envelope)
}

/// Moves the user's logged attempts two hours into the past: their backoff is over.
async fn end_backoff(app: &TestApp, user: &str) {
    app.db
        .backdate_deliveries(user, chrono::Duration::hours(2))
        .await;
}

/// The webhook's delivery log.
async fn log(app: &TestApp, user: &str, hook: &str) -> Value {
    let (s, log) = app
        .call(
            user,
            "GET",
            &format!("/api/{user}/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    log
}

/// Runs the tick until the webhook's only logged delivery has had `attempts` attempts (a
/// test running beside this one may have claimed it in its own tick, and be attempting it).
async fn retry_until(app: &TestApp, user: &str, hook: &str, attempts: u64) -> Value {
    for _ in 0..100 {
        app.tick().await;
        let log = log(app, user, hook).await;
        if log[0]["attempts"].as_u64() >= Some(attempts) {
            return log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{hook} never had {attempts} attempts: {}",
        log(app, user, hook).await
    );
}

/// A URL nothing listens on.
fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}/hook")
}

/// Seconds from `a` to `b`, two times of a log line.
fn seconds_between(a: &Value, b: &Value) -> i64 {
    (common::time(b).unwrap() - common::time(a).unwrap()).num_seconds()
}

async fn register(app: &TestApp, user: &str, url: &str, secret: &str) -> String {
    let (s, body) = app
        .call(
            user,
            "POST",
            &format!("/api/{user}/webhooks"),
            Some(json!({"url": url, "secret": secret})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

const SECRET: &str = "a-webhook-secret-of-some-length";

#[tokio::test]
async fn a_reminder_is_delivered_signed_and_only_once() {
    let app = app().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let user = TestApp::user();
    let hook = register(&app, &user, &url, SECRET).await;
    let (event_id, envelope) = reminder(&user);

    assert_eq!(app.deliver("/events/notify", &envelope).await, "SUCCESS");
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    let signature = headers[webhooks::SIGNATURE_HEADER].to_str().unwrap();
    assert!(webhooks::verify(SECRET, body, signature), "{signature}");
    assert!(!webhooks::verify(
        "some-other-secret-entirely",
        body,
        signature
    ));
    assert_eq!(headers[webhooks::EVENT_ID_HEADER], event_id.as_str());
    assert_eq!(headers["content-type"], "application/json");
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["event_type"], "reminder.due");
    assert_eq!(payload["title"], "call mum");
    assert_eq!(payload["event_id"], event_id.as_str());

    // A redelivered event is not sent again.
    assert_eq!(app.deliver("/events/notify", &envelope).await, "SUCCESS");
    assert_eq!(receiver.seen().len(), 1);

    let (s, log) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log[0]["event_id"], event_id.as_str());
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["last_status"], 200);
    assert!(log[0]["delivered_at"].is_string());

    // Another user's reminder never reaches this user's webhook.
    let (_, theirs) = reminder(&TestApp::user());
    assert_eq!(app.deliver("/events/notify", &theirs).await, "SUCCESS");
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_from_the_database_and_a_working_one_is_not_repeated() {
    let app = app().await;
    let flaky = Receiver::default();
    flaky.answers.lock().unwrap().extend([
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
    ]);
    let steady = Receiver::default();
    let user = TestApp::user();
    let flaky_hook = register(&app, &user, &flaky.start().await, SECRET).await;
    register(&app, &user, &steady.start().await, SECRET).await;
    let (event_id, envelope) = reminder(&user);

    // The broker hears SUCCESS although an endpoint failed: the retry is the database's.
    assert_eq!(app.deliver("/events/notify", &envelope).await, "SUCCESS");
    assert_eq!((flaky.seen().len(), steady.seen().len()), (1, 1));
    let first = log(&app, &user, &flaky_hook).await;
    assert_eq!(first[0]["status"], "retrying", "{first}");
    assert_eq!(first[0]["attempts"], 1);
    assert_eq!(first[0]["last_status"], 500);
    let wait = seconds_between(&first[0]["last_attempt_at"], &first[0]["next_attempt_at"]);
    assert_eq!(wait, webhooks::RETRY_BASE.as_secs() as i64, "{first}");

    // Redelivered by the broker: no webhook gets a second first attempt.
    assert_eq!(app.deliver("/events/notify", &envelope).await, "SUCCESS");
    // A tick during the backoff attempts nothing.
    app.tick().await;
    assert_eq!(flaky.seen().len(), 1, "backing off");
    assert_eq!(log(&app, &user, &flaky_hook).await[0]["attempts"], 1);

    end_backoff(&app, &user).await;
    let second = retry_until(&app, &user, &flaky_hook, 2).await;
    assert_eq!(second[0]["status"], "retrying", "{second}");
    assert_eq!(second[0]["last_status"], 503);
    let wait = seconds_between(&second[0]["last_attempt_at"], &second[0]["next_attempt_at"]);
    assert_eq!(
        wait,
        2 * webhooks::RETRY_BASE.as_secs() as i64,
        "the backoff doubles"
    );

    end_backoff(&app, &user).await;
    let third = retry_until(&app, &user, &flaky_hook, 3).await;
    assert_eq!(third[0]["status"], "delivered", "{third}");
    assert_eq!(third[0]["last_status"], 200);
    assert!(third[0]["last_error"].is_null());
    assert!(third[0]["next_attempt_at"].is_null());

    end_backoff(&app, &user).await;
    app.tick().await;
    assert_eq!(
        flaky.seen().len(),
        3,
        "tried until it answered 2xx, then never again"
    );
    assert_eq!(steady.seen().len(), 1, "the working endpoint got it once");
    // Each retry is the event as first sent, signed, with its id.
    for (headers, body) in flaky.seen() {
        assert_eq!(headers[webhooks::EVENT_ID_HEADER], event_id.as_str());
        assert_eq!(headers[webhooks::EVENT_TYPE_HEADER], "reminder.due");
        let signature = headers[webhooks::SIGNATURE_HEADER].to_str().unwrap();
        assert!(webhooks::verify(SECRET, &body, signature));
        assert_eq!(body, steady.seen()[0].1);
    }
}

#[tokio::test]
async fn a_first_attempt_cut_off_mid_way_is_not_sent_again_by_a_redelivery_and_the_sweep_makes_it()
{
    let app = app().await;
    // An endpoint that never answers its first request, and answers 200 to the others.
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let first_arrived = Arc::new(tokio::sync::Notify::new());
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let (requests, first_arrived) = (requests.clone(), first_arrived.clone());
            move || async move {
                if requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    first_arrived.notify_one();
                    std::future::pending::<()>().await;
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let user = TestApp::user();
    let hook = register(&app, &user, &url, SECRET).await;
    let (_, envelope) = reminder(&user);
    let sent = || requests.load(std::sync::atomic::Ordering::SeqCst);

    // The delivery's caller stops waiting while the endpoint has the request (as a
    // process that dies would): the attempt is never recorded.
    tokio::select! {
        _ = app.deliver("/events/notify", &envelope) => panic!("the endpoint never answers"),
        _ = first_arrived.notified() => {}
    }
    // The event comes again: its first attempt is claimed, nothing is sent twice.
    assert_eq!(app.deliver("/events/notify", &envelope).await, "SUCCESS");
    assert_eq!(sent(), 1);
    let owed = log(&app, &user, &hook).await;
    assert_eq!(owed[0]["status"], "retrying", "{owed}");
    assert_eq!(owed[0]["attempts"], 0);
    assert!(owed[0]["last_attempt_at"].is_null());
    app.tick().await;
    assert_eq!(sent(), 1, "claimed until its lease ends");

    // After the lease the retry sweep makes the attempt.
    end_backoff(&app, &user).await;
    let done = retry_until(&app, &user, &hook, 1).await;
    assert_eq!(done[0]["status"], "delivered", "{done}");
    assert_eq!(sent(), 2);
}

#[tokio::test]
async fn an_endpoint_that_never_works_is_given_up_after_the_last_attempt() {
    let app = app().await;
    let user = TestApp::user();
    let hook = register(&app, &user, &dead_url(), SECRET).await;
    let (_, envelope) = reminder(&user);
    assert_eq!(app.deliver("/events/notify", &envelope).await, "SUCCESS");
    let max = webhooks::MAX_DELIVERY_ATTEMPTS as u64;
    let mut last = log(&app, &user, &hook).await;
    for attempts in 2..=max {
        assert_eq!(last[0]["status"], "retrying", "{last}");
        end_backoff(&app, &user).await;
        last = retry_until(&app, &user, &hook, attempts).await;
    }
    assert_eq!(last[0]["status"], "failed", "{last}");
    assert_eq!(last[0]["attempts"], max);
    assert!(last[0]["delivered_at"].is_null());
    assert!(last[0]["next_attempt_at"].is_null());
    assert!(last[0]["failed_at"].is_string());
    assert!(
        last[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{last}"
    );
    end_backoff(&app, &user).await;
    app.tick().await;
    assert_eq!(
        log(&app, &user, &hook).await[0]["attempts"],
        max,
        "given up"
    );
}

/// One user's endpoint is down while 100 other users' reminders fall due: the broker hears
/// SUCCESS for every event at once (the dead one's included), every other reminder is
/// delivered in that one pass, and the dead one waits for the sweep.
#[tokio::test]
async fn a_dead_endpoint_never_holds_up_other_users_reminders() {
    let app = app().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let dead_user = TestApp::user();
    let dead_hook = register(&app, &dead_user, &dead_url(), SECRET).await;
    let others: Vec<String> = (0..100).map(|_| TestApp::user()).collect();
    for user in &others {
        register(&app, user, &url, SECRET).await;
    }
    // The dead user's reminder comes first in the partition, as the worst case.
    let (_, dead_envelope) = reminder(&dead_user);
    assert_eq!(
        app.deliver("/events/notify", &dead_envelope).await,
        "SUCCESS"
    );
    for user in &others {
        let (_, envelope) = reminder(user);
        assert_eq!(app.deliver("/events/notify", &envelope).await, "SUCCESS");
    }
    let mut delivered_to: Vec<String> = receiver
        .seen()
        .iter()
        .map(|(_, body)| {
            serde_json::from_slice::<Value>(body).unwrap()["user_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    delivered_to.sort();
    let mut want = others.clone();
    want.sort();
    assert_eq!(delivered_to, want, "each other user's reminder, once");
    let dead = log(&app, &dead_user, &dead_hook).await;
    assert_eq!(dead[0]["status"], "retrying", "{dead}");
    assert_eq!(dead[0]["attempts"], 1);
    end_backoff(&app, &dead_user).await;
    let retried = retry_until(&app, &dead_user, &dead_hook, 2).await;
    assert_eq!(retried[0]["status"], "retrying", "{retried}");
    assert_eq!(
        receiver.seen().len(),
        100,
        "the retry went to the dead endpoint only"
    );
}

#[tokio::test]
async fn webhooks_are_managed_per_user_and_never_show_their_secret() {
    let app = app().await;
    let user = TestApp::user();
    let base = format!("/api/{user}/webhooks");

    // Without a secret, one is generated and shown once.
    let (s, created) = app
        .call(
            &user,
            "POST",
            &base,
            Some(json!({"url": "http://127.0.0.1:9/a"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let generated = created["secret"].as_str().unwrap();
    assert!(generated.len() >= 32);
    let id = created["id"].as_str().unwrap().to_owned();
    // A given secret is not echoed.
    let (s, second) = app
        .call(
            &user,
            "POST",
            &base,
            Some(json!({"url": "http://127.0.0.1:9/b", "secret": SECRET})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(second.get("secret").is_none(), "{second}");

    let (s, list) = app.call(&user, "GET", &base, None).await;
    assert_eq!(s, StatusCode::OK);
    let urls: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]);
    assert!(!list.to_string().contains(generated) && !list.to_string().contains(SECRET));

    let (s, body) = app
        .call(
            &user,
            "POST",
            &base,
            Some(json!({"url": "http://127.0.0.1:9/a"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "conflict", None);

    // Another user: 403 on this user's paths, 404 for this user's webhook id on theirs.
    let other = TestApp::user();
    let (s, _) = app.call(&other, "GET", &base, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            &other,
            "DELETE",
            &format!("/api/{other}/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            &other,
            "GET",
            &format!("/api/{other}/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.request("GET", &base, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .request(
            "POST",
            &base,
            None,
            Some(json!({"url": "http://127.0.0.1:9/c"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, _) = app
        .call(&user, "DELETE", &format!("{base}/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .call(&user, "DELETE", &format!("{base}/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(&user, "DELETE", &format!("{base}/not-a-uuid"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.call(&user, "GET", &base, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn webhook_input_is_validated() {
    let strict = TestApp::spawn().await; // no allow-list: private targets are refused
    let user = TestApp::user();
    let base = format!("/api/{user}/webhooks");
    for (body, field) in [
        (json!({}), "url"),
        (json!({"url": "ftp://example.com/x"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://user:pw@example.com/"}), "url"),
        (json!({"url": "http://127.0.0.1:8080/hook"}), "url"),
        (json!({"url": "http://localhost/hook"}), "url"),
        (json!({"url": "http://10.0.0.7/hook"}), "url"),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data"}),
            "url",
        ),
        (json!({"url": "http://[::1]/hook"}), "url"),
        (
            json!({"url": "http://93.184.216.34/hook", "secret": "short"}),
            "secret",
        ),
    ] {
        let (s, err) = strict.call(&user, "POST", &base, Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_error(&err, "validation_failed", Some(field));
    }
    let (s, err) = strict
        .call(
            &user,
            "POST",
            &base,
            Some(json!({"url": "http://93.184.216.34/", "extra": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (s, _) = strict
        .call(
            &user,
            "POST",
            &base,
            Some(json!({"url": "http://93.184.216.34/hook"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "a public address is fine");

    // At most MAX_WEBHOOKS_PER_USER.
    for i in 1..shared::store::MAX_WEBHOOKS_PER_USER {
        let (s, _) = strict
            .call(
                &user,
                "POST",
                &base,
                Some(json!({"url": format!("http://93.184.216.34/{i}")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, err) = strict
        .call(
            &user,
            "POST",
            &base,
            Some(json!({"url": "http://93.184.216.34/one-too-many"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_error(&err, "validation_failed", Some("url"));
}

//! `reminder-jobs` against the real database: a due job fires its task's reminder exactly
//! once (and the tick then sends nothing more); task events schedule and delete jobs
//! through the sidecar's Jobs API. The sidecar here is a small recording stand-in; the
//! real daprd and scheduler run in scripts/e2e-dapr.sh.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::Router;
use chrono::{Duration, Utc};
use common::TestApp;
use serde_json::{json, Value};
use shared::dapr::Sidecar;
use shared::events::publisher::NoPublisher;
use shared::handlers::{reminder_jobs, reminder_tick};

fn app(db: &common::Db, sidecar_port: Option<u16>) -> TestApp {
    TestApp::with_state(
        db.clone(),
        Arc::new(NoPublisher),
        &[
            &reminder_jobs::FUNCTION,
            &reminder_tick::FUNCTION,
            &shared::handlers::create_task::FUNCTION,
        ],
        |state| {
            if let Some(port) = sidecar_port {
                state.sidecar = Arc::new(Sidecar::new(port));
            }
        },
    )
}

async fn post(app: &TestApp, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
    let request = common::sidecar_post(path)
        .header("content-type", "application/cloudevents+json")
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let (status, _, json) = app.send(request).await;
    (status, json)
}

async fn reminder_count(db: &common::Db, task_id: &str) -> i64 {
    db.outbox(task_id)
        .await
        .iter()
        .filter(|row| row.topic == "reminders")
        .count() as i64
}

#[tokio::test]
async fn a_due_job_fires_its_reminder_once() {
    let _turn = common::global_turn().await;
    let pool = common::Db::open(4).await;
    let app = app(&pool, None);
    let user = TestApp::user();
    let soon = app
        .create(
            &user,
            json!({"title": "stand-up", "due_at": (Utc::now() + Duration::minutes(1)).to_rfc3339(), "reminder_minutes": 1}),
        )
        .await;
    let later = app
        .create(
            &user,
            json!({"title": "review", "due_at": (Utc::now() + Duration::hours(1)).to_rfc3339(), "reminder_minutes": 1}),
        )
        .await;
    let soon_id = soon["id"].as_str().unwrap();
    let later_id = later["id"].as_str().unwrap();

    let (s, body) = post(&app, &format!("/job/reminder-{later_id}"), None).await;
    assert_eq!(
        (s, body["reminders"].clone()),
        (StatusCode::OK, json!(0)),
        "not due yet"
    );

    let (s, body) = post(
        &app,
        &format!("/job/reminder-{soon_id}"),
        Some(&json!({"task_id": soon_id})),
    )
    .await;
    assert_eq!((s, body["reminders"].clone()), (StatusCode::OK, json!(1)));
    let (s, body) = post(&app, &format!("/job/reminder-{soon_id}"), None).await;
    assert_eq!(
        (s, body["reminders"].clone()),
        (StatusCode::OK, json!(0)),
        "a job fired twice sends once"
    );
    let (s, _) = post(&app, "/reminder-cron", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        reminder_count(&pool, soon_id).await,
        1,
        "the tick sends nothing more"
    );
    assert_eq!(reminder_count(&pool, later_id).await, 0);

    for bad in [
        "/job/reminder-nope",
        "/job/cleanup",
        &format!("/job/other-{soon_id}"),
    ] {
        let (s, _) = post(&app, bad, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
    }
}

/// What the stand-in sidecar was asked: (method, path, body). It answers the jobs API with
/// `answer`.
type Calls = Arc<Mutex<Vec<(String, String, Value)>>>;

async fn fake_sidecar(answer: StatusCode) -> (u16, Calls) {
    let calls: Calls = Arc::default();
    let recorded = calls.clone();
    let router = Router::new()
        .route(
            "/v1.0/healthz/outbound",
            get(|| async { StatusCode::NO_CONTENT }),
        )
        .route(
            "/v1.0-alpha1/jobs/{name}",
            any(
                move |method: axum::http::Method, uri: axum::http::Uri, body: axum::body::Bytes| {
                    let recorded = recorded.clone();
                    async move {
                        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        recorded.lock().unwrap().push((
                            method.to_string(),
                            uri.path().to_owned(),
                            json,
                        ));
                        answer
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, calls)
}

fn task_event(event_type: &str, task: &Value) -> Value {
    let payload = json!({
        "event_id": uuid::Uuid::new_v4(), "event_type": event_type, "schema_version": "1.0",
        "user_id": task["user_id"], "task_id": task["id"], "occurred_at": Utc::now(), "task": task,
    });
    common::envelope("task-events", payload)
}

#[tokio::test]
async fn task_events_schedule_and_delete_reminder_jobs() {
    let pool = common::Db::open(4).await;
    let (port, calls) = fake_sidecar(StatusCode::NO_CONTENT).await;
    let app = app(&pool, Some(port));
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({"title": "dentist", "due_at": "2031-03-04T10:00:00Z", "reminder_minutes": 60}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let job = format!("/v1.0-alpha1/jobs/reminder-{id}");

    let (s, body) = post(
        &app,
        "/events/reminder-jobs",
        Some(&task_event("task.created", &task)),
    )
    .await;
    assert_eq!(
        (s, body["status"].as_str()),
        (StatusCode::OK, Some("SUCCESS")),
        "{body}"
    );
    {
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (method, path, body) = &calls[0];
        assert_eq!((method.as_str(), path.as_str()), ("POST", job.as_str()));
        assert_eq!(body["dueTime"], "2031-03-04T09:00:00Z");
        assert_eq!(body["data"]["task_id"], id);
        assert_eq!(body["overwrite"], true);
    }

    let mut completed = task.clone();
    completed["completed"] = json!(true);
    completed["completed_at"] = json!(Utc::now());
    let (s, _) = post(
        &app,
        "/events/reminder-jobs",
        Some(&task_event("task.completed", &completed)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = post(
        &app,
        "/events/reminder-jobs",
        Some(&task_event("task.deleted", &task)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut cleared = task.clone();
    cleared["reminder_minutes"] = Value::Null;
    cleared["remind_at"] = Value::Null;
    let (s, _) = post(
        &app,
        "/events/reminder-jobs",
        Some(&task_event("task.updated", &cleared)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    let calls = calls.lock().unwrap();
    let methods: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(methods, ["POST", "DELETE", "DELETE", "DELETE"]);
    assert!(calls.iter().all(|c| c.1 == job));
}

#[tokio::test]
async fn a_sidecar_that_cannot_schedule_asks_for_redelivery() {
    let pool = common::Db::open(2).await;
    // Nothing listens on this port: the sidecar is down.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = app(&pool, Some(port));
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({"title": "x", "due_at": "2031-03-04T10:00:00Z", "reminder_minutes": 5}),
        )
        .await;
    let (s, body) = post(
        &app,
        "/events/reminder-jobs",
        Some(&task_event("task.created", &task)),
    )
    .await;
    assert_eq!(
        (s, body["status"].as_str()),
        (StatusCode::OK, Some("RETRY")),
        "{body}"
    );
}

#[tokio::test]
async fn a_job_the_scheduler_refuses_is_left_to_the_tick_and_one_it_fails_is_retried() {
    let pool = common::Db::open(2).await;
    let user = TestApp::user();
    for (answer, want) in [
        (StatusCode::BAD_REQUEST, "SUCCESS"),
        (StatusCode::INTERNAL_SERVER_ERROR, "RETRY"),
    ] {
        let (port, calls) = fake_sidecar(answer).await;
        let app = app(&pool, Some(port));
        let task = app
            .create(
                &user,
                json!({"title": "x", "due_at": "2031-03-04T10:00:00Z", "reminder_minutes": 5}),
            )
            .await;
        let (s, body) = post(
            &app,
            "/events/reminder-jobs",
            Some(&task_event("task.created", &task)),
        )
        .await;
        assert_eq!(
            (s, body["status"].as_str()),
            (StatusCode::OK, Some(want)),
            "{answer}: {body}"
        );
        assert_eq!(calls.lock().unwrap().len(), 1, "{answer}");
    }
}

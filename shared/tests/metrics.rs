//! `GET /metrics` on a function binary's router, against the real database: only the app API
//! token reads it (as `dapr-api-token` or a bearer token), and after a few requests, events
//! and a tick its counts are exactly what happened. The metrics recorder is the process's,
//! so this binary holds this one test.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, SIDECAR_TOKEN};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

async fn scrape(app: &TestApp, auth: Option<(&str, String)>) -> (StatusCode, String) {
    let mut request = Request::get("/metrics");
    if let Some((name, value)) = auth {
        request = request.header(name, value);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of the sample whose name and labels are exactly `series`, e.g.
/// `http_requests_total{method="POST",route="/api/{user_id}/tasks",status="201"}`: labels
/// in any order.
fn sample(text: &str, series: &str) -> Option<f64> {
    let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
    let mut want: Vec<&str> = labels
        .trim_end_matches('}')
        .split(',')
        .filter(|l| !l.is_empty())
        .collect();
    want.sort();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            let (n, l) = key.split_once('{').unwrap_or((key, "}"));
            let mut have: Vec<&str> = l
                .trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .collect();
            have.sort();
            (n == name && have == want).then(|| value.parse().unwrap())
        })
}

#[tokio::test]
async fn metrics_count_requests_events_and_ticks_and_only_the_token_reads_them() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();

    for title in ["one", "two", "three"] {
        app.create(&user, json!({"title": title})).await;
    }
    let (status, _) = app.get(&user, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(&user, "GET", "/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Events: one applied, one that is not a CloudEvent (dropped).
    let task = app.create(&user, json!({"title": "audited"})).await;
    let event = json!({
        "event_id": uuid::Uuid::new_v4(), "event_type": "task.created", "schema_version": "1.0",
        "user_id": user, "task_id": task["id"], "task": task, "occurred_at": chrono::Utc::now(),
    });
    assert_eq!(
        app.deliver("/events/audit", &common::envelope("task-events", event))
            .await,
        "SUCCESS"
    );
    assert_eq!(
        app.deliver("/events/audit", &json!({"not": "an event"}))
            .await,
        "DROP"
    );
    app.tick().await;

    // Without the token, or with a wrong one: 401, nothing shown.
    let (status, body) = scrape(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(!body.contains("http_requests_total"));
    let (status, _) = scrape(&app, Some(("authorization", "Bearer wrong".into()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = scrape(&app, Some(("dapr-api-token", "wrong".into()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, text) = scrape(
        &app,
        Some(("authorization", format!("Bearer {SIDECAR_TOKEN}"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, by_dapr) = scrape(&app, Some(("dapr-api-token", SIDECAR_TOKEN.into()))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(by_dapr.contains("http_requests_total"));

    let count =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"));
    assert_eq!(
        count(r#"http_requests_total{method="POST",route="/api/{user_id}/tasks",status="201"}"#),
        4.0
    );
    assert_eq!(
        count(
            r#"http_requests_total{method="GET",route="/api/{user_id}/tasks/{id}",status="404"}"#
        ),
        1.0
    );
    // The web app's catch-all route matched it (and answered 404: not one of its files).
    assert_eq!(
        count(r#"http_requests_total{method="GET",route="/{*path}",status="404"}"#),
        1.0
    );
    assert_eq!(
        count(r#"http_requests_total{method="POST",route="/events/audit",status="200"}"#),
        2.0
    );
    assert_eq!(
        count(
            r#"http_request_duration_seconds_count{method="POST",route="/api/{user_id}/tasks",status="201"}"#
        ),
        4.0
    );
    assert_eq!(count(r#"events_consumed_total{outcome="success"}"#), 1.0);
    assert_eq!(count(r#"events_consumed_total{outcome="drop"}"#), 1.0);
    assert_eq!(count("reminder_tick_duration_seconds_count"), 1.0);
    assert!(count(r#"db_pool_max_connections"#) >= 1.0);
    assert!(count(r#"db_pool_connections{state="idle"}"#) >= 0.0);
    // The four creates wrote events the test's publisher never published: the outbox holds
    // them (others' too: the database is shared with other test binaries' leftovers).
    assert!(count("outbox_pending") >= 4.0, "{text}");
    assert!(count("outbox_oldest_pending_age_seconds") >= 0.0);
    // The unauthorized scrapes were counted, under their route.
    assert_eq!(
        count(r#"http_requests_total{method="GET",route="/metrics",status="401"}"#),
        3.0
    );
}

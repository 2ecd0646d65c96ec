//! `/healthz` (liveness) and `/readyz` (readiness: the database answers), and how a task
//! request answers when the database is down.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{assert_error, TestApp};
use serde_json::json;

/// The app on a store whose database is a closed port.
fn dead_app() -> TestApp {
    TestApp::on(common::Db::dead())
}

#[tokio::test]
async fn healthz_is_200_without_auth() {
    let app = TestApp::spawn().await;
    let (status, body) = app.request("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_is_200_with_the_database() {
    let app = TestApp::spawn().await;
    let (status, body) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn without_the_database_liveness_holds_and_readiness_fails() {
    let app = dead_app();
    let (status, _) = app.request("GET", "/healthz", None, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness does not depend on the database"
    );
    let (status, body) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["status"].is_string());
}

#[tokio::test]
async fn task_requests_without_the_database_are_503_without_internal_detail() {
    let app = dead_app();
    let user = TestApp::user();
    let id = uuid::Uuid::new_v4();
    let requests = [
        (
            "POST",
            format!("/api/{user}/tasks"),
            Some(json!({"title": "x", "tags": ["a"]})),
        ),
        ("GET", format!("/api/{user}/tasks"), None),
        ("GET", format!("/api/{user}/tasks/{id}"), None),
        (
            "PATCH",
            format!("/api/{user}/tasks/{id}"),
            Some(json!({"title": "y"})),
        ),
        ("PATCH", format!("/api/{user}/tasks/{id}/complete"), None),
        ("DELETE", format!("/api/{user}/tasks/{id}"), None),
    ];
    // Concurrently: each waits for the pool's acquire timeout.
    let answers = futures::future::join_all(requests.iter().map(|(method, path, body)| {
        let mut builder = Request::builder().method(*method).uri(path).header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.token(&user)),
        );
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        app.send(
            builder
                .body(
                    body.as_ref()
                        .map_or_else(Body::empty, |b| Body::from(b.to_string())),
                )
                .unwrap(),
        )
    }))
    .await;
    for ((method, path, _), (status, headers, err)) in requests.iter().zip(answers) {
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}: {err}"
        );
        assert_error(&err, "service_unavailable", None);
        assert!(
            headers.contains_key(header::RETRY_AFTER),
            "503 tells when to retry"
        );
        let text = err.to_string().to_lowercase();
        for leak in [
            "127.0.0.1",
            "postgres",
            "hunter2",
            "refused",
            "connect",
            "sqlx",
            "pool",
            "io error",
            "os error",
        ] {
            assert!(
                !text.contains(leak),
                "{method} {path}: {leak:?} leaked in {err}"
            );
        }
    }
    // Auth is still checked first: no token is 401, not 503.
    let (status, _) = app
        .request("GET", &format!("/api/{user}/tasks"), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

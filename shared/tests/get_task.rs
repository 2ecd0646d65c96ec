//! `GET /api/{user_id}/tasks/{id}` (the get-task function).

mod common;

use axum::http::StatusCode;
use common::{assert_error, TestApp};
use serde_json::json;

#[tokio::test]
async fn gets_the_users_task() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(&user, json!({"title": "Read", "tags": ["books"], "due_at": "2030-05-05T05:05:05Z", "reminder_minutes": 5}))
        .await;
    let (status, got) = app.get(&user, task["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, task);
}

#[tokio::test]
async fn unknown_ids_are_404_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    app.create(&user, json!({"title": "exists"})).await;
    let missing = uuid::Uuid::new_v4().to_string();
    for id in [
        missing.as_str(),
        "not-a-uuid",
        "123",
        "00000000-0000-0000-0000-00000000000g",
    ] {
        let (status, body) = app.get(&user, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_error(&body, "not_found", None);
    }
}

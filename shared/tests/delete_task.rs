//! `DELETE /api/{user_id}/tasks/{id}` (the delete-task function).

mod common;

use axum::http::StatusCode;
use common::{assert_error, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn delete_then_get_and_delete_again_are_404() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let keep = app
        .create(&user, json!({"title": "keep", "tags": ["shared"]}))
        .await;
    let task = app
        .create(
            &user,
            json!({"title": "drop", "tags": ["shared", "only-here"]}),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/{user}/tasks/{id}");

    let (status, body) = app.call(&user, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null, "204 has no body");

    let (status, body) = app.get(&user, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);
    let (status, body) = app.call(&user, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", None);

    // The other task is untouched; the deleted task's tag links are gone.
    let (status, got) = app.get(&user, keep["id"].as_str().unwrap()).await;
    assert_eq!((status, got), (StatusCode::OK, keep));
    let links = app.db.tag_links(id).await;
    assert_eq!(links, 0);
    let page = app.list(&user, "").await;
    assert_eq!(page["total_count"], 1);
}

#[tokio::test]
async fn deleting_an_unknown_id_is_404() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for id in [uuid::Uuid::new_v4().to_string(), "nope".to_owned()] {
        let (status, body) = app
            .call(&user, "DELETE", &format!("/api/{user}/tasks/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_error(&body, "not_found", None);
    }
}

//! `POST /api/{user_id}/quick-add`: the chat assistant's Quick Add grammar as a preview the
//! web app shows before it saves, whose `task` is a valid body for `POST .../tasks`.

mod common;

use axum::http::StatusCode;
use common::{assert_error, TestApp};
use serde_json::json;

#[tokio::test]
async fn a_sentence_reads_as_the_task_it_would_create() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let (status, preview) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/quick-add"),
            Some(json!({
                "message": "pay rent every month on the 1st at 9am p1 #home remind me 1 hour before",
                "timezone": "Europe/Berlin"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["understood"], true);
    assert_eq!(preview["example"], json!(null));
    let task = &preview["task"];
    assert_eq!(task["title"], "pay rent");
    assert_eq!(task["priority"], "P1");
    assert_eq!(task["tags"], json!(["home"]));
    assert_eq!(task["recurrence"], "FREQ=MONTHLY;BYMONTHDAY=1");
    assert_eq!(task["reminder_minutes"], 60);
    assert_eq!(task["timezone"], "Europe/Berlin");
    let summary = preview["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Add \u{201C}pay rent\u{201D}, P1, #home, due ")
            && summary.ends_with("09:00, repeating every month on the 1st, reminder 1 hour before"),
        "{summary}"
    );
    // Nothing was saved; saving is creating the task with the preview's body.
    assert_eq!(app.list(&user, "").await["total_count"], 0);
    let created = app.create(&user, task.clone()).await;
    assert_eq!(created["title"], "pay rent");
    assert_eq!(created["due_at"], task["due_at"]);
}

#[tokio::test]
async fn what_is_not_a_task_says_why_and_gives_an_example() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let (status, preview) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/quick-add"),
            Some(json!({"message": "p1 #home"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview,
        json!({
            "understood": false,
            "summary": "Not understood (a new task, but not its title); try \u{201C}add buy milk tomorrow at 5pm #home p1\u{201D}",
            "task": null,
            "example": "add buy milk tomorrow at 5pm #home p1"
        })
    );
}

#[tokio::test]
async fn only_the_body_can_be_wrong_and_only_the_user_may_ask() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let path = format!("/api/{user}/quick-add");
    for (body, field) in [
        (json!({}), "message"),
        (json!({"message": "  "}), "message"),
        (json!({"message": "x".repeat(4001)}), "message"),
        (
            json!({"message": "milk", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
    ] {
        let (status, error) = app.call(&user, "POST", &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_error(&error, "validation_failed", Some(field));
    }
    let (status, _) = app
        .call(
            &user,
            "POST",
            &path,
            Some(json!({"message": "milk", "when": "now"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .request("POST", &path, None, Some(json!({"message": "milk"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(
            &TestApp::user(),
            "POST",
            &path,
            Some(json!({"message": "milk"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

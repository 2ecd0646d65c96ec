//! `PATCH /api/{user_id}/tasks/{id}/complete` (the complete-task function): toggle, or set
//! with `{"completed": bool}`.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{assert_error, time, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn toggles_without_a_body() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "t"})).await;
    let path = format!(
        "/api/{user}/tasks/{}/complete",
        task["id"].as_str().unwrap()
    );

    let (status, done) = app.call(&user, "PATCH", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["completed"], true);
    let completed_at = time(&done["completed_at"]).expect("completed_at set");
    assert!(completed_at >= time(&task["created_at"]).unwrap());
    assert!(
        time(&done["updated_at"]) > time(&task["updated_at"]),
        "updated_at advances"
    );

    let (status, open) = app.call(&user, "PATCH", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(open["completed"], false);
    assert_eq!(open["completed_at"], Value::Null, "completed_at cleared");

    // `{}` and a blank body also toggle.
    let (_, done) = app.call(&user, "PATCH", &path, Some(json!({}))).await;
    assert_eq!(done["completed"], true);
    let blank = Request::patch(&path)
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.token(&user)),
        )
        .body(Body::from("  \n"))
        .unwrap();
    let (status, _, open) = app.send(blank).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(open["completed"], false);

    // The change is stored.
    let (_, got) = app.get(&user, task["id"].as_str().unwrap()).await;
    assert_eq!(got, open);
}

#[tokio::test]
async fn sets_explicitly_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "t"})).await;
    let path = format!(
        "/api/{user}/tasks/{}/complete",
        task["id"].as_str().unwrap()
    );

    let (status, first) = app
        .call(&user, "PATCH", &path, Some(json!({"completed": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["completed"], true);
    assert!(time(&first["completed_at"]).is_some());

    let (_, second) = app
        .call(&user, "PATCH", &path, Some(json!({"completed": true})))
        .await;
    assert_eq!(
        second["completed"], true,
        "setting true again does not toggle"
    );
    assert_eq!(
        second["completed_at"], first["completed_at"],
        "completed_at is kept"
    );

    let (_, open) = app
        .call(&user, "PATCH", &path, Some(json!({"completed": false})))
        .await;
    assert_eq!(
        (&open["completed"], &open["completed_at"]),
        (&json!(false), &Value::Null)
    );
    let (_, still_open) = app
        .call(&user, "PATCH", &path, Some(json!({"completed": false})))
        .await;
    assert_eq!(still_open["completed"], false);

    // `{"completed": null}` toggles; POST is accepted too.
    let (_, done) = app
        .call(&user, "PATCH", &path, Some(json!({"completed": null})))
        .await;
    assert_eq!(done["completed"], true);
    let (status, open) = app
        .call(&user, "POST", &path, Some(json!({"completed": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(open["completed"], false);
}

#[tokio::test]
async fn completion_shows_in_status_filters() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "t"})).await;
    app.create(&user, json!({"title": "other"})).await;
    app.call(
        &user,
        "PATCH",
        &format!(
            "/api/{user}/tasks/{}/complete",
            task["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        common::titles(&app.list(&user, "status=completed").await),
        ["t"]
    );
    assert_eq!(
        common::titles(&app.list(&user, "status=pending").await),
        ["other"]
    );
}

#[tokio::test]
async fn bad_bodies_and_unknown_ids() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "t"})).await;
    let path = format!(
        "/api/{user}/tasks/{}/complete",
        task["id"].as_str().unwrap()
    );
    for (body, field) in [
        (json!({"completed": "yes"}), "completed"),
        (json!({"done": true}), "done"),
    ] {
        let (status, err) = app.call(&user, "PATCH", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_error(&err, "validation_failed", Some(field));
    }
    let malformed = Request::patch(&path)
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.token(&user)),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"completed\": tru"))
        .unwrap();
    let (status, _, err) = app.send(malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&err, "bad_request", None);
    // Nothing changed.
    let (_, got) = app.get(&user, task["id"].as_str().unwrap()).await;
    assert_eq!(got["completed"], false);

    for id in [uuid::Uuid::new_v4().to_string(), "nope".to_owned()] {
        let (status, err) = app
            .call(
                &user,
                "PATCH",
                &format!("/api/{user}/tasks/{id}/complete"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_error(&err, "not_found", None);
    }
}

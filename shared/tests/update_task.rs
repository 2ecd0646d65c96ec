//! `PUT|PATCH /api/{user_id}/tasks/{id}` (the update-task function): partial update where
//! an absent field is kept and `null` clears.

mod common;

use axum::http::StatusCode;
use chrono::Duration;
use common::{assert_error, time, TestApp};
use serde_json::{json, Value};

fn full_task() -> Value {
    json!({
        "title": "Water plants",
        "description": "balcony and kitchen",
        "priority": "high",
        "tags": ["home", "garden"],
        "due_at": "2030-04-01T08:00:00Z",
        "reminder_minutes": 30,
        "recurrence": "every 3 days",
        "timezone": "Europe/Paris"
    })
}

/// Updates with `method` and asserts 200.
async fn update(app: &TestApp, user: &str, id: &str, method: &str, body: Value) -> Value {
    let (status, task) = app
        .call(
            user,
            method,
            &format!("/api/{user}/tasks/{id}"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{method} {body}: {task}");
    let (_, stored) = app.get(user, id).await;
    assert_eq!(stored, task, "the answer is what is stored");
    task
}

/// `task` with only `changed` and `updated_at` differing from `before`.
fn assert_only_changed(before: &Value, after: &Value, changed: &[&str]) {
    for (key, value) in before.as_object().unwrap() {
        if changed.contains(&key.as_str()) || key == "updated_at" {
            continue;
        }
        assert_eq!(&after[key], value, "{key} is kept");
    }
    assert!(
        time(&after["updated_at"]) > time(&before["updated_at"]),
        "updated_at advances"
    );
}

#[tokio::test]
async fn absent_fields_are_kept() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, full_task()).await;
    let id = task["id"].as_str().unwrap();

    let after = update(
        &app,
        &user,
        id,
        "PATCH",
        json!({"title": "  Water the plants "}),
    )
    .await;
    assert_eq!(after["title"], "Water the plants");
    assert_only_changed(&task, &after, &["title"]);

    let again = update(&app, &user, id, "PUT", json!({"priority": "P4"})).await;
    assert_eq!(again["priority"], "P4");
    assert_only_changed(&after, &again, &["priority"]);

    let tz = update(
        &app,
        &user,
        id,
        "PATCH",
        json!({"timezone": "America/New_York", "description": "only the balcony"}),
    )
    .await;
    assert_eq!(
        (&tz["timezone"], &tz["description"]),
        (&json!("America/New_York"), &json!("only the balcony"))
    );
    assert_only_changed(&again, &tz, &["timezone", "description"]);
}

#[tokio::test]
async fn null_clears_nullable_fields() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, full_task()).await;
    let id = task["id"].as_str().unwrap();

    let t = update(&app, &user, id, "PATCH", json!({"description": null})).await;
    assert_eq!(t["description"], "");
    assert_only_changed(&task, &t, &["description"]);

    let t2 = update(&app, &user, id, "PATCH", json!({"recurrence": null})).await;
    assert_eq!(t2["recurrence"], Value::Null);
    assert_only_changed(&t, &t2, &["recurrence"]);

    let t3 = update(&app, &user, id, "PATCH", json!({"reminder_minutes": null})).await;
    assert_eq!(
        (&t3["reminder_minutes"], &t3["remind_at"]),
        (&Value::Null, &Value::Null)
    );
    assert_only_changed(&t2, &t3, &["reminder_minutes", "remind_at"]);

    let t4 = update(&app, &user, id, "PATCH", json!({"due_at": null})).await;
    assert_eq!(t4["due_at"], Value::Null);
    assert_only_changed(&t3, &t4, &["due_at"]);

    let t5 = update(&app, &user, id, "PATCH", json!({"tags": null})).await;
    assert_eq!(t5["tags"], json!([]));
    assert_only_changed(&t4, &t5, &["tags"]);
    assert_eq!(links(&app, id).await, 0);
}

/// Fields that cannot be cleared refuse `null` naming the field, rather than ignoring it.
#[tokio::test]
async fn non_nullable_fields_refuse_null() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, full_task()).await;
    let id = task["id"].as_str().unwrap();
    for (body, field) in [
        (json!({"priority": null}), "priority"),
        (json!({"title": ""}), "title"),
        (json!({"title": null}), "title"),
        (json!({"title": null, "priority": "P1"}), "title"),
        (json!({"timezone": null, "priority": "P1"}), "timezone"),
    ] {
        let (status, err) = app
            .call(
                &user,
                "PATCH",
                &format!("/api/{user}/tasks/{id}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_error(&err, "validation_failed", Some(field));
    }
    let (_, unchanged) = app.get(&user, id).await;
    assert_eq!(unchanged, task);
}

#[tokio::test]
async fn clearing_due_at_and_reminder_together_works_but_a_reminder_needs_a_due_date() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, full_task()).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/{user}/tasks/{id}");

    // Clearing the due date alone would leave a reminder without a due date.
    let (status, err) = app
        .call(&user, "PATCH", &path, Some(json!({"due_at": null})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_error(&err, "validation_failed", Some("reminder_minutes"));
    let (_, unchanged) = app.get(&user, id).await;
    assert_eq!(unchanged, task, "a refused update changes nothing");

    let cleared = update(
        &app,
        &user,
        id,
        "PATCH",
        json!({"due_at": null, "reminder_minutes": null}),
    )
    .await;
    assert_eq!(
        (
            &cleared["due_at"],
            &cleared["reminder_minutes"],
            &cleared["remind_at"]
        ),
        (&Value::Null, &Value::Null, &Value::Null)
    );

    // Adding a reminder to a task with no due date is refused.
    let (status, err) = app
        .call(&user, "PATCH", &path, Some(json!({"reminder_minutes": 10})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&err, "validation_failed", Some("reminder_minutes"));
    // Both at once is fine.
    let t = update(
        &app,
        &user,
        id,
        "PATCH",
        json!({"due_at": "2031-01-01T00:00:00Z", "reminder_minutes": 10}),
    )
    .await;
    assert_eq!(
        time(&t["remind_at"]).unwrap(),
        time(&t["due_at"]).unwrap() - Duration::minutes(10)
    );
}

#[tokio::test]
async fn tags_are_replaced_not_merged() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, full_task()).await;
    let id = task["id"].as_str().unwrap();
    assert_eq!(links(&app, id).await, 2);

    let t = update(
        &app,
        &user,
        id,
        "PUT",
        json!({"tags": ["Chores", " chores", "HOME"]}),
    )
    .await;
    assert_eq!(t["tags"], json!(["chores", "home"]));
    assert_eq!(links(&app, id).await, 2);
    assert_eq!(
        common::titles(&app.list(&user, "tag=garden").await),
        Vec::<String>::new()
    );
    assert_eq!(
        common::titles(&app.list(&user, "tag=chores").await),
        ["Water plants"]
    );
    assert_eq!(
        common::titles(&app.list(&user, "search=chores").await),
        ["Water plants"],
        "search sees new tags"
    );
    assert_eq!(
        common::titles(&app.list(&user, "search=garden").await),
        Vec::<String>::new()
    );

    let t = update(&app, &user, id, "PUT", json!({"tags": []})).await;
    assert_eq!(t["tags"], json!([]));
    assert_eq!(links(&app, id).await, 0);

    let (status, err) = app
        .call(
            &user,
            "PUT",
            &format!("/api/{user}/tasks/{id}"),
            Some(json!({"tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&err, "validation_failed", Some("tags"));
}

#[tokio::test]
async fn reminder_follows_due_date_and_is_rearmed() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, full_task()).await;
    let id = task["id"].as_str().unwrap();
    let due = time(&task["due_at"]).unwrap();
    assert_eq!(
        time(&task["remind_at"]).unwrap(),
        due - Duration::minutes(30)
    );

    // Pretend the reminder was sent.
    mark_reminder_sent(&app, id).await;
    let (_, sent) = app.get(&user, id).await;
    assert!(sent["reminder_sent_at"].is_string());

    // A change that does not move the reminder keeps it sent.
    let t = update(&app, &user, id, "PATCH", json!({"title": "renamed"})).await;
    assert_eq!(t["reminder_sent_at"], sent["reminder_sent_at"]);

    // Moving the due date moves remind_at and re-arms the reminder.
    let t = update(
        &app,
        &user,
        id,
        "PATCH",
        json!({"due_at": "2030-05-01T08:00:00Z"}),
    )
    .await;
    let new_due = time(&t["due_at"]).unwrap();
    assert_ne!(new_due, due);
    assert_eq!(
        time(&t["remind_at"]).unwrap(),
        new_due - Duration::minutes(30)
    );
    assert_eq!(t["reminder_sent_at"], Value::Null, "re-armed");

    // Changing the offset moves remind_at too.
    mark_reminder_sent(&app, id).await;
    let t = update(&app, &user, id, "PATCH", json!({"reminder_minutes": 1440})).await;
    assert_eq!(time(&t["remind_at"]).unwrap(), new_due - Duration::days(1));
    assert_eq!(t["reminder_sent_at"], Value::Null, "re-armed");
}

#[tokio::test]
async fn completed_can_be_set_through_update() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "t"})).await;
    let id = task["id"].as_str().unwrap();
    let t = update(&app, &user, id, "PATCH", json!({"completed": true})).await;
    assert_eq!(t["completed"], true);
    assert!(time(&t["completed_at"]).is_some());
    let t = update(&app, &user, id, "PUT", json!({"completed": false})).await;
    assert_eq!(
        (&t["completed"], &t["completed_at"]),
        (&json!(false), &Value::Null)
    );
}

#[tokio::test]
async fn invalid_updates_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, full_task()).await;
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/{user}/tasks/{id}");
    for (body, field) in [
        (json!({}), "body"),
        (json!({"title": "x".repeat(501)}), "title"),
        (json!({"description": "d".repeat(10_001)}), "description"),
        (json!({"priority": "P0"}), "priority"),
        (json!({"due_at": "tomorrow"}), "due_at"),
        (json!({"reminder_minutes": -5}), "reminder_minutes"),
        (json!({"recurrence": "sometimes"}), "recurrence"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"id": uuid::Uuid::new_v4()}), "id"),
        (json!({"user_id": "someone-else"}), "user_id"),
        (json!({"title": "ok", "colour": "red"}), "colour"),
    ] {
        let (status, err) = app.call(&user, "PATCH", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_error(&err, "validation_failed", Some(field));
    }
    let (_, unchanged) = app.get(&user, id).await;
    assert_eq!(unchanged, task);

    for id in [uuid::Uuid::new_v4().to_string(), "nope".to_owned()] {
        let (status, err) = app
            .call(
                &user,
                "PUT",
                &format!("/api/{user}/tasks/{id}"),
                Some(json!({"title": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_error(&err, "not_found", None);
    }
}

async fn links(app: &TestApp, id: &str) -> i64 {
    app.db.tag_links(id).await
}

async fn mark_reminder_sent(app: &TestApp, id: &str) {
    app.db.mark_reminder_sent(id).await
}

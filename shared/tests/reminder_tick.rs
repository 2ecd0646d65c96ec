//! `reminder-tick` (the cron binding's `POST /reminder-cron`) against the real database:
//! due reminders are claimed once, in one transaction with their `reminder.due` outbox
//! rows, whatever the number of concurrent ticks; changes re-arm and completion or
//! deletion disarm.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::TestApp;
use serde_json::{json, Value};

/// The `reminder.due` payloads written for `task_id`.
async fn reminders(app: &TestApp, task_id: &str) -> Vec<Value> {
    app.db
        .outbox(task_id)
        .await
        .into_iter()
        .filter(|row| row.topic == "reminders")
        .map(|row| row.payload)
        .collect()
}

/// When the task's reminder was sent (`user`'s task).
async fn sent_at(app: &TestApp, user: &str, task_id: &str) -> Option<chrono::DateTime<Utc>> {
    let id = uuid::Uuid::parse_str(task_id).unwrap();
    let task = app.db.store.get_task(user, id).await.unwrap().unwrap();
    task.reminder_sent_at
}

fn at(offset: Duration) -> String {
    (Utc::now() + offset).to_rfc3339()
}

fn id(task: &Value) -> String {
    task["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_due_reminder_is_claimed_once_with_its_event() {
    let _turn = common::global_turn().await;
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let due = app
        .create(
            &user,
            json!({"title": "call mum", "due_at": at(Duration::minutes(3)), "reminder_minutes": 5}),
        )
        .await;
    let later = app
        .create(
            &user,
            json!({"title": "later", "due_at": at(Duration::hours(2)), "reminder_minutes": 30}),
        )
        .await;
    let done = app
        .create(
            &user,
            json!({"title": "done", "due_at": at(Duration::minutes(1)), "reminder_minutes": 10}),
        )
        .await;
    let (s, _) = app
        .call(
            &user,
            "PATCH",
            &format!("/api/{user}/tasks/{}/complete", id(&done)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let before = app.get(&user, &id(&due)).await.1;

    let report = app.tick().await;
    assert!(report["reminders"].as_u64().unwrap() >= 1, "{report}");

    let rows = reminders(&app, &id(&due)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let event = &rows[0];
    assert_eq!(event["event_type"], "reminder.due");
    assert_eq!(event["schema_version"], "1.0");
    assert_eq!(event["user_id"], user.as_str());
    assert_eq!(event["title"], "call mum");
    assert_eq!(common::time(&event["due_at"]), common::time(&due["due_at"]));
    assert_eq!(
        common::time(&event["remind_at"]),
        common::time(&due["remind_at"])
    );
    assert!(sent_at(&app, &user, &id(&due)).await.is_some());
    let after = app.get(&user, &id(&due)).await.1;
    assert_eq!(
        after["updated_at"], before["updated_at"],
        "marking a reminder sent is not a change of the task"
    );

    assert!(reminders(&app, &id(&later)).await.is_empty(), "not due yet");
    assert!(sent_at(&app, &user, &id(&later)).await.is_none());
    assert!(
        reminders(&app, &id(&done)).await.is_empty(),
        "completed tasks never remind"
    );

    app.tick().await;
    assert_eq!(
        reminders(&app, &id(&due)).await.len(),
        1,
        "a second tick sends nothing again"
    );
}

#[tokio::test]
async fn concurrent_ticks_never_send_a_reminder_twice() {
    let _turn = common::global_turn().await;
    let app = TestApp::spawn_with_pool_size(12).await;
    let user = TestApp::user();
    // 2,500 due reminders: more than two batches, so the ticks overlap on several.
    let due = shared::domain::now() - chrono::Duration::minutes(1);
    let ids: Vec<String> = app
        .seed(&user, 2500, |i| shared::domain::NewTask {
            due_at: Some(due),
            reminder_minutes: Some(0),
            ..common::new_task(&format!("task {i}"))
        })
        .await
        .iter()
        .map(|id| id.to_string())
        .collect();
    let reports = futures::future::join_all((0..4).map(|_| app.tick())).await;
    let claimed: u64 = reports
        .iter()
        .map(|r| r["reminders"].as_u64().unwrap())
        .sum();
    assert!(claimed >= 2500, "{reports:?}");

    let mut counts = std::collections::HashMap::<String, usize>::new();
    for payload in app.db.outbox_of_user(&user, "reminders").await {
        *counts
            .entry(payload["task_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(counts.len(), ids.len(), "every reminder was sent");
    assert!(
        counts.values().all(|n| *n == 1),
        "no reminder was sent twice"
    );
    let unsent = app.db.unsent_reminders(&user).await;
    assert_eq!(unsent, 0);
}

#[tokio::test]
async fn changes_re_arm_a_reminder_and_completion_or_deletion_disarms_it() {
    let _turn = common::global_turn().await;
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({"title": "water plants", "due_at": at(Duration::minutes(2)), "reminder_minutes": 5}),
        )
        .await;
    let path = format!("/api/{user}/tasks/{}", id(&task));
    app.tick().await;
    assert_eq!(reminders(&app, &id(&task)).await.len(), 1);

    // A new due date re-arms the reminder; it fires again when due.
    let (s, patched) = app
        .call(
            &user,
            "PATCH",
            &path,
            Some(json!({"due_at": at(Duration::minutes(4))})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert!(sent_at(&app, &user, &id(&task)).await.is_none(), "re-armed");
    app.tick().await;
    assert_eq!(reminders(&app, &id(&task)).await.len(), 2);

    // A new offset re-arms it too; moved into the future it waits.
    let (s, _) = app
        .call(&user, "PATCH", &path, Some(json!({"reminder_minutes": 1})))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(sent_at(&app, &user, &id(&task)).await.is_none(), "re-armed");
    app.tick().await;
    assert_eq!(
        reminders(&app, &id(&task)).await.len(),
        2,
        "remind_at is 3 minutes ahead now"
    );

    // Completing disarms: even once due, nothing is sent.
    let (s, _) = app
        .call(&user, "PATCH", &path, Some(json!({"reminder_minutes": 10})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(&user, "PATCH", &format!("{path}/complete"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    app.tick().await;
    assert_eq!(reminders(&app, &id(&task)).await.len(), 2);

    // Clearing the reminder disarms it.
    let other = app
        .create(
            &user,
            json!({"title": "b", "due_at": at(Duration::minutes(1)), "reminder_minutes": 5}),
        )
        .await;
    let (s, _) = app
        .call(
            &user,
            "PATCH",
            &format!("/api/{user}/tasks/{}", id(&other)),
            Some(json!({"reminder_minutes": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Deleting disarms.
    let gone = app
        .create(
            &user,
            json!({"title": "c", "due_at": at(Duration::minutes(1)), "reminder_minutes": 5}),
        )
        .await;
    let (s, _) = app
        .call(
            &user,
            "DELETE",
            &format!("/api/{user}/tasks/{}", id(&gone)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.tick().await;
    assert!(reminders(&app, &id(&other)).await.is_empty());
    assert!(reminders(&app, &id(&gone)).await.is_empty());
}

#[tokio::test]
async fn a_tick_on_a_database_that_is_down_answers_503() {
    let app = TestApp::on(common::Db::dead());
    let (status, _, body) = app
        .send(
            common::sidecar_post("/reminder-cron")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    common::assert_error(&body, "service_unavailable", None);
}

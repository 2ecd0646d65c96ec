//! `POST /api/{user_id}/tasks` (the create-task function).

mod common;

use axum::http::StatusCode;
use common::{assert_error, time, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn creates_a_task_with_defaults() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "  Buy milk  "})).await;

    assert!(
        uuid::Uuid::parse_str(task["id"].as_str().unwrap()).is_ok(),
        "{task}"
    );
    assert_eq!(task["user_id"], user.as_str());
    assert_eq!(task["title"], "Buy milk", "title is trimmed");
    assert_eq!(task["description"], "");
    assert_eq!(task["completed"], false);
    assert_eq!(task["completed_at"], Value::Null);
    assert_eq!(task["priority"], "P3", "default priority");
    assert_eq!(task["tags"], json!([]));
    assert_eq!(task["due_at"], Value::Null);
    assert_eq!(task["reminder_minutes"], Value::Null);
    assert_eq!(task["remind_at"], Value::Null);
    assert_eq!(task["recurrence"], Value::Null);
    assert_eq!(task["recurrence_parent_id"], Value::Null);
    assert_eq!(task["timezone"], "UTC", "default time zone");
    assert!(time(&task["created_at"]).is_some());
    assert_eq!(task["created_at"], task["updated_at"]);

    // It is stored: get answers the same task.
    let (status, got) = app.get(&user, task["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, task);
}

#[tokio::test]
async fn creates_a_task_with_every_field() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({
                "title": "Dentist",
                "description": "bring the forms",
                "priority": "high",
                "tags": ["Health", "errands"],
                "due_at": "2030-03-01T10:00:00+01:00",
                "reminder_minutes": 90,
                "recurrence": "every 6 months",
                "timezone": "Europe/Berlin"
            }),
        )
        .await;
    assert_eq!(task["description"], "bring the forms");
    assert_eq!(task["priority"], "P2");
    assert_eq!(task["tags"], json!(["errands", "health"]));
    let due = time(&task["due_at"]).unwrap();
    assert_eq!(
        due,
        chrono::DateTime::parse_from_rfc3339("2030-03-01T09:00:00Z").unwrap(),
        "normalised to UTC"
    );
    assert_eq!(task["reminder_minutes"], 90);
    assert_eq!(
        time(&task["remind_at"]).unwrap(),
        due - chrono::Duration::minutes(90),
        "remind_at = due_at - reminder"
    );
    assert_eq!(task["recurrence"], "every 6 months");
    assert_eq!(task["timezone"], "Europe/Berlin");
}

#[tokio::test]
async fn priority_words_codes_and_numbers_map_to_p1_to_p4() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for (input, want) in [
        (json!("urgent"), "P1"),
        (json!("high"), "P2"),
        (json!("medium"), "P3"),
        (json!("low"), "P4"),
        (json!("URGENT"), "P1"),
        (json!("P1"), "P1"),
        (json!("p2"), "P2"),
        (json!("P3"), "P3"),
        (json!("P4"), "P4"),
        (json!(1), "P1"),
        (json!(4), "P4"),
        (Value::Null, "P3"),
    ] {
        let task = app
            .create(&user, json!({"title": "p", "priority": input}))
            .await;
        assert_eq!(task["priority"], want, "priority {input}");
    }
}

#[tokio::test]
async fn tags_are_trimmed_lowercased_deduplicated_and_capped_at_20() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({"title": "t", "tags": [" Work ", "work", "HOME", "home ", "Ünïcode"]}),
        )
        .await;
    assert_eq!(task["tags"], json!(["home", "work", "ünïcode"]));

    let twenty: Vec<String> = (0..20).map(|i| format!("tag{i:02}")).collect();
    let task = app
        .create(&user, json!({"title": "t", "tags": twenty}))
        .await;
    assert_eq!(task["tags"].as_array().unwrap().len(), 20);

    // 21 inputs that are 20 distinct tags after normalisation are fine.
    let mut with_dup = twenty.clone();
    with_dup.push("TAG00".into());
    let task = app
        .create(&user, json!({"title": "t", "tags": with_dup}))
        .await;
    assert_eq!(task["tags"].as_array().unwrap().len(), 20);

    let mut too_many = twenty;
    too_many.push("tag20".into());
    let (status, body) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/tasks"),
            Some(json!({"title": "t", "tags": too_many})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed", Some("tags"));

    for bad in [
        json!([""]),
        json!(["  "]),
        json!(["a,b"]),
        json!(["x".repeat(51)]),
    ] {
        let (status, body) = app
            .call(
                &user,
                "POST",
                &format!("/api/{user}/tasks"),
                Some(json!({"title": "t", "tags": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_error(&body, "validation_failed", Some("tags"));
    }

    // One tags row per distinct name for this user, whatever the spelling.
    let names: Vec<String> = app
        .db
        .tag_names(&user)
        .await
        .into_iter()
        .filter(|n| n == "home" || n == "work")
        .collect();
    assert_eq!(names, ["home", "work"]);
}

#[tokio::test]
async fn title_and_description_limits_count_characters() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let task = app
        .create(
            &user,
            json!({"title": "é".repeat(500), "description": "ß".repeat(10_000)}),
        )
        .await;
    assert_eq!(task["title"].as_str().unwrap().chars().count(), 500);
    assert_eq!(
        task["description"].as_str().unwrap().chars().count(),
        10_000
    );
}

#[tokio::test]
async fn every_accepted_recurrence_form_round_trips() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    for form in [
        "daily",
        "Weekly",
        "monthly",
        "yearly",
        "annually",
        "every day",
        "every week",
        "every month",
        "every year",
        "every 2 days",
        "every 3 weeks",
        "every 1 month",
        "every 10 years",
        "every weekday",
        "every monday,wednesday",
        "every Mon, Fri",
        "every tuesday and thursday",
        "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10",
        "RRULE:FREQ=MONTHLY;UNTIL=20351231T000000Z",
        "rrule:freq=daily;interval=2",
    ] {
        let task = app
            .create(
                &user,
                json!({"title": form, "due_at": "2030-01-07T09:00:00Z", "recurrence": form}),
            )
            .await;
        assert_eq!(task["recurrence"], form, "{form}");
        let (_, got) = app.get(&user, task["id"].as_str().unwrap()).await;
        assert_eq!(got["recurrence"], form, "{form} as stored");
    }
    // Surrounding blanks are trimmed.
    let task = app
        .create(&user, json!({"title": "t", "recurrence": "  daily  "}))
        .await;
    assert_eq!(task["recurrence"], "daily");
}

#[tokio::test]
async fn a_task_cannot_be_created_completed() {
    let app = TestApp::spawn().await;
    let user = TestApp::user();
    let (status, body) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/tasks"),
            Some(json!({"title": "t", "completed": true})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed", Some("completed"));
}

/// 50 concurrent creates for one user that all introduce the same new tags: every create
/// succeeds, and the user ends up with exactly one row per tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_sharing_new_tags_create_each_tag_once() {
    let app = std::sync::Arc::new(TestApp::spawn_with_pool_size(20).await);
    let user = TestApp::user();
    let orders = [
        ["alpha", "beta", "gamma"],
        ["gamma", "beta", "alpha"],
        ["beta", "alpha", "gamma"],
        ["GAMMA", " Alpha", "beta "],
        ["beta", "gamma", "alpha"],
    ];
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            let user = user.clone();
            let tags = orders[i % orders.len()];
            tokio::spawn(async move {
                let (status, task) = app
                    .call(
                        &user,
                        "POST",
                        &format!("/api/{user}/tasks"),
                        Some(json!({"title": format!("task {i}"), "tags": tags})),
                    )
                    .await;
                (status, task)
            })
        })
        .collect();
    let mut ids = Vec::new();
    for handle in handles {
        let (status, task) = handle.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{task}");
        assert_eq!(task["tags"], json!(["alpha", "beta", "gamma"]));
        ids.push(uuid::Uuid::parse_str(task["id"].as_str().unwrap()).unwrap());
    }

    let tags = app.db.tag_names(&user).await;
    assert_eq!(
        tags,
        ["alpha", "beta", "gamma"],
        "one tags row per (user, name)"
    );
    let mut links = 0;
    for id in &ids {
        links += app.db.tag_links(&id.to_string()).await;
    }
    assert_eq!(links, 150, "each task linked to its three tags");

    let page = app.list(&user, "tag=beta&page_size=100").await;
    assert_eq!(page["total_count"], 50);
}

//! The event-driven core against the real database: the transactional outbox, the relay
//! and its sweep, the subscription contract, `on-completed` and `audit`, delivered through
//! the in-process bus exactly as `todo-local` wires them.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use serde_json::{json, Value};
use shared::domain::Task;
use shared::events::publisher::Publisher;
use shared::events::subscription::cloud_event;
use shared::store::{OutboxMessage, StoreError};

/// Records what it is asked to publish; fails while `down` is set.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<OutboxMessage>>,
    down: AtomicBool,
}

#[async_trait]
impl Publisher for Recorder {
    async fn publish(&self, m: &OutboxMessage) -> anyhow::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            anyhow::bail!("broker down");
        }
        self.seen.lock().unwrap().push(m.clone());
        Ok(())
    }
}

impl Recorder {
    /// The `event_type` event of `task_id` it published on `task-events`.
    fn task_event(&self, task_id: &str, event_type: &str) -> OutboxMessage {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .find(|m| {
                m.topic == "task-events"
                    && m.payload["task_id"] == task_id
                    && m.payload["event_type"] == event_type
            })
            .cloned()
            .unwrap_or_else(|| panic!("{event_type} of {task_id} published"))
    }
}

/// The test database (`common::Db`).
async fn pool() -> common::Db {
    common::Db::open(8).await
}

/// The whole app (every function) with `publisher` as its transport.
fn app_with(db: &common::Db, publisher: Arc<dyn Publisher>) -> TestApp {
    TestApp::with_publisher(db.clone(), publisher)
}

/// (event type, topic, published) of each outbox row of `task_id`, in order.
async fn outbox_types(db: &common::Db, task_id: &str) -> Vec<(String, String, bool)> {
    db.outbox(task_id)
        .await
        .into_iter()
        .map(|row| (row.event_type, row.topic, row.published))
        .collect()
}

/// The next occurrences of `parent`, as the API shows them.
async fn children(app: &TestApp, user: &str, parent: &str) -> Vec<Value> {
    let mut tasks = Vec::new();
    for id in app.db.children(parent).await {
        let task = app.db.store.get_task(user, id).await.unwrap().unwrap();
        tasks.push(serde_json::to_value(task).unwrap());
    }
    tasks
}

#[tokio::test]
async fn every_change_writes_its_event_in_the_outbox_and_the_relay_publishes_it() {
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    let (s, task) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/tasks"),
            Some(json!({"title": "a"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = task["id"].as_str().unwrap();
    let path = format!("/api/{user}/tasks/{id}");
    app.call(&user, "PATCH", &path, Some(json!({"title": "b"})))
        .await;
    app.call(&user, "PATCH", &format!("{path}/complete"), None)
        .await;
    app.call(&user, "PATCH", &format!("{path}/complete"), None)
        .await;
    assert_eq!(
        app.call(&user, "DELETE", &path, None).await.0,
        StatusCode::NO_CONTENT
    );

    let rows = outbox_types(&pool, id).await;
    let types: Vec<&str> = rows
        .iter()
        .filter(|r| r.1 == "task-events")
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "task.created",
            "task.updated",
            "task.completed",
            "task.updated",
            "task.deleted"
        ]
    );
    assert_eq!(
        rows.len(),
        10,
        "each event goes to task-events and task-updates"
    );
    assert!(
        rows.iter().all(|r| r.2),
        "the inline relay published every row: {rows:?}"
    );

    let seen = recorder.seen.lock().unwrap();
    let mine: Vec<_> = seen
        .iter()
        .filter(|m| m.payload["task_id"] == *id)
        .collect();
    assert_eq!(mine.len(), 10);
    assert!(
        mine.iter().all(|m| m.partition_key == user),
        "partition key is the user id"
    );
    assert_eq!(mine[0].payload["schema_version"], "1.0");
    assert_eq!(mine[0].payload["task"]["title"], "a");
}

#[tokio::test]
async fn a_failed_publish_keeps_the_request_and_the_row_and_the_sweep_sends_it_later() {
    // The sweep is global: take turns, so no other test publishes the rows this one
    // expects to fail.
    let _turn = common::global_turn().await;
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    recorder.down.store(true, Ordering::SeqCst);
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    let (s, task) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/tasks"),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the change succeeds although publishing failed"
    );
    let id = task["id"].as_str().unwrap().to_owned();
    assert!(
        outbox_types(&pool, &id).await.iter().all(|r| !r.2),
        "rows stay pending"
    );

    // The sweep leaves fresh rows to the inline relay for a grace period; end it.
    pool.make_outbox_due(Some(&id), chrono::Duration::zero())
        .await;
    recorder.down.store(false, Ordering::SeqCst);
    for _ in 0..500 {
        app.tick().await;
        if outbox_types(&pool, &id).await.iter().all(|r| r.2) {
            break;
        }
    }
    assert!(
        outbox_types(&pool, &id).await.iter().all(|r| r.2),
        "the sweep published the rows"
    );
    let seen = recorder.seen.lock().unwrap();
    assert_eq!(
        seen.iter()
            .filter(|m| m.payload["task_id"] == *id.as_str())
            .count(),
        2
    );
}

/// Holds every publish until opened, and notes the size of each batch it is handed.
struct Gate {
    open: tokio::sync::watch::Sender<bool>,
    batches: Mutex<Vec<usize>>,
}

#[async_trait]
impl Publisher for Gate {
    async fn publish(&self, _: &OutboxMessage) -> anyhow::Result<()> {
        unreachable!("the relay hands its batches to publish_all")
    }

    async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<anyhow::Result<()>> {
        self.batches.lock().unwrap().push(messages.len());
        let mut open = self.open.subscribe();
        open.wait_for(|open| *open).await.expect("the gate stays");
        messages.iter().map(|_| Ok(())).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_committed_while_a_publish_is_in_flight_go_out_together() {
    let pool = pool().await;
    let gate = Arc::new(Gate {
        open: tokio::sync::watch::channel(false).0,
        batches: Mutex::new(Vec::new()),
    });
    let app = Arc::new(app_with(&pool, gate.clone()));
    let user = TestApp::user();
    let creates: Vec<_> = (0..20)
        .map(|i| {
            let (app, user) = (app.clone(), user.clone());
            tokio::spawn(async move {
                let path = format!("/api/{user}/tasks");
                app.call(
                    &user,
                    "POST",
                    &path,
                    Some(json!({"title": format!("t{i}")})),
                )
                .await
            })
        })
        .collect();
    // Every change committed (its request now waits for its publish) before the gate opens.
    let started = std::time::Instant::now();
    while pool.outbox_of_user(&user, "task-events").await.len() < 20 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the creates commit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    gate.open.send_replace(true);
    let mut ids = Vec::new();
    for create in creates {
        let (status, task) = create.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{task}");
        ids.push(task["id"].as_str().unwrap().to_owned());
    }

    let batches = gate.batches.lock().unwrap().clone();
    assert_eq!(
        batches.iter().sum::<usize>(),
        40,
        "each change's two events, once: {batches:?}"
    );
    assert!(
        batches.len() < 20,
        "the changes that waited went out together, not one publish each: {batches:?}"
    );
    for id in &ids {
        let rows = outbox_types(&pool, id).await;
        assert!(
            rows.iter().all(|r| r.2),
            "every row marked published: {rows:?}"
        );
    }
}

#[tokio::test]
async fn one_tick_drains_a_backlog_larger_than_many_sweep_batches() {
    // The sweep is global: take turns with the other tests that sweep.
    let _turn = common::global_turn().await;
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    // What a broker outage leaves behind: more rows than fifty batches of a hundred (all a
    // tick used to sweep, so the rest waited a minute per five thousand).
    let now = shared::domain::now();
    let items: Vec<(uuid::Uuid, Task)> = (0..2_600)
        .map(|i| {
            let task = Task::create(
                uuid::Uuid::new_v4(),
                &user,
                common::new_task(&format!("backlog {i}")),
                now,
            );
            (uuid::Uuid::new_v4(), task)
        })
        .collect();
    let changed = pool
        .store
        .create_tasks_once("backlog-test", &items, &shared::events::announce)
        .await
        .unwrap();
    let rows = changed.outbox.len();
    assert_eq!(rows, 2 * items.len(), "a row per topic");
    pool.make_outbox_due(None, chrono::Duration::zero()).await;

    let report = app.tick().await;
    assert!(
        report["published"].as_u64().unwrap() >= rows as u64,
        "{report}"
    );
    let seen = recorder.seen.lock().unwrap();
    let mine: Vec<&OutboxMessage> = seen.iter().filter(|m| m.partition_key == user).collect();
    assert_eq!(mine.len(), rows, "every row published once, in one tick");
    let order: Vec<&Value> = mine
        .iter()
        .filter(|m| m.topic == "task-events")
        .map(|m| &m.payload["task"]["title"])
        .collect();
    let expected: Vec<Value> = (0..2_600).map(|i| json!(format!("backlog {i}"))).collect();
    assert!(
        order.iter().copied().eq(expected.iter()),
        "in the order they were written"
    );
}

#[tokio::test]
async fn a_failing_sweep_backs_off() {
    // The sweep is global: take turns, so no other test publishes the rows this one
    // expects to fail.
    let _turn = common::global_turn().await;
    let pool = pool().await;
    let store = pool.store.clone();
    let recorder = Arc::new(Recorder::default());
    recorder.down.store(true, Ordering::SeqCst);
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    let (_, task) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/tasks"),
            Some(json!({"title": "x"})),
        )
        .await;
    let id = task["id"].as_str().unwrap().to_owned();
    pool.make_outbox_due(Some(&id), chrono::Duration::seconds(1))
        .await;
    // Other tests leave pending rows in the shared outbox; sweep until ours is attempted.
    let mut row: (i32, f64, Option<String>) = (0, 0.0, None);
    for _ in 0..500 {
        app.send(
            common::sidecar_post("/reminder-cron")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let first = pool.outbox(&id).await.remove(0);
        row = (first.attempts, first.wait_secs, first.last_error);
        if row.0 >= 1 {
            break;
        }
    }
    let (attempts, wait, error) = row;
    assert!(attempts >= 1);
    assert!(wait > 0.0, "the next attempt waits");
    assert!(error.unwrap().contains("broker down"));
    assert!(store.outbox_backlog().await.unwrap().pending >= 2);
}

#[tokio::test]
async fn completing_a_weekly_task_creates_the_next_occurrence_and_fills_the_history() {
    let app = TestApp::local(|_| {}).await;
    let user = TestApp::user();
    let body = json!({"title": "Water plants", "description": "balcony", "priority": "high", "tags": ["home"],
        "due_at": "2030-03-04T09:00:00Z", "reminder_minutes": 30, "recurrence": "weekly", "timezone": "Europe/Berlin"});
    let (_, task) = app
        .call(&user, "POST", &format!("/api/{user}/tasks"), Some(body))
        .await;
    let id = task["id"].as_str().unwrap();
    let (s, done) = app
        .call(
            &user,
            "PATCH",
            &format!("/api/{user}/tasks/{id}/complete"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(done["completed"], true);

    let (_, page) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/tasks?status=pending"),
            None,
        )
        .await;
    assert_eq!(page["total_count"], 1, "{page}");
    let next = &page["items"][0];
    assert_eq!(next["title"], "Water plants");
    assert_eq!(next["description"], "balcony");
    assert_eq!(next["priority"], "P2");
    assert_eq!(next["tags"], json!(["home"]));
    assert_eq!(next["due_at"], "2030-03-11T09:00:00Z");
    assert_eq!(next["reminder_minutes"], 30);
    assert_eq!(next["remind_at"], "2030-03-11T08:30:00Z");
    assert_eq!(next["recurrence"], "weekly");
    assert_eq!(next["timezone"], "Europe/Berlin");
    assert_eq!(next["recurrence_parent_id"], *id);
    assert_eq!(next["recurrence_depth"], 1);

    assert_eq!(
        app.history_types(&user, id).await,
        ["task.created", "task.completed"]
    );

    // Un-completing and completing again creates no second occurrence.
    app.call(
        &user,
        "PATCH",
        &format!("/api/{user}/tasks/{id}/complete"),
        None,
    )
    .await;
    app.call(
        &user,
        "PATCH",
        &format!("/api/{user}/tasks/{id}/complete"),
        None,
    )
    .await;
    assert_eq!(children(&app, &user, id).await.len(), 1);

    // History answers like every other endpoint: another user gets 404 or 403.
    let other = TestApp::user();
    assert_eq!(
        app.call(
            &other,
            "GET",
            &format!("/api/{other}/tasks/{id}/history"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(
            &other,
            "GET",
            &format!("/api/{user}/tasks/{id}/history"),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn duplicate_and_concurrent_deliveries_create_exactly_one_occurrence() {
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    let (_, task) = app.call(&user, "POST", &format!("/api/{user}/tasks"),
        Some(json!({"title": "standup", "due_at": "2030-03-04T09:00:00Z", "recurrence": "every weekday"}))).await;
    let id = task["id"].as_str().unwrap().to_owned();
    app.call(
        &user,
        "PATCH",
        &format!("/api/{user}/tasks/{id}/complete"),
        Some(json!({"completed": true})),
    )
    .await;
    let completed = recorder.task_event(&id, "task.completed");
    let event = cloud_event(&completed, "test");

    let deliveries = (0..10).map(|_| app.deliver("/events/on-completed", &event));
    let statuses = futures::future::join_all(deliveries).await;
    assert!(statuses.iter().all(|s| s == "SUCCESS"), "{statuses:?}");
    assert_eq!(
        app.deliver("/events/on-completed", &event).await,
        "SUCCESS",
        "a redelivery is a no-op"
    );
    let kids = children(&app, &user, &id).await;
    assert_eq!(kids.len(), 1);
    assert_eq!(
        kids[0]["due_at"], "2030-03-05T09:00:00Z",
        "Tuesday after Monday 4 March"
    );

    // The same completion under a new event id (a second completion) is stopped by the
    // unique parent id.
    let mut again = completed.clone();
    again.event_id = uuid::Uuid::new_v4();
    again.payload["event_id"] = json!(again.event_id);
    assert_eq!(
        app.deliver("/events/on-completed", &cloud_event(&again, "test"))
            .await,
        "SUCCESS"
    );
    assert_eq!(children(&app, &user, &id).await.len(), 1);
}

#[tokio::test]
async fn the_subscription_contract_answers_success_retry_and_drop() {
    let pool = pool().await;
    let app = app_with(&pool, Arc::new(Recorder::default()));
    let (s, _, subs) = app
        .send(
            Request::get("/dapr/subscribe")
                .header("dapr-api-token", common::SIDECAR_TOKEN)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let routes: Vec<&str> = subs
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["route"].as_str().unwrap())
        .collect();
    assert!(
        routes.contains(&"/events/on-completed") && routes.contains(&"/events/audit"),
        "{subs}"
    );
    assert!(subs.as_array().unwrap().iter().all(|s| {
        let pubsub = if s["route"] == "/events/realtime" {
            "pubsub-realtime"
        } else {
            "pubsub"
        };
        s["pubsubname"] == pubsub
            && s["deadLetterTopic"] == format!("{}-dlq", s["topic"].as_str().unwrap())
    }));

    for route in ["/events/on-completed", "/events/audit"] {
        assert_eq!(
            app.deliver(
                route,
                &json!({"specversion": "1.0", "id": "1", "data": {"nope": 1}})
            )
            .await,
            "DROP"
        );
        let req = common::sidecar_post(route)
            .header("content-type", "application/cloudevents+json")
            .body(Body::from("{{{"))
            .unwrap();
        assert_eq!(app.send(req).await.2["status"], "DROP");
    }

    // A task event that is not a completion is taken and ignored by on-completed.
    let user = TestApp::user();
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    app.call(
        &user,
        "POST",
        &format!("/api/{user}/tasks"),
        Some(json!({"title": "t", "recurrence": "daily"})),
    )
    .await;
    let created = recorder.seen.lock().unwrap()[0].clone();
    assert_eq!(
        app.deliver("/events/on-completed", &cloud_event(&created, "test"))
            .await,
        "SUCCESS"
    );
    assert_eq!(
        app.deliver("/events/audit", &cloud_event(&created, "test"))
            .await,
        "SUCCESS"
    );

    // The database is down: RETRY, not DROP.
    let dead_app = TestApp::with_publisher(common::Db::dead(), recorder);
    let mut completed = created.clone();
    completed.payload["event_type"] = json!("task.completed");
    completed.payload["task"]["completed"] = json!(true);
    assert_eq!(
        dead_app
            .deliver("/events/on-completed", &cloud_event(&completed, "test"))
            .await,
        "RETRY"
    );
    assert_eq!(
        dead_app
            .deliver("/events/audit", &cloud_event(&created, "test"))
            .await,
        "RETRY"
    );
}

#[tokio::test]
async fn a_bulk_delivery_answers_each_entry_and_applies_each_event_once() {
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    let mut ids = Vec::new();
    for title in ["a", "b", "c"] {
        ids.push(
            app.completed_task(&user, json!({"title": title, "recurrence": "daily"}))
                .await,
        );
    }
    let event =
        |id: &str, event_type: &str| cloud_event(&recorder.task_event(id, event_type), "test");
    let batch = [
        event(&ids[0], "task.completed"),
        event(&ids[1], "task.completed"),
        event(&ids[0], "task.completed"), // redelivered within the batch
        json!({"specversion": "1.0", "id": "x", "data": {"nope": 1}}),
        event(&ids[2], "task.completed"),
        event(&ids[0], "task.created"),
    ];
    let expected = [
        "SUCCESS", "SUCCESS", "SUCCESS", "DROP", "SUCCESS", "SUCCESS",
    ];
    for route in ["/events/on-completed", "/events/audit"] {
        assert_eq!(app.deliver_bulk(route, &batch).await, expected, "{route}");
        // And again, as daprd would after a lost answer: still each once.
        assert_eq!(app.deliver_bulk(route, &batch).await, expected, "{route}");
    }
    // A full batch is far over the API's body limit; the sidecar routes take it.
    let full: Vec<Value> = (0..100).map(|i| batch[i % 3].clone()).collect();
    let size: usize = full.iter().map(|e| e.to_string().len()).sum();
    assert!(size > shared::http::MAX_BODY_BYTES, "{size}");
    for route in ["/events/on-completed", "/events/audit"] {
        let statuses = app.deliver_bulk(route, &full).await;
        assert!(
            statuses.iter().all(|s| s == "SUCCESS"),
            "{route}: {statuses:?}"
        );
    }
    for id in &ids {
        assert_eq!(
            children(&app, &user, id).await.len(),
            1,
            "one occurrence of {id}"
        );
    }
    assert_eq!(
        app.history_types(&user, &ids[0]).await,
        ["task.created", "task.completed"]
    );

    // Two completion events of one task in one delivery (under different event ids, as a
    // second completion would be): one occurrence, both entries done, the batch written
    // together.
    let twice = app
        .completed_task(
            &user,
            json!({"title": "twice", "recurrence": "daily", "tags": ["b", "a"]}),
        )
        .await;
    let mut again = recorder.task_event(&twice, "task.completed");
    again.event_id = uuid::Uuid::new_v4();
    again.payload["event_id"] = json!(again.event_id);
    let pair = [event(&twice, "task.completed"), cloud_event(&again, "test")];
    assert_eq!(
        app.deliver_bulk("/events/on-completed", &pair).await,
        ["SUCCESS", "SUCCESS"]
    );
    let made = children(&app, &user, &twice).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["tags"], json!(["a", "b"]));

    // The database is down: every event asks for redelivery, the bad one is still dropped.
    let dead_app = TestApp::with_publisher(common::Db::dead(), recorder.clone());
    let expected = ["RETRY", "RETRY", "RETRY", "DROP", "RETRY", "RETRY"];
    for route in ["/events/on-completed", "/events/audit"] {
        assert_eq!(
            dead_app.deliver_bulk(route, &batch).await,
            expected,
            "{route}"
        );
    }
}

/// on-completed writes a delivery's occurrences in one transaction; an entry the database
/// refuses fails that write, and then each entry is applied on its own, so its neighbours
/// (other users', and the same user's) still get their occurrences, once each.
#[tokio::test]
async fn an_entry_the_database_refuses_never_fails_its_neighbours() {
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    let (alice, bob) = (TestApp::user(), TestApp::user());
    let mut completions = Vec::new();
    for (user, title) in [
        (&alice, "water plants"),
        (&bob, "stand-up"),
        (&alice, "gym"),
    ] {
        let id = app
            .completed_task(user, json!({"title": title, "recurrence": "weekly"}))
            .await;
        let completed = recorder.task_event(&id, "task.completed");
        completions.push((user.clone(), id, completed));
    }
    // A completion whose occurrence breaks a check of the database (a user id longer than
    // any the API lets in), between alice's two. It is dead-lettered: redelivering it
    // would hold the partition and never succeed.
    let mut forged = completions[0].2.clone();
    let long = "u".repeat(300);
    forged.event_id = uuid::Uuid::new_v4();
    forged.payload["event_id"] = json!(forged.event_id);
    forged.payload["task_id"] = json!(uuid::Uuid::new_v4());
    forged.payload["task"]["id"] = forged.payload["task_id"].clone();
    forged.payload["user_id"] = json!(long);
    forged.payload["task"]["user_id"] = json!(long);
    let batch = [
        cloud_event(&completions[0].2, "test"),
        cloud_event(&forged, "test"),
        cloud_event(&completions[1].2, "test"),
        cloud_event(&completions[2].2, "test"),
    ];
    let statuses = app.deliver_bulk("/events/on-completed", &batch).await;
    assert_eq!(statuses, ["SUCCESS", "DROP", "SUCCESS", "SUCCESS"]);
    for (user, id, _) in &completions {
        assert_eq!(
            children(&app, user, id).await.len(),
            1,
            "one occurrence of {id}"
        );
    }
    // Redelivered (as daprd retries the failed entry with its batch): nothing doubles.
    assert_eq!(
        app.deliver_bulk("/events/on-completed", &batch).await,
        statuses
    );
    for (user, id, _) in &completions {
        assert_eq!(
            children(&app, user, id).await.len(),
            1,
            "still one occurrence of {id}"
        );
    }
}

#[tokio::test]
async fn a_value_the_database_refuses_is_told_apart_from_a_passing_failure() {
    let pool = pool().await;
    let now = shared::domain::now();
    let long_user = "u".repeat(300);
    let task = Task::create(uuid::Uuid::new_v4(), &long_user, common::new_task("x"), now);
    let err = pool
        .store
        .create_task(&task, &|_| Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
}

#[tokio::test]
async fn audit_records_each_event_once() {
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    let (_, task) = app
        .call(
            &user,
            "POST",
            &format!("/api/{user}/tasks"),
            Some(json!({"title": "t"})),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let created = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.topic == "task-events")
        .cloned()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            app.deliver("/events/audit", &cloud_event(&created, "test"))
                .await,
            "SUCCESS"
        );
    }
    let (_, history) = app
        .call(
            &user,
            "GET",
            &format!("/api/{user}/tasks/{id}/history"),
            None,
        )
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history["items"][0]["task"]["title"], "t");
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).expect("a traceparent")
}

#[tokio::test]
async fn a_change_its_events_and_their_consumers_share_one_trace() {
    // Traces on, logs off (the layer is process-wide; the other tests do not mind it).
    shared::telemetry::init(shared::config::LogFormat::Json, "off", "events-test");
    let pool = pool().await;
    let recorder = Arc::new(Recorder::default());
    let app = app_with(&pool, recorder.clone());
    let user = TestApp::user();
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = Request::post(format!("/api/{user}/tasks"))
        .header("authorization", format!("Bearer {}", app.token(&user)))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{caller}-00f067aa0ba902b7-01"))
        .body(Body::from(
            json!({"title": "traced", "recurrence": "daily"}).to_string(),
        ))
        .unwrap();
    let (status, _, task) = app.send(request).await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let id = task["id"].as_str().unwrap().to_owned();
    let find = |event_type: &str, task_id: &str| recorder.task_event(task_id, event_type);

    // The create's event continues the caller's trace, from a span of its own, and the
    // CloudEvent carries it on.
    let created = find("task.created", &id);
    let traceparent = created
        .traceparent
        .clone()
        .expect("the event carries the trace");
    assert_eq!(trace_id(&traceparent), caller, "{traceparent}");
    assert!(
        !traceparent.contains("00f067aa0ba902b7"),
        "a span of its own: {traceparent}"
    );
    assert_eq!(cloud_event(&created, "test")["traceparent"], traceparent);

    // A completion without a caller's trace starts one; on-completed continues it from the
    // event (a bulk delivery), so the next occurrence's event is in the same trace.
    app.call(
        &user,
        "PATCH",
        &format!("/api/{user}/tasks/{id}/complete"),
        None,
    )
    .await;
    let completed = find("task.completed", &id);
    let trace = trace_id(completed.traceparent.as_deref().expect("a trace")).to_owned();
    assert_ne!(trace, caller);
    assert_eq!(
        app.deliver_bulk("/events/on-completed", &[cloud_event(&completed, "test")])
            .await,
        ["SUCCESS"]
    );
    let next = children(&app, &user, &id).await;
    let next_id = next[0]["id"].as_str().unwrap();
    let occurrence = find("task.created", next_id);
    assert_eq!(
        trace_id(occurrence.traceparent.as_deref().expect("a trace")),
        trace
    );
}

/// A task's history comes a page at a time, however long it grows.
#[tokio::test]
async fn a_long_history_comes_a_page_at_a_time() {
    let app = TestApp::local(|_| {}).await;
    let user = TestApp::user();
    let task = app.create(&user, json!({"title": "toggled"})).await;
    let id = task["id"].as_str().unwrap();
    for _ in 0..24 {
        let (status, _) = app
            .call(
                &user,
                "PATCH",
                &format!("/api/{user}/tasks/{id}/complete"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let path = format!("/api/{user}/tasks/{id}/history");
    let page = |query: &'static str| {
        let url = format!("{path}{query}");
        let (app, user) = (&app, &user);
        async move { app.call(user, "GET", &url, None).await }
    };
    let (status, first) = page("").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        (
            &first["total_count"],
            &first["page"],
            &first["page_size"],
            &first["total_pages"]
        ),
        (&json!(25), &json!(1), &json!(20), &json!(2))
    );
    let (_, second) = page("?page=2").await;
    let events: Vec<&Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .collect();
    assert_eq!(events.len(), 25);
    assert_eq!(events[0]["event_type"], "task.created");
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 25, "no event on two pages");
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in order: {times:?}"
    );
    let (_, all) = page("?page_size=100").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 25);
    let (status, past) = page("?page=3").await;
    assert_eq!(
        (status, past["items"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
    for (query, field) in [
        ("?page_size=101", "page_size"),
        ("?page=0", "page"),
        ("?order=desc", "order"),
    ] {
        let (status, error) = page(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        common::assert_error(&error, "bad_request", Some(field));
    }
}

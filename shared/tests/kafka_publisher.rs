//! The direct Kafka transport (`PUBSUB_TRANSPORT=kafka`) against a real broker: what it
//! writes is exactly the CloudEvent Dapr delivers, keyed by user and in order per user; an
//! unreachable broker fails the publish within its timeout; and the outbox relay publishes
//! through it (rows marked published) or leaves rows pending when Kafka is down.
//!
//! Needs `KAFKA_BROKERS` (scripts/test.sh starts a broker and sets it) and `DATABASE_URL`.
#![cfg(feature = "kafka")]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::kafka::{
    brokers, ensure_topic, fresh_topic, positions, read, unreachable_broker, Record, Recorder, WAIT,
};
use common::TestApp;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::{json, Value};
use shared::events::publisher::{KafkaPublisher, Publisher, KAFKA_SOURCE};
use shared::events::relay::Relay;
use shared::events::subscription::{cloud_event, parse_cloud_event};
use shared::events::{TaskEvent, TASK_EVENTS, TASK_UPDATES};
use shared::store::OutboxMessage;
use shared::store::PgStore;
use sqlx::PgPool;

/// Real outbox messages (as the store writes them) for `changes` changes of one task of
/// `user`, bound for `topic` instead of `task-events`.
async fn task_events(user: &str, changes: usize, topic: &str) -> Vec<OutboxMessage> {
    let recorder = Arc::new(Recorder::default());
    let app = TestApp::with_publisher(common::Db::open(2).await, recorder.clone());
    let task = app.create(user, json!({ "title": "t0" })).await;
    let path = format!("/api/{user}/tasks/{}", task["id"].as_str().unwrap());
    for i in 1..changes {
        let (status, body) = if i % 3 == 0 {
            app.call(user, "PATCH", &format!("{path}/complete"), None)
                .await
        } else {
            app.call(
                user,
                "PUT",
                &path,
                Some(json!({ "title": format!("t{i}") })),
            )
            .await
        };
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let seen = recorder.0.lock().unwrap().clone();
    let mine: Vec<OutboxMessage> = seen
        .into_iter()
        .filter(|m| m.topic == TASK_EVENTS)
        .map(|m| OutboxMessage {
            topic: topic.to_owned(),
            ..m
        })
        .collect();
    assert_eq!(mine.len(), changes, "one task event per change");
    mine
}

#[tokio::test]
async fn writes_the_cloud_event_dapr_delivers_keyed_by_user_in_order_per_user() {
    let topic = fresh_topic("envelope").await;
    let publisher = Arc::new(KafkaPublisher::new(&brokers()).unwrap());
    let users: Vec<String> = (0..3).map(|_| TestApp::user()).collect();
    let mut sent = HashMap::new();
    for user in &users {
        sent.insert(user.clone(), task_events(user, 12, &topic).await);
    }

    // The users' streams concurrently, each user's events one after another (as the relay
    // does): every publish is acknowledged before the next.
    let publishing = sent.values().map(|messages| {
        let publisher = publisher.clone();
        async move {
            for m in messages {
                publisher
                    .publish(m)
                    .await
                    .unwrap_or_else(|e| panic!("publish {}: {e:#}", m.event_id));
            }
        }
    });
    futures::future::join_all(publishing).await;

    let records = read(&positions(&topic, false), None, 36).await;
    let mut by_key: HashMap<&str, Vec<&Record>> = HashMap::new();
    for r in &records {
        by_key.entry(r.key.as_str()).or_default().push(r);
    }
    assert_eq!(by_key.len(), users.len(), "one key per user");
    for user in &users {
        let got = &by_key[user.as_str()];
        let want = &sent[user];
        assert_eq!(got.len(), want.len(), "{user}: every event, once");
        assert!(
            got.iter().all(|r| r.partition == got[0].partition),
            "{user}: one partition per key"
        );
        for (r, m) in got.iter().zip(want) {
            // The envelope is the one place's (`cloud_event`), byte for byte the JSON the
            // in-process bus hands to subscribers.
            let envelope: Value = serde_json::from_slice(&r.payload).unwrap();
            assert_eq!(envelope, cloud_event(m, KAFKA_SOURCE));
            assert_eq!(envelope["specversion"], "1.0");
            assert_eq!(envelope["id"], m.event_id.to_string());
            assert_eq!(
                r.headers.get("content-type").map(String::as_str),
                Some("application/cloudevents+json")
            );
            // Subscribers parse it with the project's own parser into the same event.
            let event: TaskEvent = parse_cloud_event(&r.payload)
                .unwrap_or_else(|e| panic!("{user}: {e}: {:?}", r.payload));
            let original: TaskEvent = serde_json::from_value(m.payload.clone()).unwrap();
            assert_eq!(event, original);
            assert_eq!(event.user_id, *user);
        }
        // In order: the record order of the key is the publish order.
        let got_ids: Vec<String> = got
            .iter()
            .map(|r| {
                parse_cloud_event::<TaskEvent>(&r.payload)
                    .unwrap()
                    .event_id
                    .to_string()
            })
            .collect();
        let want_ids: Vec<String> = want.iter().map(|m| m.event_id.to_string()).collect();
        assert_eq!(got_ids, want_ids, "{user}: order kept");
    }
}

/// The librdkafka error code under a failed publish, if Kafka itself reported it.
fn kafka_code(error: &anyhow::Error) -> Option<RDKafkaErrorCode> {
    error
        .chain()
        .find_map(|e| e.downcast_ref::<rdkafka::error::KafkaError>())
        .and_then(|e| e.rdkafka_error_code())
}

#[tokio::test]
async fn an_unreachable_broker_fails_the_publish_within_the_timeout() {
    let message = task_events(&TestApp::user(), 1, "test-unreachable")
        .await
        .remove(0);

    // Kafka's own delivery timeout ends the wait (not the publisher's backstop, not a
    // hang), so the relay sees Kafka's error and the outbox row stays pending. Only a
    // hang guard is timed here: how long the machine takes is not the behaviour.
    for publisher in [
        KafkaPublisher::new(&unreachable_broker()).unwrap(),
        KafkaPublisher::with_timeout(&unreachable_broker(), Duration::from_millis(300)).unwrap(),
    ] {
        let error = tokio::time::timeout(WAIT, publisher.publish(&message))
            .await
            .expect("the publish ends on its own")
            .expect_err("nothing listens there");
        assert_eq!(
            kafka_code(&error),
            Some(RDKafkaErrorCode::MessageTimedOut),
            "{error:#}"
        );
        let text = format!("{error:#}");
        assert!(
            text.contains("Kafka publish") && text.contains(&message.event_id.to_string()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn refuses_an_empty_broker_list() {
    assert!(KafkaPublisher::new(" ").is_err());
}

/// (topic, published, attempts, last_error) of the task's outbox rows, oldest first.
async fn outbox_rows(pool: &PgPool, task_id: &str) -> Vec<(String, bool, i32, Option<String>)> {
    sqlx::query_as(
        "select topic, published_at is not null, attempts, last_error from outbox \
         where payload->>'task_id' = $1 order by id",
    )
    .bind(task_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn make_due(pool: &PgPool) {
    sqlx::query("update outbox set next_attempt_at = now() where published_at is null")
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_outbox_relay_publishes_through_kafka_and_keeps_rows_pending_while_it_is_down() {
    // A database of its own is PostgreSQL's; the Kafka transport is the same on SQLite.
    if common::Backend::current() != common::Backend::Postgres {
        return;
    }
    let (pool, name) = common::own_postgres_database("kafka_test").await;
    let store = || Arc::new(PgStore::new(pool.clone()));
    let db = common::Db::on_postgres(pool.clone());
    let kafka: Arc<dyn Publisher> = Arc::new(KafkaPublisher::new(&brokers()).unwrap());
    let down: Arc<dyn Publisher> = Arc::new(
        KafkaPublisher::with_timeout(&unreachable_broker(), Duration::from_millis(300)).unwrap(),
    );
    for topic in [TASK_EVENTS, TASK_UPDATES] {
        ensure_topic(topic, 3).await;
    }
    let from_events = positions(TASK_EVENTS, true);
    let from_updates = positions(TASK_UPDATES, true);
    let user = TestApp::user();

    // Kafka is down: the request still succeeds, its rows stay pending.
    let app = TestApp::with_publisher(db.clone(), down.clone());
    let task = app.create(&user, json!({ "title": "water plants" })).await;
    let id = task["id"].as_str().unwrap().to_owned();
    let rows = outbox_rows(&pool, &id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| !r.1), "pending: {rows:?}");

    // A sweep while it is still down records the failure (mark_failed) and backs off.
    make_due(&pool).await;
    let report = Relay::new(store(), down.clone()).sweep(100).await.unwrap();
    assert_eq!((report.published, report.failed), (0, 2));
    let rows = outbox_rows(&pool, &id).await;
    assert!(
        rows.iter().all(|r| !r.1
            && r.2 == 1
            && r.3.as_deref().is_some_and(|e| e.contains("Kafka publish"))),
        "failed once, with Kafka's error: {rows:?}"
    );
    let backed_off: bool = sqlx::query_scalar(
        "select bool_and(next_attempt_at > now()) from outbox where payload->>'task_id' = $1",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(backed_off, "the next attempt waits");

    // Kafka is back: the sweep publishes them and marks them published.
    make_due(&pool).await;
    let report = Relay::new(store(), kafka.clone())
        .sweep_for(100, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!((report.published, report.failed), (2, 0));
    let rows = outbox_rows(&pool, &id).await;
    assert!(rows.iter().all(|r| r.1 && r.3.is_none()), "{rows:?}");

    // With Kafka up, the relay publishes right after the commit: no sweep needed.
    let app = TestApp::with_publisher(db.clone(), kafka.clone());
    let (status, body) = app
        .call(
            &user,
            "PATCH",
            &format!("/api/{user}/tasks/{id}/complete"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = outbox_rows(&pool, &id).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.1), "all published: {rows:?}");

    // On both topics, keyed by the user, in order: created (via the sweep), then completed.
    for from in [&from_events, &from_updates] {
        let records = read(from, Some(&user), 2).await;
        let events: Vec<TaskEvent> = records
            .iter()
            .map(|r| parse_cloud_event(&r.payload).unwrap())
            .collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["task.created", "task.completed"]);
        assert!(events.iter().all(|e| e.task_id.to_string() == id));
    }
    common::drop_database(pool, &name).await;
}

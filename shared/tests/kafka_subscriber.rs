//! The direct Kafka subscriber (`SUBSCRIBE_TRANSPORT=kafka`) against a real broker: a
//! function reads its topic itself and its routes apply the records as daprd's bulk
//! deliveries would (next occurrences, audit entries); what is not an event goes to the
//! dead-letter topic; an entry answered RETRY is delivered again before anything later of
//! its user; and a stop loses nothing and replays nothing done.
//!
//! Needs `KAFKA_BROKERS` (scripts/test.sh starts a broker and sets it) and `DATABASE_URL`.
#![cfg(feature = "kafka")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::kafka::{brokers, ensure_topic, fresh_topic, positions, read, Recorder, WAIT};
use common::TestApp;
use serde_json::json;
use shared::events::kafka_subscriber::{Subscriber, Target};
use shared::events::publisher::{KafkaPublisher, Publisher};
use shared::events::subscription::{consume, ConsumeError, Keyed};
use shared::events::TASK_EVENTS;
use shared::handlers::{audit, on_completed};
use shared::store::OutboxMessage;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// `route` of a fresh consumer group on `topic`, from the oldest record.
fn target(topic: &str, route: &str) -> Target {
    Target {
        topic: topic.into(),
        route: route.into(),
        dead_letter_topic: format!("{topic}-dlq"),
        group: format!("test-{}", uuid::Uuid::new_v4().simple()),
        from_newest: false,
    }
}

/// A running subscriber, and how to stop it.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

fn start(targets: Vec<Target>, app: Router) -> Running {
    let subscriber = Subscriber::new(&brokers(), targets, app).expect("a subscriber");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(subscriber.run(async move {
        let _ = stopped.await;
    }));
    Running { stop, task }
}

impl Running {
    /// Stops it and waits until it has committed and closed.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the subscriber stops")
            .expect("the subscriber ends cleanly");
    }
}

/// Polls `done` until it holds; fails with `what` after `WAIT`.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_function_reads_its_topic_itself_and_dead_letters_what_is_no_event() {
    let topic = fresh_topic("direct").await;
    let dead_letters = format!("{topic}-dlq");
    ensure_topic(&dead_letters, 1).await;
    let kafka = KafkaPublisher::new(&brokers()).unwrap();

    // Two users complete a weekly task each; their task.completed events go to the topic.
    let recorder = Arc::new(Recorder::default());
    let app = TestApp::with_publisher(common::Db::open(4).await, recorder.clone());
    let users = [TestApp::user(), TestApp::user()];
    let mut completed = Vec::new();
    for user in &users {
        let id = app
            .completed_task(
                user,
                json!({ "title": "water plants", "due_at": "2030-03-04T09:00:00Z", "recurrence": "weekly" }),
            )
            .await;
        completed.push((user.clone(), id));
    }
    let events: Vec<OutboxMessage> = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.topic == TASK_EVENTS && m.payload["event_type"] == "task.completed")
        .map(|m| OutboxMessage {
            topic: topic.clone(),
            ..m.clone()
        })
        .collect();
    assert_eq!(events.len(), 2);
    kafka.send(&topic, b"junk", b"not json").await.unwrap();
    kafka
        .send(&topic, b"junk", br#"{"hello":"world"}"#)
        .await
        .unwrap();
    for event in &events {
        kafka.publish(event).await.unwrap();
    }

    // on-completed and audit, each its own group, read the topic as their sidecars would.
    let state = app.state.clone().unwrap();
    let routes = shared::http::sidecar_app(&[&on_completed::FUNCTION, &audit::FUNCTION], state);
    let running = start(
        [&on_completed::FUNCTION, &audit::FUNCTION]
            .iter()
            .map(|f| target(&topic, f.subscriptions[0].route))
            .collect(),
        routes,
    );
    for (user, id) in &completed {
        eventually("the next occurrence", || async {
            let page = app.list(user, "status=pending").await;
            page["total_count"] == 1 && page["items"][0]["recurrence_parent_id"] == **id
        })
        .await;
        // The history is 404 until audit records the task's first entry.
        let history = format!("/api/{user}/tasks/{id}/history");
        eventually("the audit entry", || async {
            app.call(user, "GET", &history, None).await.0 == StatusCode::OK
        })
        .await;
        assert_eq!(app.history_types(user, id).await, ["task.completed"]);
    }

    // Each function dead-lettered both records that are no event, unchanged.
    let dead = read(&positions(&dead_letters, false), None, 4).await;
    let mut payloads: Vec<Bytes> = dead.iter().map(|r| r.payload.clone()).collect();
    payloads.sort();
    assert_eq!(
        payloads,
        [
            Bytes::from_static(b"not json"),
            Bytes::from_static(b"not json"),
            Bytes::from_static(br#"{"hello":"world"}"#),
            Bytes::from_static(br#"{"hello":"world"}"#),
        ]
    );
    assert!(dead.iter().all(|r| r.key == "junk"));
    running.stop().await;
}

/// A stand-in event: user and sequence number.
#[derive(serde::Deserialize)]
struct Numbered {
    user: String,
    n: u32,
}

impl Keyed for Numbered {
    fn key(&self) -> &str {
        &self.user
    }
}

/// A route applying `Numbered` events through the real consumer contract (`consume`):
/// records each applied event, and answers RETRY for `user`'s event `n` while `refusals`
/// lasts (`usize::MAX`: always), counting the attempts.
#[derive(Clone, Default)]
struct Route {
    applied: Arc<Mutex<Vec<(String, u32)>>>,
    refuse: Arc<Mutex<Option<(String, u32)>>>,
    refusals: Arc<AtomicUsize>,
    attempts: Arc<AtomicUsize>,
}

impl Route {
    fn router(&self) -> Router {
        let route = self.clone();
        Router::new().route(
            "/events/numbered",
            post(move |body: Bytes| {
                let route = route.clone();
                async move {
                    consume(&body, |e: Numbered| {
                        let route = route.clone();
                        async move {
                            let refused = route.refuse.lock().unwrap().clone();
                            if refused.is_some_and(|(u, n)| u == e.user && n == e.n) {
                                route.attempts.fetch_add(1, Ordering::SeqCst);
                                let left = route.refusals.load(Ordering::SeqCst);
                                if left > 0 {
                                    if left != usize::MAX {
                                        route.refusals.fetch_sub(1, Ordering::SeqCst);
                                    }
                                    return Err(ConsumeError::Retry(anyhow::anyhow!("not now")));
                                }
                            }
                            route.applied.lock().unwrap().push((e.user, e.n));
                            Ok(())
                        }
                    })
                    .await
                }
            }),
        )
    }

    fn applied(&self, user: &str) -> Vec<u32> {
        let applied = self.applied.lock().unwrap();
        applied
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, n)| *n)
            .collect()
    }
}

async fn send_numbered(
    kafka: &KafkaPublisher,
    topic: &str,
    user: &str,
    numbers: impl IntoIterator<Item = u32>,
) {
    for n in numbers {
        let message = OutboxMessage {
            id: 0,
            event_id: uuid::Uuid::new_v4(),
            topic: topic.into(),
            partition_key: user.into(),
            payload: json!({ "user": user, "n": n }),
            traceparent: None,
        };
        kafka.publish(&message).await.unwrap();
    }
}

#[tokio::test]
async fn a_retry_is_delivered_again_before_its_users_later_events_and_a_stop_loses_nothing() {
    let topic = fresh_topic("retry").await;
    let kafka = KafkaPublisher::new(&brokers()).unwrap();
    let (a, b) = (format!("a-{topic}"), format!("b-{topic}"));
    let group = target(&topic, "/events/numbered");

    // a's third event is refused twice: it is delivered again until applied, and a's
    // later events wait for it; b's are not held up.
    let first = Route::default();
    *first.refuse.lock().unwrap() = Some((a.clone(), 3));
    first.refusals.store(2, Ordering::SeqCst);
    send_numbered(&kafka, &topic, &a, 1..=6).await;
    send_numbered(&kafka, &topic, &b, 1..=3).await;
    let running = start(vec![group.clone()], first.router());
    eventually("a's and b's events", || async {
        first.applied(&a).len() >= 6 && first.applied(&b).len() >= 3
    })
    .await;
    assert_eq!(first.applied(&a), [1, 2, 3, 4, 5, 6], "in order, each once");
    assert_eq!(first.applied(&b), [1, 2, 3]);
    assert_eq!(
        first.attempts.load(Ordering::SeqCst),
        3,
        "refused twice, then applied"
    );

    // a's seventh is refused for good; the subscriber stops while it waits to be
    // delivered again.
    *first.refuse.lock().unwrap() = Some((a.clone(), 7));
    first.refusals.store(usize::MAX, Ordering::SeqCst);
    first.attempts.store(0, Ordering::SeqCst);
    send_numbered(&kafka, &topic, &a, 7..=8).await;
    eventually("a's seventh is tried", || async {
        first.attempts.load(Ordering::SeqCst) >= 1
    })
    .await;
    running.stop().await;
    assert_eq!(
        first.applied(&a),
        [1, 2, 3, 4, 5, 6],
        "nothing after the refused one"
    );

    // The next consumer of the group starts where the done records end: a's seventh and
    // eighth, nothing of what was done before the stop.
    send_numbered(&kafka, &topic, &b, 4..=4).await;
    let second = Route::default();
    let running = start(vec![group], second.router());
    eventually("a's seventh and eighth, b's fourth", || async {
        second.applied(&a).len() >= 2 && !second.applied(&b).is_empty()
    })
    .await;
    running.stop().await;
    assert_eq!(second.applied(&a), [7, 8]);
    assert_eq!(second.applied(&b), [4]);
}

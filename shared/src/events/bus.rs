//! The in-process bus of `todo-local`: it plays the Dapr sidecar's part for pub/sub. A
//! publish is delivered, as the CloudEvents daprd would send, to every subscribed route of
//! the app through the same HTTP contract (`SUCCESS` / `RETRY` / `DROP`): a subscription
//! with bulk on gets the published events together, one bulk delivery (as daprd's bulk
//! subscribe would batch them); one without gets them one at a time, different users' at
//! the same time and each user's in order.
//!
//! A publish succeeds once every subscriber has taken its events (or dropped them); an
//! event a subscriber keeps asking to have again fails the publish, so its outbox row
//! stays pending and the sweep delivers it again later.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;

use super::delivery::{deliver_bulk, deliver_one, Record};
use super::publisher::{after_failures, Publisher};
use super::subscription::{cloud_event, in_order_per_key, Delivery, Subscription};
use crate::store::OutboxMessage;

/// Deliveries of an event to one subscriber before its publish fails.
const ATTEMPTS: u32 = 3;
/// Users whose events go to a subscription without bulk at the same time.
const USERS_AT_ONCE: usize = 16;

tokio::task_local! {
    /// Set while the bus delivers: a consumer that publishes from inside a delivery (e.g.
    /// on-completed's next occurrence) is being waited on by that publish's caller.
    static DELIVERING: ();
}

pub struct InProcessBus {
    subscriptions: Vec<Subscription>,
    app: OnceLock<Router>,
}

impl InProcessBus {
    pub fn new(subscriptions: Vec<Subscription>) -> Self {
        InProcessBus {
            subscriptions,
            app: OnceLock::new(),
        }
    }

    /// Connects the bus to the app that serves the subscribed routes (built after the bus,
    /// since the app's state holds the bus).
    pub fn attach(&self, app: Router) {
        let _ = self.app.set(app);
    }
}

/// What the bus delivers of an outbox row, owned by the task that delivers it.
struct Outgoing {
    event_id: String,
    topic: String,
    key: String,
    /// The CloudEvent, as JSON.
    event: Vec<u8>,
}

/// Delivers each of `outgoing` to every subscription of its topic, the subscriptions at the
/// same time; the indices of those not taken, with why.
async fn deliver_all(
    app: &Router,
    subscriptions: &[Subscription],
    outgoing: &[Outgoing],
) -> Vec<(usize, String)> {
    let records: Vec<Record> = outgoing
        .iter()
        .map(|o| Record {
            key: o.key.as_bytes(),
            event: &o.event,
        })
        .collect();
    let deliveries = subscriptions.iter().filter_map(|subscription| {
        let mine: Vec<usize> = (0..outgoing.len())
            .filter(|&i| outgoing[i].topic == subscription.topic)
            .collect();
        (!mine.is_empty()).then(|| deliver(app, subscription, outgoing, &records, mine))
    });
    futures::future::join_all(deliveries)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Delivers `outgoing[i]` for each of `mine` to `subscription`, asking again for those
/// answered RETRY; the ones still not taken after [`ATTEMPTS`], with why.
async fn deliver(
    app: &Router,
    subscription: &Subscription,
    outgoing: &[Outgoing],
    records: &[Record<'_>],
    mut pending: Vec<usize>,
) -> Vec<(usize, String)> {
    let route = subscription.route;
    for attempt in 1..=ATTEMPTS {
        let statuses = if subscription.bulk {
            DELIVERING
                .scope((), deliver_bulk(app, route, records, &pending))
                .await
        } else {
            one_at_a_time(app, route, outgoing, records, &pending).await
        };
        let mut again = Vec::new();
        for (&i, status) in pending.iter().zip(statuses) {
            match status {
                Delivery::Success => {}
                Delivery::Drop => {
                    tracing::warn!(route, dead_letter = %subscription.dead_letter_topic(),
                        event_id = %outgoing[i].event_id, "event dropped by its subscriber")
                }
                Delivery::Retry => again.push(i),
            }
        }
        pending = again;
        if pending.is_empty() {
            break;
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
        }
    }
    pending
        .into_iter()
        .map(|i| (i, format!("{route} asked for redelivery {ATTEMPTS} times")))
        .collect()
}

/// Delivers `records[i]` for each of `indices` one event per request: each key's in
/// order, stopping at its first RETRY (its later events ask for it too); up to
/// [`USERS_AT_ONCE`] keys at the same time. A status for each, in order.
async fn one_at_a_time(
    app: &Router,
    route: &str,
    outgoing: &[Outgoing],
    records: &[Record<'_>],
    indices: &[usize],
) -> Vec<Delivery> {
    in_order_per_key(
        indices.to_vec(),
        |&i| records[i].key,
        USERS_AT_ONCE,
        |i| {
            DELIVERING.scope(
                (),
                deliver_one(app, route, &outgoing[i].event_id, records[i].event),
            )
        },
        |status| *status == Delivery::Retry,
        || Delivery::Retry,
    )
    .await
}

#[async_trait]
impl Publisher for InProcessBus {
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let mut results = self.publish_all(std::slice::from_ref(message)).await;
        results.pop().expect("one result per message")
    }

    /// Every subscription gets its topic's events of `messages`, the subscriptions at the
    /// same time.
    async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<anyhow::Result<()>> {
        let Some(app) = self.app.get() else {
            return messages
                .iter()
                .map(|_| Err(anyhow::anyhow!("the in-process bus is not attached yet")))
                .collect();
        };
        let outgoing: Vec<Outgoing> = messages
            .iter()
            .map(|m| Outgoing {
                event_id: m.event_id.to_string(),
                topic: m.topic.clone(),
                key: m.partition_key.clone(),
                event: serde_json::to_vec(&cloud_event(m, "todo-local")).expect("a JSON value"),
            })
            .collect();
        // The deliveries run on their own task, to their end: a caller that stops waiting
        // (the relay's publish timeout) must not cut a subscriber off mid-way (a webhook
        // attempt half made, say), any more than it could behind a real sidecar.
        let (app, subscriptions) = (app.clone(), self.subscriptions.clone());
        let delivering =
            tokio::spawn(async move { deliver_all(&app, &subscriptions, &outgoing).await });
        let mut failed: Vec<Option<String>> = vec![None; messages.len()];
        match delivering.await {
            Ok(not_taken) => {
                for (i, why) in not_taken {
                    failed[i].get_or_insert(why);
                }
            }
            Err(e) => failed.fill(Some(format!("the delivery failed: {e}"))),
        }
        let results = failed
            .into_iter()
            .map(|f| match f {
                None => Ok(()),
                Some(why) => Err(anyhow::anyhow!(why)),
            })
            .collect();
        after_failures(messages, results)
    }

    fn in_delivery(&self) -> bool {
        DELIVERING.try_with(|_| ()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::routing::post;
    use uuid::Uuid;

    use super::*;

    fn message(n: i64, user: &str) -> OutboxMessage {
        OutboxMessage {
            id: n,
            event_id: Uuid::new_v4(),
            topic: "t".into(),
            partition_key: user.into(),
            payload: serde_json::json!({"n": n}),
            traceparent: None,
        }
    }

    /// The `n` of each event of a delivery (one, or a bulk delivery's entries).
    fn numbers(body: &[u8]) -> Vec<i64> {
        let body: serde_json::Value = serde_json::from_slice(body).unwrap();
        match body.get("entries") {
            Some(entries) => entries
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event"]["data"]["n"].as_i64().unwrap())
                .collect(),
            None => vec![body["data"]["n"].as_i64().unwrap()],
        }
    }

    #[tokio::test]
    async fn a_bulk_subscriber_gets_a_publish_in_one_delivery_and_one_without_gets_each_event() {
        let bulk_seen: Arc<Mutex<Vec<Vec<i64>>>> = Arc::default();
        let single_seen: Arc<Mutex<Vec<Vec<i64>>>> = Arc::default();
        // The bulk subscriber asks once for event 2 again (and so for 3, the same user's
        // next); the other takes everything.
        let asked = Arc::new(Mutex::new(false));
        let app = Router::new()
            .route(
                "/bulk",
                post({
                    let seen = bulk_seen.clone();
                    move |body: Bytes| async move {
                        let entries: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        seen.lock().unwrap().push(numbers(&body));
                        let statuses: Vec<serde_json::Value> = entries["entries"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|e| {
                                let n = e["event"]["data"]["n"].as_i64().unwrap();
                                let mut asked = asked.lock().unwrap();
                                let status = if (2..=3).contains(&n) && !*asked {
                                    if n == 3 {
                                        *asked = true;
                                    }
                                    "RETRY"
                                } else {
                                    "SUCCESS"
                                };
                                serde_json::json!({"entryId": e["entryId"], "status": status})
                            })
                            .collect();
                        axum::Json(serde_json::json!({ "statuses": statuses }))
                    }
                }),
            )
            .route(
                "/single",
                post({
                    let seen = single_seen.clone();
                    move |body: Bytes| async move {
                        seen.lock().unwrap().push(numbers(&body));
                        axum::Json(serde_json::json!({"status": "SUCCESS"}))
                    }
                }),
            );
        let subscription = |route, bulk| Subscription {
            pubsub: "pubsub",
            topic: "t",
            route,
            bulk,
        };
        let bus = InProcessBus::new(vec![
            subscription("/bulk", true),
            subscription("/single", false),
        ]);
        bus.attach(app);
        let messages = [
            message(1, "a"),
            message(2, "b"),
            message(3, "b"),
            message(4, "c"),
        ];

        let results = bus.publish_all(&messages).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(
            *bulk_seen.lock().unwrap(),
            [vec![1, 2, 3, 4], vec![2, 3]],
            "one delivery for the publish, then again only what asked for it"
        );
        let mut singles = single_seen.lock().unwrap().clone();
        assert!(singles.iter().all(|d| d.len() == 1), "{singles:?}");
        let b: Vec<i64> = singles
            .iter()
            .flatten()
            .copied()
            .filter(|n| (2..=3).contains(n))
            .collect();
        assert_eq!(b, [2, 3], "one user's events in order");
        singles.sort();
        assert_eq!(singles, [[1], [2], [3], [4]]);
    }

    #[tokio::test]
    async fn an_event_a_subscriber_keeps_refusing_fails_its_publish_and_its_users_later_ones() {
        let app = Router::new().route(
            "/refuses-2",
            post(|body: Bytes| async move {
                let status = if numbers(&body) == [2] {
                    "RETRY"
                } else {
                    "SUCCESS"
                };
                axum::Json(serde_json::json!({ "status": status }))
            }),
        );
        let bus = InProcessBus::new(vec![Subscription {
            pubsub: "pubsub",
            topic: "t",
            route: "/refuses-2",
            bulk: false,
        }]);
        bus.attach(app);
        let messages = [
            message(1, "a"),
            message(2, "a"),
            message(3, "a"),
            message(4, "b"),
        ];
        let failed: Vec<bool> = bus
            .publish_all(&messages)
            .await
            .iter()
            .map(Result::is_err)
            .collect();
        assert_eq!(failed, [false, true, true, false]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscriber_runs_to_its_end_when_the_publisher_stops_waiting() {
        let finished = Arc::new(tokio::sync::Notify::new());
        let app = Router::new().route(
            "/slow",
            post({
                let finished = finished.clone();
                move || async move {
                    tokio::time::sleep(Duration::from_secs(8)).await;
                    finished.notify_one();
                    axum::Json(serde_json::json!({"status": "SUCCESS"}))
                }
            }),
        );
        let bus = InProcessBus::new(vec![Subscription {
            pubsub: "pubsub",
            topic: "t",
            route: "/slow",
            bulk: false,
        }]);
        bus.attach(app);
        let event = message(1, "a");
        assert!(
            tokio::time::timeout(Duration::from_secs(5), bus.publish(&event))
                .await
                .is_err(),
            "the publisher gave up first"
        );
        tokio::time::timeout(Duration::from_secs(10), finished.notified())
            .await
            .expect("the subscriber finished its work");
    }
}

//! Where published events go, chosen by configuration (`PUBSUB_TRANSPORT`):
//! - `dapr`: the sidecar's HTTP bulk publish API (production);
//! - `kafka`: straight to Kafka with rdkafka (idempotent producer, acks=all);
//! - `inprocess`: the in-process bus of `todo-local` (and tests);
//! - `none`: nothing is published now; rows stay in the outbox for a later sweep.

use std::sync::Arc;

use anyhow::bail;
use async_trait::async_trait;

use crate::dapr::Sidecar;
use crate::store::OutboxMessage;

#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes one message; `Ok` means the transport has accepted it durably.
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()>;

    /// Publishes `messages` (a transport may send them together), one result each, in
    /// order. A message whose partition key had an earlier failure in the batch counts as
    /// failed: by default it is not sent; a transport that sends a batch at once may have
    /// sent it, and the later resend is harmless (the consumers are idempotent by event
    /// id). Either way a user's events stay in order.
    async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<anyhow::Result<()>> {
        let mut failed = std::collections::HashSet::new();
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            let key = message.partition_key.as_str();
            let result = if failed.contains(key) {
                Err(anyhow::anyhow!(
                    "an earlier event with key {key} was not published"
                ))
            } else {
                self.publish(message).await
            };
            if result.is_err() {
                failed.insert(key);
            }
            results.push(result);
        }
        results
    }

    /// Whether the caller is inside one of this transport's own deliveries: a consumer
    /// publishing while the in-process bus waits on it. Such a publish goes out at once,
    /// never queued behind the publish that is waiting on it (the relay's batching).
    fn in_delivery(&self) -> bool {
        false
    }
}

/// Fails each message that follows a failed one with the same partition key.
pub fn after_failures(
    messages: &[OutboxMessage],
    results: Vec<anyhow::Result<()>>,
) -> Vec<anyhow::Result<()>> {
    let mut failed = std::collections::HashSet::new();
    messages
        .iter()
        .zip(results)
        .map(|(message, result)| {
            let key = message.partition_key.as_str();
            match result {
                Ok(()) if failed.contains(key) => Err(anyhow::anyhow!(
                    "an earlier event with key {key} was not published"
                )),
                Ok(()) => Ok(()),
                Err(e) => {
                    failed.insert(key);
                    Err(e)
                }
            }
        })
        .collect()
}

/// Publishes nothing and says so: outbox rows stay pending.
pub struct NoPublisher;

#[async_trait]
impl Publisher for NoPublisher {
    async fn publish(&self, _: &OutboxMessage) -> anyhow::Result<()> {
        bail!("no event transport is configured (PUBSUB_TRANSPORT=none)")
    }
}

/// Messages sent in one bulk publish at most.
const BULK_MAX: usize = 100;

/// Dapr's bulk publish API, `POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}` (each entry
/// with `metadata.partitionKey` = the user id, so a user's events share a partition). The
/// relay hands it each batch of changes together, so under load the sidecar gets a
/// request per batch, not per change.
pub struct DaprPublisher {
    sidecar: Arc<Sidecar>,
    pubsub: String,
}

impl DaprPublisher {
    pub fn new(sidecar: Arc<Sidecar>, pubsub: impl Into<String>) -> Self {
        DaprPublisher {
            sidecar,
            pubsub: pubsub.into(),
        }
    }
}

#[async_trait]
impl Publisher for DaprPublisher {
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let mut results = self.publish_all(std::slice::from_ref(message)).await;
        results.pop().expect("one result per message")
    }

    /// [`BULK_MAX`] messages at a time, one batch after another (so a user's events keep
    /// their order).
    async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<anyhow::Result<()>> {
        let mut results = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(BULK_MAX) {
            results.extend(self.publish_bulk(chunk).await);
        }
        after_failures(messages, results)
    }
}

/// A bulk entry's metadata: its partition key, and its trace, which daprd writes into the
/// CloudEvent (`cloudevent.traceparent`) for the consumers to continue.
fn metadata(message: &OutboxMessage) -> serde_json::Value {
    let mut metadata = serde_json::json!({ "partitionKey": message.partition_key });
    if let Some(traceparent) = &message.traceparent {
        metadata["cloudevent.traceparent"] = traceparent.as_str().into();
    }
    metadata
}

impl DaprPublisher {
    /// One bulk request per topic of `messages`, the topics at the same time (each keeps
    /// its own order); a result per message, in order (as the sidecar answered: the callers
    /// apply [`after_failures`]).
    async fn publish_bulk(&self, messages: &[OutboxMessage]) -> Vec<anyhow::Result<()>> {
        let mut failed: Vec<Option<String>> = vec![None; messages.len()];
        let mut topics: Vec<&str> = messages.iter().map(|m| m.topic.as_str()).collect();
        topics.sort_unstable();
        topics.dedup();
        let requests = topics.into_iter().map(|topic| async move {
            let indices: Vec<usize> = (0..messages.len())
                .filter(|&i| messages[i].topic == topic)
                .collect();
            self.publish_topic(topic, messages, &indices).await
        });
        for failures in futures::future::join_all(requests).await {
            for (i, error) in failures.err().unwrap_or_default() {
                failed[i] = Some(error);
            }
        }
        failed
            .into_iter()
            .map(|f| match f {
                None => Ok(()),
                Some(error) => Err(anyhow::anyhow!(error)),
            })
            .collect()
    }

    /// Publishes `messages[i]` for each of `indices` to `topic`; the failed ones with why.
    async fn publish_topic(
        &self,
        topic: &str,
        messages: &[OutboxMessage],
        indices: &[usize],
    ) -> Result<(), Vec<(usize, String)>> {
        let all_failed = |why: String| indices.iter().map(|&i| (i, why.clone())).collect();
        let entries: Vec<serde_json::Value> = indices
            .iter()
            .map(|&i| {
                serde_json::json!({
                    "entryId": i.to_string(),
                    "event": messages[i].payload,
                    "contentType": "application/json",
                    "metadata": metadata(&messages[i]),
                })
            })
            .collect();
        let url = self.sidecar.url(&format!(
            "/v1.0-alpha1/publish/bulk/{}/{topic}",
            self.pubsub
        ));
        let client = self
            .sidecar
            .client()
            .await
            .map_err(|e| all_failed(format!("{e:#}")))?;
        let response = client
            .post(&url)
            .json(&entries)
            .send()
            .await
            .map_err(|e| all_failed(format!("bulk publish through the Dapr sidecar: {e}")))?;
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let why = format!("bulk publish to {topic}: the sidecar answered {status}: {body}");
        // Which entries failed, when the sidecar says (else all did).
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Failures {
            #[serde(default)]
            failed_entries: Vec<Failed>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Failed {
            entry_id: String,
        }
        let named: Vec<(usize, String)> = serde_json::from_str::<Failures>(&body)
            .map(|f| f.failed_entries)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| f.entry_id.parse().ok())
            .filter(|i| indices.contains(i))
            .map(|i| (i, why.clone()))
            .collect();
        Err(if named.is_empty() {
            all_failed(why)
        } else {
            named
        })
    }
}

/// The direct Kafka transport. Built only with the `kafka` feature (librdkafka).
#[cfg(not(feature = "kafka"))]
pub fn kafka(_brokers: &str) -> anyhow::Result<std::sync::Arc<dyn Publisher>> {
    bail!("PUBSUB_TRANSPORT=kafka needs a build with the `kafka` feature")
}

/// The direct Kafka transport (see [`KafkaPublisher`]).
#[cfg(feature = "kafka")]
pub fn kafka(brokers: &str) -> anyhow::Result<std::sync::Arc<dyn Publisher>> {
    Ok(std::sync::Arc::new(KafkaPublisher::new(brokers)?))
}

#[cfg(feature = "kafka")]
pub use self::direct_kafka::{KafkaPublisher, KAFKA_DELIVERY_TIMEOUT, KAFKA_SOURCE};

#[cfg(feature = "kafka")]
mod direct_kafka {
    use std::time::Duration;

    use anyhow::Context;
    use async_trait::async_trait;
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
    use rdkafka::util::Timeout;
    use rdkafka::ClientConfig;

    use super::Publisher;
    use crate::events::subscription::cloud_event;
    use crate::store::OutboxMessage;

    /// The CloudEvent `source` of events written straight to Kafka.
    pub const KAFKA_SOURCE: &str = "todo-functions";

    /// How long one publish may take, from enqueueing to the broker's acknowledgement
    /// (`message.timeout.ms`). librdkafka looks for expired messages about once a second,
    /// so the report can come up to [`TIMEOUT_SCAN`] later; both together stay below the
    /// relay's own 5 s limit, so a failure reaches the relay as Kafka's error (and the
    /// outbox row stays pending) rather than as a timeout.
    pub const KAFKA_DELIVERY_TIMEOUT: Duration = Duration::from_millis(3_000);

    /// How late librdkafka may report an expired message: its timeout scan runs about
    /// once a second. The publisher's own backstop waits this much past the timeout.
    const TIMEOUT_SCAN: Duration = Duration::from_millis(1_500);

    /// The direct Kafka transport: an idempotent producer (`enable.idempotence=true`,
    /// `acks=all`) writing the same CloudEvent envelope daprd delivers
    /// ([`cloud_event`], the one place that builds it), keyed by the partition key (the
    /// user id), so Dapr subscribers read these records as if they had been published
    /// through the sidecar, and one user's events stay in order.
    ///
    /// `publish` waits for the broker's acknowledgement (all in-sync replicas) or fails
    /// soon after [`KAFKA_DELIVERY_TIMEOUT`]; an unreachable broker is an error, never a hang.
    pub struct KafkaPublisher {
        producer: FutureProducer,
        delivery_timeout: Duration,
    }

    impl KafkaPublisher {
        /// A producer for `brokers` (`host:port[,host:port...]`). Connects lazily: a
        /// broker that is down fails the publishes, not this call.
        pub fn new(brokers: &str) -> anyhow::Result<Self> {
            Self::with_timeout(brokers, KAFKA_DELIVERY_TIMEOUT)
        }

        /// As [`KafkaPublisher::new`], with another delivery timeout (at least 1 ms).
        pub fn with_timeout(brokers: &str, delivery_timeout: Duration) -> anyhow::Result<Self> {
            anyhow::ensure!(
                !brokers.trim().is_empty(),
                "KAFKA_BROKERS is empty: set it to host:port[,host:port...]"
            );
            let timeout_ms = delivery_timeout.as_millis().clamp(1, i32::MAX as u128);
            let producer: FutureProducer = ClientConfig::new()
                .set("bootstrap.servers", brokers)
                .set("client.id", KAFKA_SOURCE)
                // Exactly once per partition, in order, even when librdkafka retries.
                .set("enable.idempotence", "true")
                .set("acks", "all")
                .set("message.timeout.ms", timeout_ms.to_string())
                // The relay awaits each message before sending the next of a user: waiting
                // for a batch to fill would only add latency. Concurrent publishes still
                // share batches while a request is in flight.
                .set("linger.ms", "0")
                .create()
                .with_context(|| format!("create the Kafka producer for {brokers}"))?;
            Ok(KafkaPublisher {
                producer,
                delivery_timeout: Duration::from_millis(timeout_ms as u64),
            })
        }

        /// The underlying producer (e.g. to flush it on shutdown).
        pub fn producer(&self) -> &FutureProducer {
            &self.producer
        }

        /// Writes one CloudEvent record (`body`) to `topic` under `key` and waits for the
        /// broker's acknowledgement: the publishes, and the direct subscriber's dead letters.
        pub async fn send(&self, topic: &str, key: &[u8], body: &[u8]) -> anyhow::Result<()> {
            let headers = OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some("application/cloudevents+json"),
            });
            let record = FutureRecord::to(topic)
                .key(key)
                .payload(body)
                .headers(headers);
            // `send` waits (up to the timeout) for room in the local queue, then for the
            // delivery report, which librdkafka guarantees within `message.timeout.ms`
            // plus its scan interval. The outer timeout is a backstop only.
            let delivery = self
                .producer
                .send(record, Timeout::After(self.delivery_timeout));
            let backstop = self.delivery_timeout + TIMEOUT_SCAN;
            match tokio::time::timeout(backstop, delivery).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(e.into()),
                Err(_) => Err(anyhow::anyhow!("no delivery report within {backstop:?}")),
            }
        }
    }

    #[async_trait]
    impl Publisher for KafkaPublisher {
        async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
            let body = serde_json::to_vec(&cloud_event(message, KAFKA_SOURCE))
                .context("serialise the CloudEvent")?;
            self.send(&message.topic, message.partition_key.as_bytes(), &body)
                .await
                .with_context(|| describe(message))
        }

        /// All at once: librdkafka batches what is queued together (and keeps each
        /// partition's order), where one at a time would wait a round trip per message.
        async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<anyhow::Result<()>> {
            let results = futures::future::join_all(messages.iter().map(|m| self.publish(m))).await;
            super::after_failures(messages, results)
        }
    }

    impl Drop for KafkaPublisher {
        fn drop(&mut self) {
            // Anything still queued has not been acknowledged, so its outbox row is still
            // pending; a short flush only spares a resend.
            if let Err(e) = self
                .producer
                .flush(Timeout::After(Duration::from_millis(500)))
            {
                tracing::debug!(error = %e, "Kafka producer flush on drop");
            }
        }
    }

    fn describe(message: &OutboxMessage) -> String {
        format!(
            "Kafka publish of event {} to {} (key {})",
            message.event_id, message.topic, message.partition_key
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::response::IntoResponse;

    use super::*;

    fn message(key: &str) -> OutboxMessage {
        OutboxMessage {
            id: 0,
            event_id: uuid::Uuid::new_v4(),
            topic: "task-events".into(),
            partition_key: key.into(),
            payload: serde_json::json!({}),
            traceparent: None,
        }
    }

    /// A stand-in for the sidecar's bulk publish API (the real daprd runs in
    /// scripts/e2e-dapr.sh): records each request's entries (the payload's `n`) and the
    /// most requests it had in flight at once, answers after a pause, and fails the entries
    /// whose payload says `fail`.
    #[derive(Default)]
    struct FakeSidecar {
        requests: std::sync::Mutex<Vec<Vec<String>>>,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
    }

    async fn bulk_publish(
        axum::extract::State(fake): axum::extract::State<Arc<FakeSidecar>>,
        axum::Json(entries): axum::Json<Vec<serde_json::Value>>,
    ) -> axum::response::Response {
        let now = fake.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        fake.peak.fetch_max(now, Ordering::SeqCst);
        let numbers = entries
            .iter()
            .map(|e| e["event"]["n"].as_str().unwrap().to_owned());
        fake.requests.lock().unwrap().push(numbers.collect());
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        fake.in_flight.fetch_sub(1, Ordering::SeqCst);
        let failed: Vec<_> = entries
            .iter()
            .filter(|e| e["event"]["fail"] == true)
            .map(|e| serde_json::json!({ "entryId": e["entryId"] }))
            .collect();
        if failed.is_empty() {
            return axum::http::StatusCode::NO_CONTENT.into_response();
        }
        let body = serde_json::json!({ "failedEntries": failed });
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(body),
        )
            .into_response()
    }

    /// A publisher whose sidecar is a [`FakeSidecar`].
    async fn publisher_with_fake() -> (DaprPublisher, Arc<FakeSidecar>) {
        use axum::routing::{get, post};
        let fake = Arc::new(FakeSidecar::default());
        let app = axum::Router::new()
            .route(
                "/v1.0/healthz/outbound",
                get(|| async { axum::http::StatusCode::NO_CONTENT }),
            )
            .route(
                "/v1.0-alpha1/publish/bulk/pubsub/{topic}",
                post(bulk_publish),
            )
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (
            DaprPublisher::new(Arc::new(Sidecar::new(port)), "pubsub"),
            fake,
        )
    }

    fn numbered(key: &str, n: &str, fail: bool) -> OutboxMessage {
        OutboxMessage {
            payload: serde_json::json!({ "n": n, "fail": fail }),
            ..message(key)
        }
    }

    /// A batch goes to the sidecar [`BULK_MAX`] entries a request, one request after
    /// another, in order.
    #[tokio::test]
    async fn a_batch_goes_in_bulk_requests_in_order() {
        let (publisher, fake) = publisher_with_fake().await;
        let batch: Vec<OutboxMessage> = (0..250)
            .map(|i| numbered(&format!("user-{}", i % 7), &i.to_string(), false))
            .collect();
        let results = publisher.publish_all(&batch).await;
        assert!(results.iter().all(Result::is_ok));
        let requests = fake.requests.lock().unwrap().clone();
        let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
        assert_eq!(sizes, [BULK_MAX, BULK_MAX, 50]);
        let sent: Vec<String> = requests.into_iter().flatten().collect();
        let expected: Vec<String> = (0..250).map(|i| i.to_string()).collect();
        assert_eq!(sent, expected);
        assert_eq!(fake.peak.load(Ordering::SeqCst), 1, "one request at a time");
    }

    /// A batch's topics go to the sidecar at the same time, each in one request.
    #[tokio::test]
    async fn each_topic_of_a_batch_is_its_own_request_sent_together() {
        let (publisher, fake) = publisher_with_fake().await;
        let mut update = numbered("alice", "u1", false);
        update.topic = "task-updates".into();
        let results = publisher
            .publish_all(&[numbered("alice", "e1", false), update])
            .await;
        assert!(results.iter().all(Result::is_ok));
        let mut requests = fake.requests.lock().unwrap().clone();
        requests.sort();
        assert_eq!(requests, [["e1"], ["u1"]]);
        assert_eq!(
            fake.peak.load(Ordering::SeqCst),
            2,
            "both in flight at once"
        );
    }

    /// An entry the sidecar refuses fails, and so does every later event of its user in
    /// the batch, to keep that user's order; other users' events are published.
    #[tokio::test]
    async fn a_refused_entry_fails_its_users_later_events_only() {
        let (publisher, fake) = publisher_with_fake().await;
        let batch = [
            numbered("alice", "a1", true),
            numbered("bob", "b1", false),
            numbered("alice", "a2", false),
            numbered("alice", "a3", false),
            numbered("carol", "c1", false),
        ];
        let ok: Vec<bool> = publisher
            .publish_all(&batch)
            .await
            .iter()
            .map(Result::is_ok)
            .collect();
        assert_eq!(ok, [false, true, false, false, true]);
        assert_eq!(fake.requests.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_message_after_a_failure_of_its_key_counts_as_failed() {
        let messages = [message("a"), message("b"), message("a"), message("b")];
        let results = vec![Err(anyhow::anyhow!("down")), Ok(()), Ok(()), Ok(())];
        let ok: Vec<bool> = after_failures(&messages, results)
            .iter()
            .map(Result::is_ok)
            .collect();
        assert_eq!(ok, [false, true, false, true]);
    }
}

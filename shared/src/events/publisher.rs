//! Where published events go, chosen by configuration (`PUBSUB_TRANSPORT`):
//! - `dapr`: the sidecar's HTTP publish API (production);
//! - `kafka`: straight to Kafka with rdkafka (idempotent producer, acks=all);
//! - `inprocess`: the in-process bus of `todo-local` (and tests);
//! - `none`: nothing is published now; rows stay in the outbox for a later sweep.

use anyhow::{bail, Context};
use async_trait::async_trait;

use crate::dapr::Sidecar;
use crate::store::OutboxMessage;

#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes one message; `Ok` means the transport has accepted it durably.
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()>;
}

/// Publishes nothing and says so: outbox rows stay pending.
pub struct NoPublisher;

#[async_trait]
impl Publisher for NoPublisher {
    async fn publish(&self, _: &OutboxMessage) -> anyhow::Result<()> {
        bail!("no event transport is configured (PUBSUB_TRANSPORT=none)")
    }
}

/// Dapr's HTTP publish API: `POST /v1.0/publish/{pubsub}/{topic}?metadata.partitionKey=`.
pub struct DaprPublisher {
    sidecar: std::sync::Arc<Sidecar>,
    pubsub: String,
}

impl DaprPublisher {
    pub fn new(sidecar: std::sync::Arc<Sidecar>, pubsub: impl Into<String>) -> Self {
        DaprPublisher {
            sidecar,
            pubsub: pubsub.into(),
        }
    }
}

#[async_trait]
impl Publisher for DaprPublisher {
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let url = self
            .sidecar
            .url(&format!("/v1.0/publish/{}/{}", self.pubsub, message.topic));
        let response = self
            .sidecar
            .client()
            .await?
            .post(&url)
            .query(&[("metadata.partitionKey", message.partition_key.as_str())])
            .json(&message.payload)
            .send()
            .await
            .context("publish through the Dapr sidecar")?;
        crate::dapr::check(response, "publish to", &message.topic).await
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
    /// (`message.timeout.ms`). Below the relay's own 5 s limit, so a failure reaches the
    /// relay as Kafka's error (and the outbox row stays pending) rather than as a timeout.
    pub const KAFKA_DELIVERY_TIMEOUT: Duration = Duration::from_millis(4_000);

    /// The direct Kafka transport: an idempotent producer (`enable.idempotence=true`,
    /// `acks=all`) writing the same CloudEvent envelope daprd delivers
    /// ([`cloud_event`], the one place that builds it), keyed by the partition key (the
    /// user id), so Dapr subscribers read these records as if they had been published
    /// through the sidecar, and one user's events stay in order.
    ///
    /// `publish` waits for the broker's acknowledgement (all in-sync replicas) or fails
    /// within [`KAFKA_DELIVERY_TIMEOUT`]; an unreachable broker is an error, never a hang.
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
    }

    #[async_trait]
    impl Publisher for KafkaPublisher {
        async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
            let body = serde_json::to_vec(&cloud_event(message, KAFKA_SOURCE))
                .context("serialise the CloudEvent")?;
            let headers = OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some("application/cloudevents+json"),
            });
            let record = FutureRecord::to(&message.topic)
                .key(message.partition_key.as_bytes())
                .payload(&body)
                .headers(headers);
            // `send` waits (up to the timeout) for room in the local queue, then for the
            // delivery report, which librdkafka guarantees within `message.timeout.ms`.
            // The outer timeout is a backstop only.
            let delivery = self
                .producer
                .send(record, Timeout::After(self.delivery_timeout));
            match tokio::time::timeout(self.delivery_timeout * 2, delivery).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(anyhow::Error::new(e).context(describe(message))),
                Err(_) => Err(anyhow::anyhow!(
                    "{}: no delivery report within {:?}",
                    describe(message),
                    self.delivery_timeout * 2
                )),
            }
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

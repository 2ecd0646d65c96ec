//! Where published events go, chosen by configuration (`PUBSUB_TRANSPORT`):
//! - `dapr`: the sidecar's HTTP publish API (production);
//! - `kafka`: straight to Kafka with rdkafka (idempotent producer, acks=all);
//! - `inprocess`: the in-process bus of `todo-local` (and tests);
//! - `none`: nothing is published now; rows stay in the outbox for a later sweep.

use std::time::Duration;

use anyhow::{bail, Context};
use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::OutboxMessage;

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
    client: reqwest::Client,
    base: String,
    pubsub: String,
    ready: OnceCell<()>,
}

impl DaprPublisher {
    pub fn new(dapr_http_port: u16, pubsub: impl Into<String>) -> Self {
        DaprPublisher {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
            base: format!("http://127.0.0.1:{dapr_http_port}"),
            pubsub: pubsub.into(),
            ready: OnceCell::new(),
        }
    }

    /// Waits (up to 10 s) for the sidecar's outbound readiness before the first call.
    async fn wait_for_sidecar(&self) -> anyhow::Result<()> {
        self.ready
            .get_or_try_init(|| async {
                let url = format!("{}/v1.0/healthz/outbound", self.base);
                for _ in 0..50 {
                    if let Ok(r) = self.client.get(&url).send().await {
                        if r.status().is_success() {
                            return Ok(());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                bail!("the Dapr sidecar at {} is not ready", self.base)
            })
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Publisher for DaprPublisher {
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        self.wait_for_sidecar().await?;
        let url = format!(
            "{}/v1.0/publish/{}/{}",
            self.base, self.pubsub, message.topic
        );
        let response = self
            .client
            .post(&url)
            .query(&[("metadata.partitionKey", message.partition_key.as_str())])
            .json(&message.payload)
            .send()
            .await
            .context("publish through the Dapr sidecar")?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!(
                "Dapr publish to {} answered {status}: {body}",
                message.topic
            );
        }
        Ok(())
    }
}

/// The direct Kafka transport. Built only with the `kafka` feature (librdkafka).
#[cfg(not(feature = "kafka"))]
pub fn kafka(_brokers: &str) -> anyhow::Result<std::sync::Arc<dyn Publisher>> {
    bail!("PUBSUB_TRANSPORT=kafka needs a build with the `kafka` feature")
}

/// The direct Kafka transport: an idempotent producer (acks=all) writing the same
/// CloudEvent envelope daprd would, keyed by user id, so Dapr subscribers read it as if
/// it had been published through the sidecar.
#[cfg(feature = "kafka")]
pub fn kafka(brokers: &str) -> anyhow::Result<std::sync::Arc<dyn Publisher>> {
    Ok(std::sync::Arc::new(KafkaPublisher::new(brokers)?))
}

#[cfg(feature = "kafka")]
pub struct KafkaPublisher {
    producer: rdkafka::producer::FutureProducer,
}

#[cfg(feature = "kafka")]
impl KafkaPublisher {
    pub fn new(brokers: &str) -> anyhow::Result<Self> {
        let producer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "5000")
            .set("linger.ms", "5")
            .create()
            .context("create the Kafka producer")?;
        Ok(KafkaPublisher { producer })
    }
}

#[cfg(feature = "kafka")]
#[async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, message: &OutboxMessage) -> anyhow::Result<()> {
        let envelope = super::subscription::cloud_event(message, "todo-functions");
        let body = serde_json::to_vec(&envelope)?;
        let record = rdkafka::producer::FutureRecord::to(&message.topic)
            .key(message.partition_key.as_bytes())
            .payload(&body);
        self.producer
            .send(
                record,
                rdkafka::util::Timeout::After(Duration::from_secs(5)),
            )
            .await
            .map_err(|(e, _)| anyhow::anyhow!("Kafka publish to {}: {e}", message.topic))?;
        Ok(())
    }
}

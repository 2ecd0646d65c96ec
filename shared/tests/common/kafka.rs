//! Kafka for the tests of the direct transport: the broker `scripts/test.sh` starts, fresh
//! topics, and reading what was written.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use axum::body::Bytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use shared::events::publisher::Publisher;
use shared::store::OutboxMessage;

pub const WAIT: Duration = Duration::from_secs(30);

pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "KAFKA_BROKERS is not set: these tests need a real Kafka. Run scripts/test.sh \
                 (it starts one), or start one with `KAFKA_PORT=19092 scripts/kafka.sh start` \
                 and `export KAFKA_BROKERS=127.0.0.1:19092`."
            )
        })
}

/// A loopback address where nothing listens.
pub fn unreachable_broker() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

/// Creates `topic` with `partitions` partitions unless it exists.
pub async fn ensure_topic(topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("Kafka admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(WAIT)),
        )
        .await
        .unwrap_or_else(|e| panic!("create topic {topic} on {}: {e}", brokers()));
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => panic!("create topic {t}: {e}"),
        }
    }
}

/// A fresh topic with 3 partitions.
pub async fn fresh_topic(name: &str) -> String {
    let topic = format!("test-{name}-{}", uuid::Uuid::new_v4().simple());
    ensure_topic(&topic, 3).await;
    topic
}

pub fn consumer() -> StreamConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("Kafka consumer")
}

/// Every partition of `topic`, positioned at its current end (what is published from now
/// on), or at its beginning.
pub fn positions(topic: &str, at_end: bool) -> TopicPartitionList {
    let c = consumer();
    let metadata = c
        .fetch_metadata(Some(topic), WAIT)
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    let partitions = metadata.topics()[0].partitions();
    assert!(!partitions.is_empty(), "{topic} has partitions");
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        let offset = if at_end {
            let (_, high) = c
                .fetch_watermarks(topic, p.id(), WAIT)
                .unwrap_or_else(|e| panic!("watermarks of {topic}/{}: {e}", p.id()));
            Offset::Offset(high)
        } else {
            Offset::Beginning
        };
        tpl.add_partition_offset(topic, p.id(), offset).unwrap();
    }
    tpl
}

#[derive(Debug)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub payload: Bytes,
    pub headers: HashMap<String, String>,
}

/// Reads from `from` until `count` records with key `key` (any key when `None`) arrived;
/// answers them in (partition, offset) order. Fails after `WAIT`.
pub async fn read(from: &TopicPartitionList, key: Option<&str>, count: usize) -> Vec<Record> {
    let c = consumer();
    c.assign(from).expect("assign partitions");
    let deadline = Instant::now() + WAIT;
    let mut records = Vec::new();
    while records.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = match tokio::time::timeout(left, c.recv()).await {
            Ok(m) => m.expect("consume"),
            Err(_) => panic!(
                "only {} of {count} records (key {key:?}) arrived within {WAIT:?}: {records:?}",
                records.len()
            ),
        };
        let record_key = String::from_utf8(message.key().unwrap_or_default().to_vec()).unwrap();
        if key.is_some_and(|k| k != record_key) {
            continue;
        }
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        records.push(Record {
            partition: message.partition(),
            offset: message.offset(),
            key: record_key,
            payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
            headers,
        });
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    records
}

/// Records what the app asks to publish, and accepts it.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<OutboxMessage>>);

#[async_trait]
impl Publisher for Recorder {
    async fn publish(&self, m: &OutboxMessage) -> anyhow::Result<()> {
        self.0.lock().unwrap().push(m.clone());
        Ok(())
    }
}

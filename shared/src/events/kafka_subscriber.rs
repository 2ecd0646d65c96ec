//! The direct Kafka subscriber (`SUBSCRIBE_TRANSPORT=kafka`): a function reads its
//! subscriptions' topics itself, with no sidecar between Kafka and it, and plays daprd's
//! part of the subscription contract ([`super::subscription`]) in-process:
//!
//! - the records fetched together (up to [`DELIVERY_MAX_RECORDS`], waiting at most
//!   [`BULK_MAX_AWAIT_MS`] for a batch to fill) go to the subscription's route as one bulk
//!   delivery, the request daprd's bulk subscribe sends;
//! - each entry's status is acted on as daprd does with `components/resiliency.yaml`:
//!   SUCCESS is done; DROP (or a 404 from the route) writes the record to the dead-letter
//!   topic; RETRY is delivered again every [`REDELIVERY_INTERVAL`] until it is one of the
//!   others, and later records wait for it;
//! - a record's offset is stored only once its entry is done, and committed from there
//!   (periodically, and on stop), so what a stop or a crash interrupts is delivered again:
//!   at least once, which the consumers make exactly once by event id.
//!
//! The consumer groups are daprd's: the function's name for a `pubsub` subscription,
//! starting from the oldest record (`components/pubsub.yaml`); a group of the process's
//! own, from the newest record, for a `pubsub-realtime` one (`pubsub-realtime.yaml`).

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::ClientConfig;

use super::delivery::{deliver_bulk, Record};
use super::publisher::KafkaPublisher;
use super::subscription::{Delivery, Subscription, BULK_MAX_AWAIT_MS, BULK_MAX_MESSAGES};
use super::PUBSUB_REALTIME;

/// How long an entry answered RETRY waits before it is delivered again (the constant
/// policy of `components/resiliency.yaml`, for the same reason: never give up, since the
/// dead-letter topic is only for events that can never apply).
pub const REDELIVERY_INTERVAL: Duration = Duration::from_secs(2);

/// Records in one delivery at most: more than daprd's [`BULK_MAX_MESSAGES`], since here no
/// HTTP request carries them, and the consumers write a delivery's events together (one
/// transaction for many events is most of their throughput; docs/BENCHMARKS.md).
pub const DELIVERY_MAX_RECORDS: usize = 5 * BULK_MAX_MESSAGES as usize;

/// Where one subscription's records come from and go.
#[derive(Debug, Clone)]
pub struct Target {
    pub topic: String,
    /// The sidecar route that takes the deliveries.
    pub route: String,
    pub dead_letter_topic: String,
    /// The consumer group.
    pub group: String,
    /// Where a group with no committed offset starts: the newest record (a live view)
    /// rather than the oldest.
    pub from_newest: bool,
}

impl Target {
    /// `subscription` of the function `app`, read as daprd reads it for that app.
    pub fn of(app: &str, subscription: &Subscription) -> Self {
        let live = subscription.pubsub == PUBSUB_REALTIME;
        Target {
            topic: subscription.topic.into(),
            route: subscription.route.into(),
            dead_letter_topic: subscription.dead_letter_topic(),
            group: if live {
                format!("{app}-{}", uuid::Uuid::new_v4().simple())
            } else {
                app.into()
            },
            from_newest: live,
        }
    }
}

type Stop = Shared<BoxFuture<'static, ()>>;

/// A function's subscriptions read straight from Kafka and delivered to its sidecar routes.
pub struct Subscriber {
    consumers: Vec<(Target, StreamConsumer)>,
    /// The function's sidecar routes (`http::sidecar_app`), called in-process.
    app: Router,
    dead_letters: KafkaPublisher,
}

impl Subscriber {
    /// A consumer per target on `brokers` (`host:port[,host:port...]`), subscribed at
    /// once; the records flow once [`Subscriber::run`] runs. Connects lazily: a broker
    /// that is down delays the records, it does not fail this call.
    pub fn new(brokers: &str, targets: Vec<Target>, app: Router) -> anyhow::Result<Self> {
        let dead_letters = KafkaPublisher::new(brokers)?;
        let consumers = targets
            .into_iter()
            .map(|target| {
                let consumer: StreamConsumer = ClientConfig::new()
                    .set("bootstrap.servers", brokers)
                    .set("group.id", &target.group)
                    .set("client.id", format!("{}-{}", target.group, target.topic))
                    // Offsets are stored by hand once a record is done, and the stored ones
                    // are committed in the background and on close.
                    .set("enable.auto.commit", "true")
                    .set("enable.auto.offset.store", "false")
                    .set(
                        "auto.offset.reset",
                        if target.from_newest {
                            "latest"
                        } else {
                            "earliest"
                        },
                    )
                    .create()
                    .with_context(|| {
                        format!(
                            "create the Kafka consumer of {} for {brokers}",
                            target.topic
                        )
                    })?;
                consumer
                    .subscribe(&[&target.topic])
                    .with_context(|| format!("subscribe to {}", target.topic))?;
                Ok((target, consumer))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Subscriber {
            consumers,
            app,
            dead_letters,
        })
    }

    /// Consumes until `shutdown` resolves: the batch in hand is finished (or, while it
    /// waits to be delivered again, left for the next consumer), then the done records'
    /// offsets are committed.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let stop: Stop = shutdown.boxed().shared();
        let consuming = self.consumers.iter().map(|(target, consumer)| {
            consume(
                target,
                consumer,
                &self.app,
                &self.dead_letters,
                stop.clone(),
            )
        });
        futures::future::join_all(consuming).await;
    }
}

async fn consume(
    target: &Target,
    consumer: &StreamConsumer,
    app: &Router,
    dead_letters: &KafkaPublisher,
    mut stop: Stop,
) {
    tracing::info!(topic = %target.topic, group = %target.group, route = %target.route,
        "consuming straight from Kafka");
    loop {
        let first = tokio::select! {
            biased;
            () = &mut stop => break,
            received = consumer.recv() => received,
        };
        let first = match first {
            Ok(message) => message,
            Err(e) => {
                // librdkafka reconnects by itself; this only reports (e.g. a broker down).
                tracing::warn!(topic = %target.topic, error = %e, "Kafka consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut batch = vec![first];
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(BULK_MAX_AWAIT_MS.into());
        while batch.len() < DELIVERY_MAX_RECORDS {
            match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Ok(Ok(message)) => batch.push(message),
                Ok(Err(e)) => {
                    tracing::warn!(topic = %target.topic, error = %e, "Kafka consumer error");
                    break;
                }
                Err(_) => break,
            }
        }
        if !deliver_until_done(target, app, dead_letters, &batch, &mut stop).await {
            break;
        }
        for message in &batch {
            // Fails only when the partition was taken away meanwhile: its new owner
            // delivers the record again, which is harmless.
            if let Err(e) = consumer.store_offset_from_message(message) {
                tracing::debug!(topic = %target.topic, error = %e, "offset not stored");
            }
        }
    }
    drop(stop);
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(topic = %target.topic, error = %e, "no offsets committed on stop");
    }
    tracing::info!(topic = %target.topic, "stopped consuming");
}

/// Delivers `batch` until every record is done (applied or dead-lettered); false when
/// `stop` came while some still waited to be delivered again.
async fn deliver_until_done(
    target: &Target,
    app: &Router,
    dead_letters: &KafkaPublisher,
    batch: &[BorrowedMessage<'_>],
    stop: &mut Stop,
) -> bool {
    let records: Vec<Record> = batch
        .iter()
        .map(|m| Record {
            key: m.key().unwrap_or_default(),
            event: m.payload().unwrap_or_default(),
        })
        .collect();
    let mut pending: Vec<usize> = (0..batch.len()).collect();
    loop {
        let statuses = deliver_bulk(app, &target.route, &records, &pending).await;
        let mut again = Vec::new();
        for (&i, status) in pending.iter().zip(statuses) {
            let done = match status {
                Delivery::Success => true,
                Delivery::Drop => {
                    let record = &batch[i];
                    let sent = dead_letters
                        .send(
                            &target.dead_letter_topic,
                            record.key().unwrap_or_default(),
                            record.payload().unwrap_or_default(),
                        )
                        .await;
                    if let Err(e) = &sent {
                        tracing::warn!(topic = %target.dead_letter_topic, error = %format!("{e:#}"),
                            "dead-lettering failed; the record is delivered again");
                    }
                    sent.is_ok()
                }
                Delivery::Retry => false,
            };
            if !done {
                again.push(i);
            }
        }
        if again.is_empty() {
            return true;
        }
        pending = again;
        tokio::select! {
            biased;
            () = &mut *stop => return false,
            () = tokio::time::sleep(REDELIVERY_INTERVAL) => {}
        }
    }
}
